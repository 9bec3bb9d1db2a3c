"""The contact's language: resolved from the event, kept on the session, switched when the caller
asks or plainly speaks another, and every line the caller hears said in it."""

from __future__ import annotations

import copy
import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.data_files import load_envelope, load_tiers
from chalicelib.adapters.language_files import load_languages
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.session_codec import session_from_json, session_to_json
from chalicelib.adapters.turn_events import read_turn_event, render_fallback_answer, render_turn_answer
from chalicelib.domain.conversation import Source, SpeechPart, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.language import (
    LanguageChoice,
    detect_language,
    next_language,
    normalise_locale,
    resolve_language,
    turn_language,
)
from chalicelib.domain.model import ModelAnswer
from chalicelib.domain.phrases import ENGLISH, say_tokens
from chalicelib.domain.prompt import baseline_tokens
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.domain.session import PendingKind, Session
from chalicelib.domain.ssml import render_ssml
from chalicelib.errors import ConfigurationInvalidError, UtteranceEmptyError
from chalicelib.usecases.handle_turn import HandleTurn
from sim.calls import connect_event
from tests.conftest import ROOT, load_json
from tests.fakes import ManualClock, ScriptedModelClient
from tests.languages import with_french as languages_with_french

LANGUAGES_SHIPPED = load_languages()
ENVELOPE = load_envelope()
POLICY = DialoguePolicy(languages=LANGUAGES_SHIPPED)
SUPPORTED = ("en-US", "es-US")
PROFILES = LANGUAGES_SHIPPED.profiles
FIXTURE = ROOT / "tests" / "fixtures" / "languages" / "fr-CA"
LEX = "lex/lex-v2-codehook-input.from-connect.json"


def request(words: str, language: str | None = None, seq: int = 1) -> TurnRequest:
    return TurnRequest(contact_id="c-1", seq=seq, utterance=words, source=Source.CONNECT, language=language)


def turn(event: dict[str, Any], policy: DialoguePolicy = POLICY) -> tuple[HandleTurn, dict[str, Any]]:
    """``event`` through the whole handler path: read, the use case, the rendered answer."""
    clock = ManualClock()
    handle = HandleTurn(InMemorySessionStore(), clock, policy, ENVELOPE)
    read = read_turn_event(event)
    result = handle(read.request_within(1000), Deadline(started_at_ms=clock.monotonic_ms(), hard_ms=2_500))
    return handle, render_turn_answer(read, result)


def spanish_connect_event(words: str, **attributes: str) -> dict[str, Any]:
    event = connect_event("c-es", words, "1")
    event["Details"]["ContactData"]["LanguageCode"] = "es-US"
    event["Details"]["ContactData"]["Attributes"].update(attributes)
    return event


def lex_event(words: str, locale: str | None, **attributes: str) -> dict[str, Any]:
    event = copy.deepcopy(load_json(LEX))
    event["inputTranscript"] = words
    event["bot"]["localeId"] = locale
    event["sessionState"]["sessionAttributes"] = {"turn": "1", "contact_id": "c-lex", **attributes}
    return event


# --- the contact's language ---------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["es_US", "es-US", "es-us", "ES_us", " es-US "])
def test_every_spelling_of_a_supported_locale_is_kept(spelling: str) -> None:
    assert resolve_language(spelling, SUPPORTED, "en-US") == LanguageChoice("es-US", "language_from_event")


@pytest.mark.parametrize("missing", [None, "", "  ", "string", 42, "en_US_POSIX"])
def test_a_missing_or_shapeless_language_gives_the_default(missing: object) -> None:
    assert resolve_language(missing, SUPPORTED, "en-US") == LanguageChoice("en-US", "language_default")


def test_an_unsupported_language_gives_the_default_with_a_named_reason() -> None:
    assert resolve_language("fr_FR", SUPPORTED, "en-US") == LanguageChoice("en-US", "language_unsupported:fr-FR")


def test_a_bare_language_is_its_supported_locale() -> None:
    assert resolve_language("ES", SUPPORTED, "en-US").locale == "es-US"
    assert normalise_locale("es-419") == "es-419"


# --- switching ----------------------------------------------------------------------------


def test_a_requested_supported_language_switches() -> None:
    choice = next_language("en-US", requested="es_US", supported=SUPPORTED)
    assert choice == LanguageChoice("es-US", "language_switch:requested:es-US")


def test_a_requested_unsupported_language_keeps_the_current_one_and_says_so() -> None:
    choice = next_language("es-US", requested="fr-FR", supported=SUPPORTED)
    assert choice == LanguageChoice("es-US", "language_unsupported:fr-FR")


