"""``RecordedCall.language``: optional, ``en-US`` by default, a BCP-47 tag as Connect names one;
a file with a bad tag is refused by ``load_call`` with a named error that names the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sim.calls import DEFAULT_LANGUAGE, RecordedCall, RecordedCallInvalidError, connect_event, load_call

CALL = {"call": "c", "description": "d", "contact_id": "c-1", "turns": [{"at_ms": 0, "caller": "hola"}]}


def test_a_call_without_a_language_is_us_english() -> None:
    assert RecordedCall.model_validate(CALL).language == DEFAULT_LANGUAGE == "en-US"


@pytest.mark.parametrize("tag", ["es-US", "en-US", "es-MX", "es-419", "fil-PH"])
def test_a_bcp47_language_tag_is_taken(tag: str) -> None:
    assert RecordedCall.model_validate({**CALL, "language": tag}).language == tag


@pytest.mark.parametrize("tag", ["es_US", "spanish", "ES-us", "es", "es-US-x", "", "e-US"])
def test_anything_else_is_refused(tag: str) -> None:
    with pytest.raises(ValidationError, match="language"):
        RecordedCall.model_validate({**CALL, "language": tag})


def test_a_file_with_a_bad_language_is_a_named_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "27-es-bad.json"
    path.write_text(json.dumps({**CALL, "language": "es_US"}))
    with pytest.raises(RecordedCallInvalidError, match=r"(?s)27-es-bad\.json.*language.*'es_US' is no BCP-47"):
        load_call(path)


def test_a_file_that_is_not_json_is_the_same_named_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"call": ')
    with pytest.raises(RecordedCallInvalidError, match=r"broken\.json"):
        load_call(path)


def test_a_spanish_call_file_loads_with_its_accents(tmp_path: Path) -> None:
    path = tmp_path / "es.json"
    turns = [{"at_ms": 0, "caller": "¿a qué hora abren el sábado?"}]
    path.write_text(json.dumps({**CALL, "language": "es-US", "turns": turns}, ensure_ascii=False), encoding="utf-8")
    call = load_call(path)
    assert (call.language, call.turns[0].caller) == ("es-US", "¿a qué hora abren el sábado?")


def test_a_turn_event_for_a_spanish_contact_has_its_language_code() -> None:
    assert connect_event("c-1", "hola", None, language="es-US")["Details"]["ContactData"]["LanguageCode"] == "es-US"
    assert connect_event("c-1", "hi", None)["Details"]["ContactData"]["LanguageCode"] == "en-US"
