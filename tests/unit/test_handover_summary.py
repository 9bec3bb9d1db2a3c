"""The summary an agent reads on a handover, in the call's language: its words are each
language's ``summary.json`` (English as it always read, Spanish for the Spanish queues, a third
language by data alone), checked when the languages are loaded."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.data_files import DATA, load_envelope
from chalicelib.adapters.handover_config import load_handover_policy
from chalicelib.adapters.language_files import load_languages, shipped_languages
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.domain.agent_summary import SummaryTemplate, build_summary
from chalicelib.domain.conversation import Action, Message, Reply, Role, Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.handover import CALLER_NUMBER_TOKEN, TOOL_UNAVAILABLE, HandoverRequest
from chalicelib.domain.language import ONLY_ENGLISH, Languages
from chalicelib.domain.session import ModelCall, Session, ToolFact, TurnRecord
from chalicelib.domain.tools import ToolCallRecord
from chalicelib.errors import ConfigurationInvalidError
from chalicelib.usecases.handle_turn import HandleTurn
from chalicelib.usecases.handover import SUMMARY_ATTRIBUTE, PrepareHandover
from tests.conftest import ROOT
from tests.fakes import InMemoryContactAttributes, ManualClock
from tests.languages import with_french as languages_with_french

HANDOVER = load_handover_policy(DATA / "handover.json")
SHIPPED = shipped_languages()
ENVELOPE = load_envelope()
FRENCH = ROOT / "tests" / "fixtures" / "languages" / "fr-CA"
FRAUD_CALL = {
    "en-US": ("my account number is 5 5 1 2 0 9", "yes", "someone used my card, it's fraud"),
    "es-US": ("mi número de cuenta es 5 5 1 2 0 9", "sí", "alguien usó mi tarjeta, es un fraude"),
    "fr-CA": ("mon numéro de compte est 5 5 1 2 0 9", "oui", "quelqu'un a utilisé ma carte, c'est une fraude"),
}


def fraud_call(store: InMemorySessionStore, clock: ManualClock, language: str | None, languages: Languages = SHIPPED,
               says: tuple[str, ...] = FRAUD_CALL["en-US"]) -> HandoverRequest:  # fmt: skip
    """A call in ``language`` that gives its account and reports a fraud: the handover it asks for."""
    handle = HandleTurn(store, clock, DialoguePolicy(handover=HANDOVER, languages=languages), ENVELOPE)
    contact = f"c-{language or 'none'}"
    for seq, words in enumerate(says, 1):
        turn = TurnRequest(contact_id=contact, seq=seq, utterance=words, source=Source.CONNECT,
                           caller_number="+15555550100", language=language)  # fmt: skip
        result = handle(turn, Deadline(started_at_ms=clock.monotonic_ms(), hard_ms=2_500))
    assert result.reply.action is Action.HANDOVER
    session = store.load(contact, clock.now)
    assert session is not None
    return HandoverRequest(contact, result.seq, "human_only_topic", "FraudTeam", "fraud", CALLER_NUMBER_TOKEN,
                           language=session.language if language else None)  # fmt: skip


def template(locale: str) -> SummaryTemplate:
    """The shipped summary template of ``locale`` (any spelling)."""
    found = SHIPPED.get(locale).summary
    assert found is not None
    return found


def summary_of(request: HandoverRequest, store: InMemorySessionStore, clock: ManualClock,
               languages: Languages = SHIPPED) -> str:  # fmt: skip
    attributes = InMemoryContactAttributes()
    prepared = PrepareHandover(store, attributes, clock, HANDOVER, languages)(request)
    assert attributes.attributes[request.contact_id][SUMMARY_ATTRIBUTE] == prepared.summary
    return prepared.summary


# --- English, as it always read --------------------------------------------------------------


def test_an_english_handover_reads_as_the_english_summary_always_did() -> None:
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = fraud_call(store, clock, None)
    assert summary_of(wanted, store, clock) == (
        'Caller: name unknown, account **1209. Asked: "yes" / "someone used my card, it\'s fraud". '
        "Tried: 3 turns, tiers 0, no tools; handed over: human only topic (fraud). Sentiment: unknown. "
        "Next: verify identity, then follow the fraud procedure (block the card or account if asked)."
    )


def test_the_english_template_words_names_tools_and_model_trouble_as_before() -> None:
    facts = (ToolFact("lookup", json.dumps({"first_name": "Ana", "account_id": "998877"})),)
    session = Session("c", 1, 0, 0, tool_facts=facts, caller_sentiments=("NEUTRAL", "POSITIVE"))
    calls = (ModelCall(1, "m", "timeout", "routed"), ModelCall(2, "m", "ok", "escalated"))
    tools = (ToolCallRecord("a", "read", "ok"), ToolCallRecord("b", "write", "refused:x"))
    turn = TurnRecord("c", 1, "d", "x", Reply(Action.SPEAK, (), "x", tier=2), "rules", 0, model_calls=calls,
                      tool_calls=tools)  # fmt: skip
    summary = build_summary(session, (turn,), TOOL_UNAVAILABLE, summary=template("en-US"))
    assert summary.text == (
        "Caller: Ana, account **8877. Asked: nothing recorded. Tried: 1 turns, tiers 1/2, tools: a ok, "
        "b refused:x, 1 failed model calls, 1 escalations or degradations; handed over: tool unavailable. "
        "Sentiment: positive. Next: complete the request by hand; the back-office system did not answer."
    )


def test_a_handover_in_a_language_the_stage_does_not_speak_is_summarised_in_the_default() -> None:
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = fraud_call(store, clock, None)
    for language in ("de-DE", None):
        summary = summary_of(replace(wanted, language=language), store, clock)
        assert summary.startswith("Caller: name unknown, account **1209.")


# --- Spanish, for the Spanish queues ---------------------------------------------------------


def test_a_spanish_handover_is_summarised_in_spanish_with_the_callers_words_as_said() -> None:
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = fraud_call(store, clock, "es-US", says=FRAUD_CALL["es-US"])
    assert wanted.language == "es-US"
    assert summary_of(wanted, store, clock) == (
        'Cliente: nombre desconocido, cuenta **1209. Pidió: "sí" / "alguien usó mi tarjeta, es un fraude". '
        "Se intentó: 3 turnos, niveles 0, sin herramientas; transferido: tema solo para personas (fraude). "
        "Sentimiento: desconocido. Siguiente: verificar la identidad y seguir el procedimiento de fraude "
        "(bloquear la tarjeta o la cuenta si el cliente lo pide)."
    )


def test_the_spanish_template_words_sentiment_and_a_single_turn() -> None:
    history = (Message(Role.CALLER, "quiero hablar con {alguien}", 1),)
    session = Session("c", 1, 0, 0, history=history, negative_sentiment=True)
    turn = TurnRecord("c", 1, "d", "x", Reply(Action.HANDOVER, (), "x"), "rules", 0)
    summary = build_summary(session, (turn,), "caller_asked", summary=template("es_US"))
    assert 'Pidió: "quiero hablar con {alguien}".' in summary.text  # a brace said is a brace kept
    tried = "Se intentó: 1 turno, niveles 0, sin herramientas; transferido: el cliente pidió una persona."
    assert tried in summary.text
    assert "Sentimiento: negativo." in summary.text


# --- a third language, and the files refused --------------------------------------------------


@pytest.fixture
def with_french(tmp_path: Path) -> Path:
    return languages_with_french(tmp_path / "languages")


def test_a_third_languages_summary_is_its_folders(with_french: Path) -> None:
    languages = load_languages(with_french)
    clock, store = ManualClock(), InMemorySessionStore()
    wanted = fraud_call(store, clock, "fr-CA", languages, FRAUD_CALL["fr-CA"])
    assert wanted.language == "fr-CA"
    assert summary_of(wanted, store, clock, languages) == (
        'Client : nom inconnu, compte **1209. Demande : "oui" / "quelqu\'un a utilisé ma carte, c\'est une fraude". '
        "Essayé : 3 tours, niveaux 0, aucun outil ; transféré : sujet réservé à un agent (fraude). "
        "Sentiment : inconnu. Prochaine étape : vérifier l'identité, puis suivre la procédure de fraude "
        "(bloquer la carte ou le compte si le client le demande)."
    )


def _change(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update({key: value})


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.pop("text"), "text"),
        (_change("text", "Client : {who}. Demande : {asked}."), "missing placeholders"),
        (_change("account", "compte {number}"), "unknown placeholders"),
        (_change("turns", "{turns} tours, niveaux {tiers"), "turns"),
        (_change("tools", ", outils : {tools!r}"), "bare"),
        (lambda d: d["reasons"].pop("caller_asked"), "caller_asked"),
        (lambda d: d["topics"].update(weather="météo"), "weather"),
        (lambda d: d["sentiments"].pop("mixed"), "mixed"),
        (lambda d: d["next_steps"].pop("fraud"), "fraud"),
        (_change("name_unknown", ""), "name_unknown"),
        (_change("greeting", "Bonjour"), "greeting"),
    ],
)
def test_a_summary_file_that_is_not_a_valid_template_stops_the_loader(
    with_french: Path, change: Callable[[dict[str, Any]], None], match: str
) -> None:
    path = with_french / "fr-CA" / "summary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigurationInvalidError, match=match) as refused:
        load_languages(with_french)
    assert "fr-CA" in str(refused.value)


def test_a_language_without_a_summary_file_stops_the_loader(with_french: Path) -> None:
    (with_french / "fr-CA" / "summary.json").unlink()
    with pytest.raises(ConfigurationInvalidError, match=r"fr-CA.*summary\.json"):
        load_languages(with_french)


def test_the_summary_task_refuses_to_start_with_a_language_that_has_no_template() -> None:
    with pytest.raises(ConfigurationInvalidError, match="en-US"):
        PrepareHandover(InMemorySessionStore(), InMemoryContactAttributes(), ManualClock(), HANDOVER, ONLY_ENGLISH)