def test_a_request_wins_over_a_detection() -> None:
    choice = next_language("en-US", requested="en-US", detected="es-US", supported=SUPPORTED)
    assert choice.locale == "en-US" and not choice.recorded


def test_a_turn_plainly_in_another_supported_language_switches() -> None:
    detected = detect_language("Hola, quiero pagar la factura de mi cuenta, por favor", PROFILES)
    assert detected == "es-US"
    choice = next_language("en-US", detected=detected, supported=SUPPORTED)
    assert choice == LanguageChoice("es-US", "language_switch:detected:es-US")


def test_english_words_are_english() -> None:
    assert detect_language("I want to pay my bill, can you help me with that?", PROFILES) == "en-US"


@pytest.mark.parametrize(
    "words",
    ["sí", "si", "no", "ok", "okay", "4 4 8 1 2 9", "cuatro cuatro ocho", "José García", "María de la Cruz",
     "gracias", "yes please", "a", "me", "", "¿qué?", "sí, es correcto"],
)  # fmt: skip
def test_short_answers_digits_and_names_never_switch(words: str) -> None:
    assert detect_language(words, PROFILES) is None
    assert turn_language("en-US", None, words, LANGUAGES_SHIPPED).locale == "en-US"


def test_a_mixed_turn_is_no_language() -> None:
    assert detect_language("my account es la de mi esposa and I want the bill", PROFILES) is None


_ALL_WORDS = sorted({w for profile in PROFILES for w in profile.function_words})


@given(st.text(max_size=300))
def test_detecting_never_raises(text: str) -> None:
    assert detect_language(text, PROFILES) in (None, *SUPPORTED)


@given(
    st.sampled_from(_ALL_WORDS), st.sampled_from(["", "?", ".", "!", ","]), st.text(alphabet="0123456789 ", max_size=12)
)
def test_a_single_function_word_never_switches(word: str, mark: str, digits: str) -> None:
    words = f"{word}{mark} {digits}"
    assert detect_language(words, PROFILES) is None
    for current in SUPPORTED:
        assert turn_language(current, None, words, LANGUAGES_SHIPPED).locale == current


# --- kept on the session ------------------------------------------------------------------


def test_the_session_keeps_its_language_through_the_codec() -> None:
    session = replace(Session.new("c-1", 1_000), language="es-US", version=3)
    assert session_from_json(session_to_json(session), 3) == session


def test_a_session_stored_before_languages_reads_without_one_and_its_next_turn_takes_the_default() -> None:
    stored = json.loads(session_to_json(Session.new("c-1", 1_000)))
    del stored["language"]
    old = session_from_json(json.dumps(stored), 1)
    assert old.language is None
    outcome = answer_with_rules(old, request("hello"), 1, 2_000, POLICY)
    assert outcome.session.language == "en-US" and outcome.reply.text == ENGLISH.greeting


def test_the_first_turn_sets_the_language_and_later_event_languages_do_not_change_it() -> None:
    first = answer_with_rules(None, request("hola", "es-US"), 1, 1_000, POLICY)
    assert first.session.language == "es-US"
    second = answer_with_rules(first.session, request("4 4 8 1", "en-US", seq=2), 2, 2_000, POLICY)
    assert second.session.language == "es-US" and second.reply.text.startswith("Le escuché ")


def test_a_switch_is_recorded_in_the_turn_reasons_and_kept() -> None:
    first = answer_with_rules(None, request("hello", "en-US"), 1, 1_000, POLICY)
    switched = answer_with_rules(first.session, request("quiero saber cuánto es mi factura", seq=2), 2, 2_000,
                                 POLICY)  # fmt: skip
    assert "language_switch:detected:es-US" in switched.reply.reasons
    assert "language_switch:detected:es-US" in switched.record.reply.reasons
    assert switched.session.language == "es-US"
    assert switched.reply.text == LANGUAGES_SHIPPED.get("es-US").phrases.cannot_help_yet


def test_an_unsupported_event_language_is_answered_in_the_default_and_recorded() -> None:
    outcome = answer_with_rules(None, request("hello", "fr-FR"), 1, 1_000, POLICY)
    assert outcome.session.language == "en-US" and outcome.reply.text == ENGLISH.greeting
    assert "language_unsupported:fr-FR" in outcome.reply.reasons


def test_the_model_is_told_the_language() -> None:
    assert POLICY.prompt_for("es-US").endswith("\n\nAnswer in Spanish.")
    assert POLICY.prompt_for("es-US").startswith(POLICY.system_prompt)
    assert DialoguePolicy().prompt_for("es-US") == DialoguePolicy().system_prompt  # no language data: unchanged
    session = Session.new("c-1", 1)
    assert baseline_tokens(POLICY, session, "hola", "x", "es-US") > baseline_tokens(
        DialoguePolicy(), session, "hola", "x"
    )


