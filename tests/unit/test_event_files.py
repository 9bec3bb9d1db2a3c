"""Every file in events/ is parsed by the code that reads its kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.turn_events import read_turn_event
from chalicelib.errors import UtteranceEmptyError
from sim.calls import load_call
from tests.conftest import EVENTS

ALL = sorted(p for p in EVENTS.rglob("*.json"))


def test_every_event_file_is_covered_by_a_reader() -> None:
    # kvs/: what each GetMedia body (.mkv) holds, read by tests/unit/test_mkv.py
    readers = ("connect", "lex", "calls", "contact-lens", "ctr", "kinesis", "kvs")
    uncovered = [p for p in ALL if p.parent.name not in readers]
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
        request = read_turn_event(event).request_within(max_utterance_chars=2000)
    except UtteranceEmptyError:
        return  # the Connect samples carry no "utterance" parameter
    assert request.contact_id


@pytest.mark.parametrize("path", sorted((EVENTS / "contact-lens").glob("*voice*.json")), ids=lambda p: p.name)
def test_contact_lens_voice_samples_parse(path: Path) -> None:
    from chalicelib.adapters.stream_events import parse_segment_record

    contact, event_type, _ = parse_segment_record(path.read_bytes(), "1")
    assert contact and event_type in ("STARTED", "SEGMENTS", "COMPLETED", "FAILED")


def test_contact_record_sample_parses() -> None:
    from chalicelib.adapters.stream_events import parse_contact_record

    facts = parse_contact_record(
        (EVENTS / "ctr" / "connect-contact-record.constructed-from-data-model.json").read_bytes()
    )
    assert facts.agent_connected and facts.disconnected_ms and facts.disconnected_ms - facts.initiated_ms == 720_000


def test_kinesis_samples_have_the_fields_the_batch_processor_reads() -> None:
    event = json.loads((EVENTS / "kinesis" / "kinesis-stream-lambda-event.json").read_text())
    assert all(r["kinesis"]["sequenceNumber"] and r["kinesis"]["data"] for r in event["Records"])
    response = json.loads((EVENTS / "kinesis" / "kinesis-partial-batch-response.json").read_text())
    assert set(response) == {"batchItemFailures"}
