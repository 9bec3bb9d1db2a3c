"""The speech path's cost from the transcriber's answer: Transcribe billed per stream as it was
streamed, one track before a handover and two after ($0.024 and $0.048 a minute)."""

from __future__ import annotations

import json
from decimal import Decimal

from chalicelib.adapters.data_files import load_prices
from chalicelib.adapters.memory_transcript import InMemoryTranscriptStore
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.speech import MediaPosition
from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.usecases.transcribe_call import TranscribeCall
from sim.speech_costs import speech_added_usage, speech_cost_by_phase, speech_usage
from tests.fakes import ManualClock
from tests.speech_fakes import HandingOverSessions, InMemoryAudioSource, ScriptedSpeechToText, call_chunks

CONTACT = "c-speech-cost"
STREAM = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-c/1"


def transcriber_answer(seconds: int, handover_at_ms: int | None) -> dict[str, object]:
    """The transcriber's answer for a call of ``seconds``, handed over at ``handover_at_ms``
    (placed by an earlier run), as the handler returns it (through JSON, as Lambda does)."""
    chunks = call_chunks(fragments=seconds)
    store = InMemoryTranscriptStore()
    if handover_at_ms is not None:
        store.save(CONTACT, LiveTranscript(handover_at_ms=handover_at_ms), 0, ManualClock().now_ms())
    transcribe = TranscribeCall(
        InMemoryAudioSource(chunks), ScriptedSpeechToText(utterance_ms=5_000), store, ManualClock(),
        sessions=HandingOverSessions(CONTACT, lambda: handover_at_ms is not None), language="en-US",
        redactor=Redactor(load_redaction_policy(), b"k" * 32), flush_every_ms=20, settle_ms=50,
    )  # fmt: skip
    outcome = transcribe(CONTACT, STREAM, MediaPosition(chunks[0].fragment_number), lambda: 600_000.0)
    return dict(json.loads(json.dumps({"status": outcome.outcome, **outcome.as_dict()})))


def test_the_speech_path_costs_one_track_before_a_handover_and_two_after() -> None:
    answer = transcriber_answer(60, handover_at_ms=30_000)

    phases = speech_cost_by_phase([answer], load_prices())

    before, after = phases["before_handover"], phases["after_handover"]
    assert (before.media_s, after.media_s) == (30, 30)
    assert (before.transcribe_s, after.transcribe_s) == (30, 60)  # the caller's; the caller's and the agent's
    assert before.per_minute_usd == Decimal("0.024")
    assert after.per_minute_usd == Decimal("0.048")


def test_the_added_usage_bills_what_was_streamed_per_stream() -> None:
    bot_only = transcriber_answer(60, handover_at_ms=None)
    handed = transcriber_answer(60, handover_at_ms=50_000)

    assert speech_added_usage([bot_only], Decimal(60))[0] == Usage(UsageKind.TRANSCRIBE_SECONDS, Decimal(60))
    # The agent's stream streamed 10 s: billed its 15 s minimum.
    assert speech_added_usage([handed], Decimal(60))[0] == Usage(UsageKind.TRANSCRIBE_SECONDS, Decimal(75))
    assert [u.kind for u in speech_added_usage([handed], Decimal(60))[1:]] == [
        UsageKind.LAMBDA_REQUESTS, UsageKind.LAMBDA_GB_SECONDS,
    ]  # fmt: skip


def test_a_call_of_several_answers_adds_them_and_an_answer_without_speech_adds_nothing() -> None:
    answer = transcriber_answer(20, handover_at_ms=None)
    usage = speech_usage([answer, answer, {"status": "raised", "error": "SimulatedLambdaCrash"}])
    assert len(usage.streams) == 2 and usage.billed_s() == 40
    assert dict(usage.media_ms)["before_handover"] == 40_000
    assert speech_added_usage([{"status": "disabled"}], Decimal(10))[0].kind is UsageKind.LAMBDA_REQUESTS
