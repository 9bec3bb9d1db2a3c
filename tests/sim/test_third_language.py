"""A third language added by data alone, and a call replayed in it: French (Canada) is a folder
(``tests/fixtures/languages/fr-CA``: its lines, voice, rules' and router's words) copied beside
the shipped ``data/languages/`` ones; no Python changes. The call's turns go through the deployed
turn function (embedded AWS, handlers in process) as Amazon Connect sends them, with the contact's
``LanguageCode`` ``fr-CA``, and come back in French, with Polly's French voice and ``xml:lang``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters import language_files
from sim.calls import connect_event, load_call
from sim.harness import Harness
from tests.conftest import ROOT
from tests.languages import with_french as languages_with_french

FIXTURE = ROOT / "tests" / "fixtures" / "languages" / "fr-CA"


@pytest.fixture(scope="module")
def with_french(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shipped languages and the fixture's French, as a data folder would hold them."""
    root = languages_with_french(tmp_path_factory.mktemp("data") / "languages")
    shipped = language_files.LANGUAGES
    language_files.LANGUAGES = root
    language_files.shipped_languages.cache_clear()
    try:
        yield root
    finally:
        language_files.LANGUAGES = shipped
        language_files.shipped_languages.cache_clear()


def test_a_call_in_a_language_added_by_data_alone_is_answered_in_it(with_french: Path) -> None:
    call = load_call(FIXTURE / "call.json")
    assert call.language == "fr-CA"
    answers = []
    with Harness() as harness:
        turn_attribute: str | None = None
        for turn in call.turns:
            event = connect_event(call.contact_id, turn.caller, turn_attribute, language=call.language)
            answer = harness.invoke("turn", event)
            answers.append(answer)
            turn_attribute = answer.get("turn")
    greeting, heard, noted, handover = answers
    assert all(a["language"] == "fr-CA" and a["voice"] == "Gabrielle" for a in answers)
    assert all(a["prompt"].startswith('<speak><lang xml:lang="fr-CA">') for a in answers)
    assert "Bonjour" in greeting["prompt"]
    assert "J&apos;ai entendu" in heard["prompt"] and "448129" in heard["prompt"] and "Est-ce exact?" in heard["prompt"]
    assert "bien noté" in noted["prompt"]
    assert handover["action"] == "handover" and "Je vous transfère" in handover["prompt"]
