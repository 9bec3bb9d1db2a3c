"""The turn event read once: its format, what its answer carries back, the turn or its problem."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.adapters.lex_events import LexContentType
from chalicelib.adapters.turn_events import AnswerFormat, read_turn_event, render_fallback_answer
from chalicelib.errors import EventMalformedError, EventTypeUnknownError, UtteranceTooLongError
from sim.calls import connect_event
from tests.conftest import load_json

LEX = "lex/lex-v2-codehook-input.from-connect.json"


def lex(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(load_json(LEX)), **changes}


def test_a_connect_turn_is_read_with_its_sequence() -> None:
    read = read_turn_event(connect_event("c-1", "hello", "4"))
    assert (read.answer_format, read.sequence_sent, read.lex) == (AnswerFormat.CONNECT, 4, None)
    assert read.request_within(100).utterance == "hello"


def test_the_warm_up_is_recognised_before_anything_is_validated() -> None:
    read = read_turn_event({"Details": {"Parameters": {"warmup": "true"}}})
    assert read.warmup and read.answer_format is AnswerFormat.CONNECT


def test_a_lex_turn_carries_its_context() -> None:
    read = read_turn_event(lex(inputMode="Text"))
    assert read.answer_format is AnswerFormat.LEX and read.lex is not None
    assert (read.sequence_sent, read.lex.content_type) == (3, LexContentType.PLAIN_TEXT)


def test_a_malformed_lex_event_keeps_its_format_sequence_and_content_type() -> None:
    event = lex(inputMode="Text")
    del event["sessionId"]
    read = read_turn_event(event)
    assert (read.answer_format, read.sequence_sent, read.request) == (AnswerFormat.LEX, 3, None)
    with pytest.raises(EventMalformedError):
        read.request_within(100)
    answer = render_fallback_answer(read, EventMalformedError("x"))
    assert answer["messages"][0]["contentType"] == "PlainText"
    assert answer["sessionState"]["sessionAttributes"]["turn"] == "3"


def test_a_connect_event_with_a_broken_turn_attribute_is_answered_on_turn_one() -> None:
    read = read_turn_event(connect_event("c-1", "hello", "abc"))
    assert (read.answer_format, read.sequence_sent) == (AnswerFormat.CONNECT, 1)
    assert render_fallback_answer(read, EventMalformedError("x"))["turn"] == "1"


@pytest.mark.parametrize("event", ["text", 42, None, [1, 2], {"something": "else"}])
def test_an_unrecognisable_event_gets_the_safest_answer(event: object) -> None:
    read = read_turn_event(event)
    assert read.answer_format is AnswerFormat.UNRECOGNISED and isinstance(read.problem, EventMalformedError)
    answer = render_fallback_answer(read, read.problem)
    assert (answer["action"], answer["turn"]) == ("speak", "1") and answer["prompt"].startswith("<speak>")


def test_another_connect_event_name_is_an_unknown_type() -> None:
    event = {**connect_event("c-1", "hello", "2"), "Name": "ScheduledEvent"}
    with pytest.raises(EventTypeUnknownError):
        read_turn_event(event).request_within(100)


def test_the_utterance_limit_is_checked_on_the_request() -> None:
    with pytest.raises(UtteranceTooLongError):
        read_turn_event(connect_event("c-1", "x" * 101, "2")).request_within(100)
