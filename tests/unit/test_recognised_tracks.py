"""Which tracks go to the recogniser and what they cost: the session as the transcriber reads it
(handed over yet, what the bot said), and Transcribe's billing per stream (per second, 15 s
minimum) split before and after the handover."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from chalicelib.adapters.data_files import load_prices
from chalicelib.domain.conversation import Message, Role
from chalicelib.domain.ledger import cost_by_component
from chalicelib.domain.recognised_tracks import (
    AFTER,
    BEFORE,
    SessionView,
    SpeechUsage,
    StreamUsage,
    billed_seconds,
    session_view,
)
from chalicelib.domain.session import HandoverState, Session, SessionStatus
from chalicelib.domain.usage import Usage, UsageKind

CALLER, AGENT = "AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"


def test_no_session_is_a_call_with_the_bot_that_said_nothing() -> None:
    assert session_view(None) == SessionView(handed_over=False, bot_said="", last_reply="")


def test_the_call_is_handed_over_from_the_committed_handover_reply_or_the_workflows_state() -> None:
    session = Session.new("c-1", 0)
    assert not session_view(session).handed_over
    assert session_view(replace(session, status=SessionStatus.HANDOVER)).handed_over  # the turn's commit
    assert session_view(replace(session, handover=HandoverState("x", "caller_asked", "Q"))).handed_over


def test_the_callers_context_is_the_bots_newest_two_replies() -> None:
    history = (
        Message(Role.ASSISTANT, "Hello.", 1),
        Message(Role.CALLER, "my card", 1),
        Message(Role.ASSISTANT, "What is the security code?", 1),
        Message(Role.CALLER, "[CVV_1]", 2),
        Message(Role.ASSISTANT, "Thanks.", 2),
    )
    view = session_view(replace(Session.new("c-1", 0), history=history))
    assert view.bot_said == "What is the security code? Thanks."


def test_a_stream_is_billed_in_whole_seconds_with_a_15_second_minimum() -> None:
    assert [billed_seconds(ms) for ms in (0, 1, 14_999, 15_000, 15_001, 61_000)] == [15, 15, 15, 15, 16, 61]


def test_the_minimum_is_counted_in_the_phase_the_stream_started_in() -> None:
    usage = SpeechUsage(
        (StreamUsage(CALLER, 0, before_ms=12_000, after_ms=8_000), StreamUsage(AGENT, 12_000, after_ms=8_000)),
        ((BEFORE, 12_000.0), (AFTER, 8_000.0)),
        12_000,
    )
    assert usage.billed_s(BEFORE) == 12  # the caller's stream: 20 s, no minimum left
    assert usage.billed_s(AFTER) == 8 + 15  # the agent's stream: 8 s billed as 15
    assert usage.billed_s() == 35
    assert usage.usage() == (Usage(UsageKind.TRANSCRIBE_SECONDS, Decimal(35)),)
    assert usage.streamed_ms(AFTER, CALLER) == usage.streamed_ms(AFTER, AGENT) == 8_000


def test_a_run_that_opened_no_stream_uses_no_transcribe() -> None:
    assert SpeechUsage().usage() == ()
    assert SpeechUsage().as_dict()["billed_s"] == {BEFORE: 0.0, AFTER: 0.0}


def test_one_track_costs_half_of_two_at_the_shipped_price() -> None:
    minute = Decimal(60)
    one = SpeechUsage((StreamUsage(CALLER, 0, before_ms=60_000),)).usage()
    two = SpeechUsage((StreamUsage(CALLER, 0, after_ms=60_000), StreamUsage(AGENT, 0, after_ms=60_000))).usage()
    prices = load_prices()
    assert cost_by_component(one, prices)["transcribe"] == Decimal("0.024") == minute * Decimal("0.0004")
    assert cost_by_component(two, prices)["transcribe"] == Decimal("0.048")
