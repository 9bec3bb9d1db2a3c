"""Outcome and KPI of a call from its contact record and its session."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.contact_analysis import Segment, SegmentKind, apply_segments, heard_text, sentiment_is_negative
from chalicelib.domain.contact_outcome import ContactRecordFacts, duration_s, neutral_to_positive, outcome
from chalicelib.domain.conversation import Message, Role
from chalicelib.domain.session import Session, SessionStatus, ToolFact


def facts(agent: bool = False, reason: str = "CUSTOMER_DISCONNECT", **attributes: str) -> ContactRecordFacts:
    return ContactRecordFacts("c", 2_000, 1_000, 61_000, reason, agent, agent, tuple(attributes.items()))


def session(status: SessionStatus = SessionStatus.ACTIVE, **changes: object) -> Session:
    return replace(Session.new("c", 0), status=status, **changes)


@pytest.mark.parametrize(
    ("s", "f", "expected", "kpi"),
    [
        (session(SessionStatus.ENDED), facts(), "contained", True),
        (session(SessionStatus.ENDED, caller_sentiments=("NEUTRAL", "NEGATIVE")), facts(), "contained", False),
        (session(SessionStatus.HANDOVER), facts(agent=True), "handover", True),
        (session(SessionStatus.HANDOVER, tool_facts=(ToolFact("book_callback", "{}"),)), facts(), "handover", True),
        (session(SessionStatus.HANDOVER), facts(), "abandoned", False),  # left the queue before an agent
        (session(), facts(), "abandoned", False),
        (session(previous_failed=True), facts(), "failed", False),
        (None, facts(), "abandoned", False),
    ],
)
def test_outcome_and_kpi(s: Session | None, f: ContactRecordFacts, expected: str, kpi: bool) -> None:
    ended = outcome(s, f)
    assert (ended, neutral_to_positive(s, f, ended)) == (expected, kpi)


def test_a_survey_score_decides_the_kpi_when_there_is_one() -> None:
    assert neutral_to_positive(session(), facts(survey_score="4"), "abandoned") is True
    assert neutral_to_positive(session(SessionStatus.ENDED), facts(survey_score="2"), "contained") is False


def test_duration_is_from_initiation_to_disconnect() -> None:
    assert duration_s(facts()) == 60


def test_sentiment_is_negative_only_when_it_stays_negative() -> None:
    assert not sentiment_is_negative(("NEGATIVE",))
    assert sentiment_is_negative(("NEGATIVE", "NEUTRAL", "NEGATIVE"))
    assert not sentiment_is_negative(("NEGATIVE", "NEGATIVE", "POSITIVE"))


def test_heard_text_is_the_share_of_playing_time_capped_by_what_was_transcribed() -> None:
    prompt = Segment(SegmentKind.TRANSCRIPT, "p", "SYSTEM", "one two three four five six seven eight", 0, 8000)
    assert heard_text("one two three four five six seven eight", prompt, 2000) == "one two…"
    cut_short = Segment(SegmentKind.TRANSCRIPT, "p", "SYSTEM", "one two three", 0, 3000)
    assert heard_text("one two three four five six seven eight", cut_short, 2900) == "one two three…"


def test_a_caller_who_speaks_after_the_prompt_ended_did_not_barge_in() -> None:
    s = replace(Session.new("c", 0), history=(Message(Role.ASSISTANT, "How can I help you today?", 1),))
    prompt = Segment(SegmentKind.TRANSCRIPT, "p", "SYSTEM", "How can I help you today?", 0, 2000)
    late = Segment(SegmentKind.TRANSCRIPT, "c", "CUSTOMER", "my bill", 1900, 3000)
    assert apply_segments(s, (prompt, late)).interrupted_seqs == ()


def test_a_contact_record_showing_the_agent_resumes_a_waiting_handover_once() -> None:
    from chalicelib.adapters.data_files import load_prices
    from chalicelib.adapters.memory_store import InMemorySessionStore
    from chalicelib.domain.session import HandoverState
    from chalicelib.usecases.stream_consumers import CloseContact
    from tests.fakes import ManualClock

    clock = ManualClock()
    store = InMemorySessionStore()
    token = "task-token-from-the-workflow"  # noqa: S105 - a Step Functions task token, not a password
    waiting = HandoverState("c-1", "caller_asked", "GeneralSupport", status="waiting", task_token=token)
    store.save_session(replace(Session.new("c", clock.now), status=SessionStatus.HANDOVER, handover=waiting), clock.now)
    resumed: list[tuple[str, str]] = []
    close = CloseContact(store, clock, load_prices(), resume_handover=lambda c, a: resumed.append((c, a)))
    close(facts(agent=True))
    assert resumed == [("c", "contact_record")]
    close(facts(agent=False))
    assert len(resumed) == 1


def test_a_handed_over_call_closes_with_what_the_agent_and_caller_said_after_the_handover() -> None:
    from chalicelib.adapters.data_files import load_prices
    from chalicelib.adapters.memory_store import InMemorySessionStore
    from chalicelib.adapters.memory_transcript import InMemoryTranscriptStore
    from chalicelib.domain.live_transcript import LiveTranscript, apply_results
    from chalicelib.domain.session import HandoverState
    from chalicelib.domain.speech import TranscriptResult
    from chalicelib.usecases.stream_consumers import CloseContact
    from tests.fakes import ManualClock

    clock = ManualClock()
    store, transcripts = InMemorySessionStore(), InMemoryTranscriptStore()
    handed = HandoverState("c-1", "caller_asked", "GeneralSupport", status="agent_connected", summary="Billing.")
    store.save_session(replace(Session.new("c", clock.now), status=SessionStatus.HANDOVER, handover=handed), clock.now)
    bot = apply_results(
        LiveTranscript(), [TranscriptResult("r1", "AUDIO_FROM_CUSTOMER", "agent please", False, 0, 900)]
    )
    human = apply_results(bot, [TranscriptResult("a1", "AUDIO_TO_CUSTOMER", "hi this is Sam", False, 9000, 9900),
                                TranscriptResult("r2", "AUDIO_FROM_CUSTOMER", "my card", False, 10000, 10600)],
                          in_handover=True)  # fmt: skip
    transcripts.save("c", human, 0, clock.now)
    CloseContact(store, clock, load_prices(), transcripts=transcripts)(facts(agent=True))
    closed = store.load("c", clock.now)
    assert closed is not None and closed.handover is not None
    assert closed.handover.after_handover == "Agent: hi this is Sam\nCustomer: my card"
    assert closed.handover.summary == "Billing."
