"""Every file in events/ is parsed by the code that reads its kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.turn_events import parse_turn_event
from chalicelib.errors import UtteranceEmptyError
from sim.calls import load_call
from tests.conftest import EVENTS

ALL = sorted(p for p in EVENTS.rglob("*.json"))


def test_every_event_file_is_covered_by_a_reader() -> None:
    uncovered = [p for p in ALL if p.parent.name not in ("connect", "lex", "calls")]
    assert uncovered == []


@pytest.mark.parametrize("path", [p for p in ALL if p.parent.name == "calls"], ids=lambda p: p.name)
def test_recorded_call_parses_and_its_turns_are_real_utterances(path: Path) -> None:
    call = load_call(path)
    assert call.turns[0].at_ms == 0
    assert [t.at_ms for t in call.turns] == sorted(t.at_ms for t in call.turns)
    assert all(t.caller.strip() for t in call.turns)


def test_recorded_calls_cover_a_connect_retry_and_the_lex_format() -> None:
    calls = [load_call(p) for p in ALL if p.parent.name == "calls"]
    assert len(calls) >= 5
    assert any(t.connect_retries for c in calls for t in c.turns)
    assert any(c.format == "lex" for c in calls)
    assert len({c.contact_id for c in calls}) == len(calls)


@pytest.mark.parametrize(
    "path",
    [p for p in ALL if p.parent.name in ("connect", "lex") and ("input" in p.name or "flow-event" in p.name)],
    ids=lambda p: p.name,
)
def test_published_turn_events_parse_up_to_their_missing_utterance(path: Path) -> None:
    event = json.loads(path.read_text())
    try:
        request = parse_turn_event(event, max_utterance_chars=2000)
    except UtteranceEmptyError:
        return  # the Connect samples carry no "utterance" parameter
    assert request.contact_id
