"""The redactor reads the call's language: Spanish digit words ("cuatro uno uno uno", "o" for
zero between digits, "cuarenta y cuatro") and Spanish cues ("tarjeta", "código de seguridad",
"seguro social") give the same tokens as the English; an English call reads only English; a
text of no known language (a log line) reads every language; each language is data
(``languages/<locale>/rules.json`` numbers, ``languages/<locale>/redaction.json`` cues)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.language_files import LANGUAGES
from chalicelib.adapters.redaction_policy import DATA, load_redaction_policy
from chalicelib.domain.caller_data import protect_turn, redaction_language
from chalicelib.domain.conversation import Source, TurnRequest
from chalicelib.domain.number_checks import luhn_check_digit
from chalicelib.domain.redaction import RedactionContext, Redactor
from chalicelib.domain.redaction_policy import ANY_LANGUAGE
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.domain.session import Session
from chalicelib.domain.transcription import TranscriptResult, protect_result
from chalicelib.errors import ConfigurationInvalidError
from chalicelib.observability import ScrubbingFormatter

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_redaction_policy()
REDACTOR = Redactor(POLICY, b"test-fingerprint-key-32-bytes-00")
ES, EN = RedactionContext(language="es-US"), RedactionContext(language="en-US")
SPANISH_NUMBERS = json.loads((LANGUAGES / "es-US" / "rules.json").read_text(encoding="utf-8"))["numbers"]
SPANISH_DIGITS = {str(d): w for w, d in SPANISH_NUMBERS["units"].items()}  # the data's own words
FR_FIXTURE = ROOT / "tests" / "fixtures" / "languages" / "fr-CA"


def spanish(digits: str) -> str:
    return " ".join(SPANISH_DIGITS[d] for d in digits)


def redacted(text: str, context: RedactionContext = ES) -> str:
    return REDACTOR.redact(text, RedactionState("c-1"), context).text


# Each Spanish reading and the English one it must redact to the same text.
SAME_AS_ENGLISH = [
    ("mi tarjeta es cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno",
     "my card is four one one one, one one one one, one one one one, one one one one"),
    ("vence doce veintiocho", "it expires twelve twenty eight"),
    ("el código de seguridad es uno dos tres", "the security code is one two three"),
    ("mi seguro social es uno dos tres, cuatro cinco, seis siete ocho nueve",
     "my social security is one two three, four five, six seven eight nine"),
    ("el número de ruta es cero dos uno cero cero cero cero dos uno",
     "the routing number is zero two one zero zero zero zero two one"),
    ("mi cuenta de cheques es uno dos tres cuatro cinco seis siete ocho",
     "my checking account is one two three four five six seven eight"),
    ("mi teléfono es dos uno dos, cinco cinco cinco, cero uno cuatro dos",
     "my phone is two one two, five five five, oh one four two"),
]  # fmt: skip


def test_a_spanish_card_expiry_and_code_are_the_tokens_an_english_one_gets() -> None:
    said = ("mi tarjeta es cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno, vence doce "
            "veintiocho, el código de seguridad es uno dos tres")  # fmt: skip
    redaction = REDACTOR.redact(said, RedactionState("c-1"), ES)
    assert redaction.text == "mi tarjeta es [CARD_1], vence [EXPIRY_1], el código de seguridad es [CVV_1]"
    assert redaction.vault_items() == {"[CARD_1]": "4111111111111111", "[EXPIRY_1]": "12/28"}


@pytest.mark.parametrize(("spoken", "english"), SAME_AS_ENGLISH)
def test_each_kind_read_in_spanish_is_redacted_as_in_english(spoken: str, english: str) -> None:
    card = RedactionContext(prompt="¿Cuál es el número de la tarjeta?", language="es-US")
    english_card = RedactionContext(prompt="What's the card number?", language="en-US")
    mine, theirs = (
        REDACTOR.redact(spoken, RedactionState("c-1"), card),
        REDACTOR.redact(english, RedactionState("c-1"), english_card),
    )
    assert [(e.kind, e.token, e.value) for e in mine.entities] == [(e.kind, e.token, e.value) for e in theirs.entities]
    assert mine.entities and not re.search(r"\b(?:uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|cero)\b", mine.text)


def test_the_social_security_number_is_redacted_with_its_spanish_cue() -> None:
    assert redacted("mi seguro social es uno dos tres, cuatro cinco, seis siete ocho nueve") == (
        "mi seguro social es [SSN_1]"
    )


def test_numbers_read_in_pairs_with_y_are_read_whole() -> None:
    assert (
        redacted("mi teléfono es dos uno dos, cinco cinco cinco, cero uno, cuarenta y dos")
        == "mi teléfono es [PHONE_1]"
    )


def test_o_between_digits_is_zero_and_elsewhere_is_or() -> None:
    said = "el número de ruta es cero dos uno o o o o dos uno"  # 021000021 passes the ABA check
    assert redacted(said) == "el número de ruta es [ROUTING_1]"
    assert redacted("¿es la tarjeta de débito o la de crédito?") == "¿es la tarjeta de débito o la de crédito?"


def test_spanish_hesitations_do_not_break_a_card_apart() -> None:
    said = "mi tarjeta es cuatro uno uno uno, eh, uno uno uno uno, este, uno uno uno uno, uno uno uno uno"
    assert redacted(said) == "mi tarjeta es [CARD_1]"


def test_a_spanish_correction_makes_one_number_of_both_readings() -> None:
    said = ("mi tarjeta es cuatro uno uno uno, uno uno uno, perdón, cuatro uno uno uno, uno uno uno uno, "
            "uno uno uno uno, uno uno uno uno")  # fmt: skip
    redaction = REDACTOR.redact(said, RedactionState("c-1"), ES)
    assert redaction.text == "mi tarjeta es [CARD_1]" and redaction.vault_items() == {"[CARD_1]": "4111111111111111"}


def test_cues_are_read_with_or_without_accents() -> None:
    said = "el codigo de seguridad de la tarjeta es siete tres siete"
    assert redacted(said) == "el codigo de seguridad de la tarjeta es [CVV_1]"


def test_a_spanish_question_before_is_the_context_of_a_bare_number() -> None:
    asked = RedactionContext(prompt="¿Me da el código de seguridad de la tarjeta?", language="es-US")
    assert REDACTOR.redact("siete tres siete", RedactionState("c-1"), asked).text == "[CVV_1]"


@pytest.mark.parametrize(
    ("said", "redacted_text"),
    [
        ("mi fecha de nacimiento es doce de marzo de mil novecientos ochenta", "mi fecha de nacimiento es [DOB_1]"),
        ("nací el 12 de marzo de 1980", "nací [DOB_1]"),
        ("nací el primero de mayo del ochenta y cinco", "nací [DOB_1]"),
    ],
)
def test_a_spanish_date_of_birth_is_redacted(said: str, redacted_text: str) -> None:
    assert redacted(said) == redacted_text


@pytest.mark.parametrize(
    ("said", "expiry"),
    [
        ("la tarjeta vence en abril de dos mil veintisiete", "04/27"),
        ("la tarjeta vence doce dos mil veintiocho", "12/28"),
        ("la tarjeta vence doce veintiocho", "12/28"),
    ],
)
def test_a_spanish_expiry_is_the_token_an_english_one_gets(said: str, expiry: str) -> None:
    redaction = REDACTOR.redact(said, RedactionState("c-1"), ES)
    assert redaction.text in {"la tarjeta vence [EXPIRY_1]", "la tarjeta vence en [EXPIRY_1]"}
    assert redaction.vault_items() == {"[EXPIRY_1]": expiry}


def test_a_date_with_no_birth_or_expiry_around_it_is_kept() -> None:
    assert redacted("quiero pagar el doce de marzo") == "quiero pagar el doce de marzo"


def test_a_spoken_spanish_email_address_is_redacted() -> None:
    assert redacted("mi correo es juan punto pérez arroba gmail punto com") == "mi correo es [EMAIL_1]"
    assert redacted("mi correo es juan punto pérez arroba gmail punto com", EN).endswith("gmail punto com")


def test_a_spanish_call_reads_english_digits_too() -> None:
    said = "mi tarjeta es four one one one one one one one one one one one one one one one"
    assert redacted(said) == "mi tarjeta es [CARD_1]"


def test_an_english_call_reads_no_spanish_words() -> None:
    english = POLICY.reading("en-US").digits
    assert not {"uno", "dos", "once", "cero"} & english.words
    said = "I called once, then twice"
    assert redacted(said, EN) == said


def test_a_text_of_no_language_reads_every_language() -> None:
    said = "mi seguro social es uno dos tres, cuatro cinco, seis siete ocho nueve"
    assert REDACTOR.scrub(said) == "mi seguro social es [SSN]"
    assert POLICY.reading(ANY_LANGUAGE) is POLICY.reading("xx-YY")  # a language it does not know: every one


def test_lex_locales_name_the_same_language() -> None:
    assert POLICY.reading("es_US") is POLICY.reading("es-US")


def test_a_log_line_quoting_spanish_caller_data_is_scrubbed() -> None:
    record = logging.LogRecord(
        "t", logging.ERROR, __file__, 1, "no pude: mi tarjeta es %s", (spanish("4111" * 4),), None
    )
    line = ScrubbingFormatter().format(record)
    assert "cuatro" not in line and "uno" not in line  # the argument is scrubbed alone: [NUMBER], no cue


def test_a_spanish_turn_is_redacted_in_the_calls_language() -> None:
    session = replace(Session.new("c-1", 0), language="es-US")
    request = TurnRequest("c-1", 1, f"mi seguro social es {spanish('123456789')}", Source.CONNECT)
    turn = protect_turn(REDACTOR, request, session, language=redaction_language(session, "es-US"))
    assert turn.request.utterance == "mi seguro social es [SSN_1]"


def test_a_turn_that_switches_language_is_read_in_every_language() -> None:
    session = replace(Session.new("c-1", 0), language="en-US")
    assert redaction_language(session, "es-US") == ANY_LANGUAGE
    assert redaction_language(session, "en-US") == "en-US"


def test_a_spanish_partial_ending_in_a_number_being_read_hides_it() -> None:
    partial = TranscriptResult("r1", "AUDIO_FROM_CUSTOMER", "mi tarjeta es cuatro uno uno uno, uno uno", True, 0, 900)
    protected = protect_result(REDACTOR, partial, RedactionState("c-1"), ES)
    assert protected.result.text == "mi tarjeta es [NUMBER]" and protected.caller_data


def test_the_policy_reads_every_shipped_language_the_base_first() -> None:
    assert POLICY.locales == ("en-US", "es-US")


# --- the data: one loader, refusing bad files


def _languages(tmp_path: Path) -> Path:
    root = tmp_path / "languages"
    shutil.copytree(LANGUAGES, root)
    return root


def _write_cues(root: Path, locale: str, cues: object) -> None:
    (root / locale / "redaction.json").write_text(json.dumps(cues, ensure_ascii=False), encoding="utf-8")


def test_a_third_language_is_added_by_data_alone(tmp_path: Path) -> None:
    root = _languages(tmp_path)
    shutil.copytree(FR_FIXTURE, root / "fr-CA")
    _write_cues(root, "fr-CA", {"contexts": {"card": ["carte", "carte de crédit"], "ssn": ["assurance sociale"]}})
    policy = load_redaction_policy(DATA / "redaction.json", root)
    redactor = Redactor(policy, b"k" * 32)
    said = "ma carte de crédit est quatre un un un un un un un un un un un un un un un"
    assert policy.locales == ("en-US", "es-US", "fr-CA")
    assert redactor.redact(said, RedactionState("c-1"), RedactionContext(language="fr-CA")).text == (
        "ma carte de crédit est [CARD_1]"
    )


@pytest.mark.parametrize(
    "cues",
    [
        {"contexts": {"not_a_context": ["tarjeta"]}},
        {"contexts": {"card": ["Tarjeta"]}},
        {"contexts": {"card": [""]}},
        {"contexts": {"card": ["tarjeta"]}, "extra": 1},
        {"contexts": {"card": "tarjeta"}},
        {"contexts": {}, "email": {"at": [], "dots": ["punto"]}},
        {"contexts": {}, "email": {"at": ["arroba"], "dots": ["punto"], "symbols": {"guion": "--"}}},
        {"contexts": {}, "email": {"at": ["Arroba"], "dots": ["punto"]}},
        {"contexts": {}, "dates": {"months": {"enero": 1}, "linkers": ["de"]}},
        {"contexts": {}, "dates": {"months": {f"m{chr(97 + k)}": 1 for k in range(12)}, "linkers": ["de"]}},
    ],
)
def test_a_bad_language_cue_file_is_refused(tmp_path: Path, cues: object) -> None:
    root = _languages(tmp_path)
    _write_cues(root, "es-US", cues)
    with pytest.raises(ConfigurationInvalidError):
        load_redaction_policy(DATA / "redaction.json", root)


def test_a_language_without_its_cue_file_is_refused(tmp_path: Path) -> None:
    root = _languages(tmp_path)
    (root / "es-US" / "redaction.json").unlink()
    with pytest.raises(ConfigurationInvalidError, match="es-US"):
        load_redaction_policy(DATA / "redaction.json", root)


def test_a_base_language_without_a_folder_is_refused(tmp_path: Path) -> None:
    root = _languages(tmp_path)
    shutil.rmtree(root / "en-US")
    with pytest.raises(ConfigurationInvalidError, match="en-US"):
        load_redaction_policy(DATA / "redaction.json", root)


# --- properties: a Spanish card or SSN read out never survives

FILLERS = ("eh", "este", "eh,", "este,")
WORD_DIGIT = {w: d for d, w in SPANISH_DIGITS.items()}


@st.composite
def cards(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from("3456")) + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=14, max_size=14))
    )
    return body + luhn_check_digit(body)


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    return f"{area:03d}{draw(st.integers(1, 99)):02d}{draw(st.integers(1, 9999)):04d}"


@st.composite
def read_out(draw: st.DrawFn, digits: str) -> str:
    """``digits`` read one by one in Spanish words, with pauses (commas) and hesitations between
    random groups; a zero inside a group may be "o"."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=5)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    said: list[str] = []
    for k, group in enumerate(groups):
        if k:
            said[-1] += draw(st.sampled_from(("", ",")))
            said.extend(draw(st.lists(st.sampled_from(FILLERS), max_size=1)))
        for i, d in enumerate(group):
            inner = d == "0" and 0 < i < len(group) - 1
            said.append("o" if inner and draw(st.booleans()) else SPANISH_DIGITS[d])
    return " ".join(said)


def digits_left(text: str) -> str:
    """The digits still in ``text``, as numerals or Spanish digit words, in order."""
    found = []
    for word in re.findall(r"[^\W_]+", text.lower()):
        found.append(word if word.isdigit() else WORD_DIGIT.get(word, " "))
    return "".join(found)


def _assert_gone(digits: str, text: str) -> None:
    left = digits_left(text)
    assert not any(digits[i : i + 4] in left for i in range(len(digits) - 3)), text


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_spanish_card_read_digit_by_digit_never_survives(data: st.DataObject) -> None:
    card = data.draw(cards())
    said = f"mi tarjeta es {data.draw(read_out(card))}"
    for context in (ES, RedactionContext()):
        _assert_gone(card, redacted(said, context))
        _assert_gone(card, REDACTOR.scrub(said, context))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_spanish_social_security_number_never_survives(data: st.DataObject) -> None:
    ssn = data.draw(ssns())
    said = f"mi seguro social es {data.draw(read_out(ssn))}"
    for context in (ES, RedactionContext()):
        _assert_gone(ssn, redacted(said, context))
        _assert_gone(ssn, REDACTOR.scrub(said, context))