# --- every line in the session's language, from data --------------------------------------


def test_the_shipped_english_lines_are_the_english_constants() -> None:
    assert LANGUAGES_SHIPPED.get("en-US").phrases == ENGLISH


def test_every_shipped_language_says_every_line() -> None:
    for locale in LANGUAGES_SHIPPED.supported:
        phrases = LANGUAGES_SHIPPED.get(locale).phrases
        assert all(getattr(phrases, f.name) for f in fields(phrases)), locale


def test_tokens_are_spoken_in_the_language() -> None:
    spanish = LANGUAGES_SHIPPED.get("es-US")
    assert say_tokens("Cargo a [CARD_1] ahora.", spanish.phrases) == "Cargo a la tarjeta que me dio ahora."
    assert say_tokens("I'll charge [CARD_1] now.") == "I'll charge the card you gave me now."


def test_ssml_is_marked_with_the_language() -> None:
    spanish = LANGUAGES_SHIPPED.get("es-US")
    parts = (SpeechPart("Le escuché "), SpeechPart("448129", say_as="digits"), SpeechPart(". ¿Es correcto?"))
    assert render_ssml(parts, spanish) == (
        '<speak><lang xml:lang="es-US">Le escuché <say-as interpret-as="digits">448129</say-as>'
        ". ¿Es correcto?</lang></speak>"
    )
    assert render_ssml(parts[:1]) == "<speak>Le escuché </speak>"  # no language: as before


# --- a Spanish turn, end to end ------------------------------------------------------------


def test_a_spanish_connect_turn_is_answered_in_spanish_with_its_voice() -> None:
    _, answer = turn(spanish_connect_event("4 4 8 1 2 9"))
    assert answer["prompt"] == (
        '<speak><lang xml:lang="es-US">Le escuché <say-as interpret-as="digits">448129</say-as>'
        ". ¿Es correcto?</lang></speak>"
    )
    assert (answer["language"], answer["voice"], answer["voice_engine"]) == ("es-US", "Lupe", "neural")


def test_the_flow_attribute_wins_over_the_contact_language() -> None:
    event = spanish_connect_event("hello", switchboard_language="en-US")
    _, answer = turn(event)
    assert answer["language"] == "en-US" and ENGLISH.greeting in answer["prompt"]


def test_a_spanish_lex_turn_is_answered_in_spanish() -> None:
    _, answer = turn(lex_event("4 4 8 1 2 9", "es_US"))
    content = answer["messages"][0]["content"]
    assert content.startswith('<speak><lang xml:lang="es-US">Le escuché ') and "¿Es correcto?" in content
    attributes = answer["sessionState"]["sessionAttributes"]
    assert (attributes["switchboard_language"], attributes["switchboard_voice"]) == ("es-US", "Lupe")


def test_an_english_connect_turn_is_unchanged_but_for_its_language_fields() -> None:
    _, answer = turn(connect_event("c-en", "4 4 8 1", "1"))
    assert answer["prompt"] == (
        '<speak><lang xml:lang="en-US">I heard <say-as interpret-as="digits">4481</say-as>'
        ". Is that right?</lang></speak>"
    )
    assert (answer["language"], answer["voice"]) == ("en-US", "Joanna")


def test_an_english_lex_turn_without_a_locale_is_english() -> None:
    _, answer = turn(lex_event("hello", None))
    assert ENGLISH.greeting in answer["messages"][0]["content"]
    assert answer["sessionState"]["sessionAttributes"]["switchboard_language"] == "en-US"


def test_the_safe_answer_is_in_the_events_language() -> None:
    read = read_turn_event(spanish_connect_event(""))
    answer = render_fallback_answer(read, UtteranceEmptyError("no words"))
    spanish = LANGUAGES_SHIPPED.get("es-US").phrases
    assert spanish.fallback_say_again in answer["prompt"] and answer["language"] == "es-US"


# --- a third language by data alone -------------------------------------------------------


@pytest.fixture
def with_french(tmp_path: Path) -> Path:
    return languages_with_french(tmp_path / "languages")


def test_a_third_language_is_a_folder(with_french: Path) -> None:
    languages = load_languages(with_french)
    assert languages.supported == ("en-US", "es-US", "fr-CA")
    policy = DialoguePolicy(languages=languages)
    event = connect_event("c-fr", "4 4 8 1", "1")
    event["Details"]["ContactData"]["LanguageCode"] = "fr-CA"
    _, answer = turn(event, policy)
    assert answer["prompt"].startswith('<speak><lang xml:lang="fr-CA">J&apos;ai entendu ')
    assert "Est-ce exact?" in answer["prompt"] and answer["voice"] == "Gabrielle"
    assert policy.prompt_for("fr-CA").endswith("Answer in French.")
    assert detect_language("Bonjour, je veux payer ma facture avec ma carte", languages.profiles) == "fr-CA"


