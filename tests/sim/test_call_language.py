"""A recorded call's ``language`` reaches the events as a real contact's does: Connect's
``ContactData.LanguageCode``, Lex's ``bot.localeId`` (``es_US``) of the bot's locale for it, and
it stays the language the call started in when the caller switches (fast: no embedded AWS; the
checked-in template, whose bot has an en_US and an es_US locale). A caller who switches
language mid-call is the flow's: it sets the contact's language from the turn's answer
(tests/sim/test_connect_flow.py)."""

from __future__ import annotations

import pytest

from sim.calls import DEFAULT_LANGUAGE, CallTurn, RecordedCall, RecordedCaller, load_call, recorded_contact
from sim.connect_instance import SimulatedConnect, connect_for
from sim.lex_bot import lex_locale
from tests.conftest import ROOT
from tests.sim.test_connect_flow import OUTPUTS, PARAMETERS, Turns

CALL_FOLDERS = (ROOT / "events" / "calls",)
TURN_PATHS = {"connect": "InvokeLambda", "lex": "LexCodeHook"}


@pytest.fixture(scope="module")
def bilingual() -> SimulatedConnect:
    return connect_for(OUTPUTS, PARAMETERS, ["turn", "transcriber"])  # the shipped bot: en_US and es_US


def spanish_call(format_: str = "connect") -> RecordedCall:
    turns = [CallTurn(at_ms=0, caller="hola"), CallTurn(at_ms=4000, caller="¿a qué hora abren el sábado?")]
    return RecordedCall(call="es", description="d", format=format_, contact_id="c-es-1", language="es-US", turns=turns)  # type: ignore[arg-type]


def recorded_calls(language: str) -> list[RecordedCall]:
    """The recorded calls in events/calls that start in ``language``."""
    calls = [load_call(path) for folder in CALL_FOLDERS for path in sorted(folder.glob("*.json"))]
    return [call for call in calls if call.language == language]


def test_lex_names_a_language_locale_with_an_underscore() -> None:
    assert (lex_locale("es-US"), lex_locale("en-US")) == ("es_US", "en_US")


def test_the_contact_of_a_recorded_call_has_its_language() -> None:
    contact = recorded_contact(spanish_call())
    assert (contact.contact_id, contact.language) == ("c-es-1", "es-US")
    assert recorded_contact(spanish_call(), "run-2").contact_id == "run-2"
    english = RecordedCall(call="en", description="d", contact_id="c-en", turns=[CallTurn(at_ms=0, caller="hi")])
    assert recorded_contact(english).language == DEFAULT_LANGUAGE == "en-US"


def test_connect_events_of_a_spanish_call_carry_its_language_code(bilingual: SimulatedConnect) -> None:
    call = spanish_call("connect")
    turns = Turns(("speak", "<speak>Abrimos a las nueve.</speak>"), ("speak", "<speak>¿Algo más?</speak>"))
    bilingual.play(recorded_contact(call), RecordedCaller(call), "InvokeLambda", turns)
    events = [c.event for c in turns.calls if c.function == "turn"]
    assert len(turns.turn_calls()) == 2
    assert {e["Details"]["ContactData"]["LanguageCode"] for e in events} == {"es-US"}


def test_lex_code_hook_events_of_a_spanish_call_name_the_es_us_locale(bilingual: SimulatedConnect) -> None:
    call = spanish_call("lex")
    turns = Turns(("speak", "<speak>Abrimos a las nueve.</speak>"), ("speak", "<speak>¿Algo más?</speak>"))
    report = bilingual.play(recorded_contact(call), RecordedCaller(call), "LexCodeHook", turns)
    hooked = [c.event for c in turns.turn_calls()]
    assert [e["inputTranscript"] for e in hooked] == ["hola", "¿a qué hora abren el sábado?"]
    assert {e["bot"]["localeId"] for e in hooked} == {"es_US"}
    assert not [why for _, _, why in report.errors if "locale" in why]


def test_an_english_call_still_reaches_the_en_us_locale_of_a_bilingual_bot(bilingual: SimulatedConnect) -> None:
    call = spanish_call("lex").model_copy(update={"language": "en-US"})
    turns = Turns(("speak", "<speak>Go on.</speak>"))
    bilingual.play(recorded_contact(call), RecordedCaller(call), "LexCodeHook", turns)
    assert {c.event["bot"]["localeId"] for c in turns.turn_calls()} == {"en_US"}


def test_the_spanish_calls_load_and_start_in_us_spanish() -> None:
    spanish = recorded_calls("es-US")
    assert len(spanish) == 7  # and es-06, which starts in English
    assert {c.format for c in spanish} == {"connect", "lex"}