def test_a_language_folder_that_misses_a_line_stops_the_loader(with_french: Path) -> None:
    phrases = with_french / "fr-CA" / "phrases.json"
    data = json.loads(phrases.read_text())
    del data["greeting"]
    phrases.write_text(json.dumps(data))
    with pytest.raises(ConfigurationInvalidError, match="fr-CA"):
        load_languages(with_french)


def test_a_language_that_does_not_speak_a_token_stops_the_loader(with_french: Path) -> None:
    phrases = with_french / "fr-CA" / "phrases.json"
    data = json.loads(phrases.read_text())
    del data["tokens"]["CARD"]
    phrases.write_text(json.dumps(data))
    with pytest.raises(ConfigurationInvalidError, match="CARD"):
        load_languages(with_french)


def test_a_folder_not_named_as_a_locale_stops_the_loader(with_french: Path) -> None:
    (with_french / "french").mkdir()
    with pytest.raises(ConfigurationInvalidError, match="locale"):
        load_languages(with_french)


def test_a_default_without_a_folder_stops_the_loader(with_french: Path) -> None:
    with pytest.raises(ConfigurationInvalidError, match="de-DE"):
        load_languages(with_french, default="de-DE")


# --- the models' turns ---------------------------------------------------------------------


def test_a_spanish_model_turn_is_told_spanish_and_its_question_is_understood() -> None:
    text = "Cerramos a las 6 de la tarde los sábados. ¿Hay algo más en lo que le pueda ayudar?"
    answer = ModelAnswer(model="gpt-6-luna", text=text, finish_reason="stop", input_tokens=300, output_tokens=20,
                         first_token_ms=400, total_ms=600)  # fmt: skip
    models = ScriptedModelClient([answer])
    clock, store = ManualClock(), InMemorySessionStore()
    handle = HandleTurn(store, clock, POLICY, ENVELOPE, models=models, tiers=load_tiers())
    words = "quiero saber a qué hora cierran el sábado, por favor"
    result = handle(request(words, "es-US"), Deadline(started_at_ms=clock.monotonic_ms(), hard_ms=2_500))
    assert models.messages[0][0].content.endswith("Answer in Spanish.")
    assert result.language.locale == "es-US" and result.record is not None and result.record.language == "es-US"
    stored = store.load("c-1", clock.now)
    assert stored is not None and stored.pending is not None and stored.pending.kind is PendingKind.ANYTHING_ELSE


def test_an_odd_flow_attribute_does_not_hide_the_contact_language() -> None:
    read = read_turn_event(spanish_connect_event("hola", switchboard_language="spanish please"))
    assert read.request is not None and read.request.language == "es-US"


def _utterances(path: Path) -> list[str]:
    return [json.loads(line)["utterance"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_no_utterance_of_the_english_router_set_is_taken_for_spanish() -> None:
    found = {u: detect_language(u, PROFILES) for u in _utterances(ROOT / "events" / "router" / "labelled.jsonl")}
    assert not [u for u, language in found.items() if language == "es-US"]
    assert sum(language == "en-US" for language in found.values()) > len(found) / 2


def test_no_utterance_of_the_spanish_router_set_is_taken_for_english() -> None:
    path = ROOT / "events" / "router" / "labelled.es-US.jsonl"
    found = {u: detect_language(u, PROFILES) for u in _utterances(path)}
    assert not [u for u, language in found.items() if language == "en-US"]
    assert sum(language == "es-US" for language in found.values()) > len(found) / 2


def test_asking_for_a_language_switches_the_call_and_answers_in_it() -> None:
    first = answer_with_rules(None, request("hello", "en-US"), 1, 1_000, POLICY)
    asked = answer_with_rules(first.session, request("um can we do this in spanish?", seq=2), 2, 2_000, POLICY)
    spanish = LANGUAGES_SHIPPED.get("es-US").phrases
    assert asked.reply.text == spanish.language_switched
    assert "language_switch:requested:es-US" in asked.reply.reasons
    assert asked.session.language == "es-US"
    back = answer_with_rules(asked.session, request("¿podemos seguir en inglés?", seq=3), 3, 3_000, POLICY)
    assert back.session.language == "en-US"
    assert back.reply.text == LANGUAGES_SHIPPED.get("en-US").phrases.language_switched
