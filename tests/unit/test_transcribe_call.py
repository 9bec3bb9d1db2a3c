"""The transcriber's use case with fakes: both tracks at once, writes under the version condition,
exact checkpoints (no gap, no overlap of audio sent), continue and retry, caller data redacted."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chalicelib.adapters.memory_transcript import InMemoryTranscriptStore
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.speech import TRACKS, AudioChunk, MediaPosition, TranscriptResult
from chalicelib.usecases.transcribe_call import TranscribeCall, TranscriptionOutcome
from tests.fakes import ManualClock
from tests.speech_fakes import (
    ConcurrentWriterStore,
    InMemoryAudioSource,
    ScriptedSpeechToText,
    call_chunks,
    track_audio,
)

CONTACT = "c-transcribe"
STREAM = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-c/1"
START = MediaPosition("1000")
REDACTOR = Redactor(load_redaction_policy(), b"transcriber-test-key-of-32-bytes")


def plenty() -> float:
    return 600_000.0


def use_case(
    source: InMemoryAudioSource, speech: ScriptedSpeechToText, store: InMemoryTranscriptStore
) -> TranscribeCall:
    return TranscribeCall(
        source,
        speech,
        store,
        ManualClock(),
        redactor=REDACTOR,
        language="en-US",
        flush_every_ms=5,
        stop_before_ms=60_000,
        settle_ms=50,
    )


def stored(store: InMemoryTranscriptStore) -> LiveTranscript:
    live, version = store.load(CONTACT, ManualClock().now_ms())
    assert version > 0
    return live


def until_chunks(source: InMemoryAudioSource, count: int) -> Callable[[], float]:
    """Time enough until the source has yielded ``count`` chunks, then too little."""
    return lambda: 600_000.0 if source.yielded < count else 1_000.0


def assert_transcript_covers_the_call_once(session: LiveTranscript, chunks: list[AudioChunk]) -> None:
    call_end = max(c.timecode_ms + c.duration_ms for c in chunks)
    for track in TRACKS:
        lines = [line for line in session.lines if line.track == track]
        assert all(line.is_final for line in lines)
        assert [(a.end_ms <= b.start_ms) for a, b in itertools.pairwise(lines)] == [True] * (len(lines) - 1)
        assert sum(line.end_ms - line.start_ms for line in lines) == call_end


def test_both_tracks_are_transcribed_concurrently_to_the_end() -> None:
    chunks = call_chunks()
    source, speech, store = InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore()

    outcome = use_case(source, speech, store)(CONTACT, STREAM, START, plenty)

    assert outcome.outcome == "ended"
    assert outcome.checkpoint == chunks[-1].position
    assert speech.max_concurrent == 2
    for track in TRACKS:
        assert speech.audio(track) == track_audio(chunks, track)
    session = stored(store)
    assert session.speech_status == "ended"
    assert session.checkpoint == chunks[-1].position
    assert_transcript_covers_the_call_once(session, chunks)


def test_results_are_written_in_batches_as_they_come() -> None:
    source = InMemoryAudioSource(call_chunks(), pace_s=0.001)  # 120 chunks, >= 120 ms: flushes every 5 ms
    speech, store = ScriptedSpeechToText(), InMemoryTranscriptStore()
    outcome = use_case(source, speech, store)(CONTACT, STREAM, START, plenty)
    assert outcome.writes >= 5  # batches while the call goes on, then the last with the checkpoint
    assert outcome.results == 6 * 2 * 2 * 2  # 6 s per track, a partial and a final per 500 ms


def test_a_concurrent_writer_loses_nothing_and_the_transcript_nothing() -> None:
    chunks = call_chunks()
    store = ConcurrentWriterStore(lambda live: replace(live, dropped=live.dropped + 1), every=2)
    source = InMemoryAudioSource(chunks, pace_s=0.001)
    outcome = use_case(source, ScriptedSpeechToText(), store)(CONTACT, STREAM, START, plenty)

    session = stored(store)
    assert outcome.conflicts >= 1
    assert session.dropped == store.interleaved  # the other writer's changes all kept
    assert_transcript_covers_the_call_once(session, chunks)


def test_it_stops_before_the_time_limit_and_resumes_without_gap_or_overlap() -> None:
    chunks = call_chunks()
    source, speech, store = InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore()
    transcribe = use_case(source, speech, store)

    first = transcribe(CONTACT, STREAM, START, until_chunks(source, 37))
    assert first.outcome == "continue"
    assert stored(store).speech_status == "continuing"
    second = transcribe(CONTACT, STREAM, first.checkpoint, plenty)

    assert second.outcome == "ended"
    for track in TRACKS:
        assert speech.audio(track) == track_audio(chunks, track)  # every byte once, in order
    assert_transcript_covers_the_call_once(stored(store), chunks)


def test_a_dropped_media_stream_is_retried_from_the_checkpoint() -> None:
    chunks = call_chunks()
    source = InMemoryAudioSource(chunks, drop_after=50)
    speech, store = ScriptedSpeechToText(), InMemoryTranscriptStore()
    transcribe = use_case(source, speech, store)

    first = transcribe(CONTACT, STREAM, START, plenty)
    assert (first.outcome, first.error) == ("retry", "MediaStreamUnavailableError")
    assert first.checkpoint == chunks[49].position
    assert stored(store).speech_status == "retrying"
    assert transcribe(CONTACT, STREAM, first.checkpoint, plenty).outcome == "ended"

    for track in TRACKS:
        assert speech.audio(track) == track_audio(chunks, track)


def test_a_failed_recogniser_stream_resumes_where_that_track_was_final() -> None:
    chunks = call_chunks()
    source, store = InMemoryAudioSource(chunks), InMemoryTranscriptStore()
    speech = ScriptedSpeechToText(fail=("AUDIO_FROM_CUSTOMER", 2_300))
    transcribe = use_case(source, speech, store)

    first = transcribe(CONTACT, STREAM, START, plenty)
    assert (first.outcome, first.error) == ("retry", "SpeechToTextUnavailableError")
    assert first.checkpoint.timecode_ms < 2_000  # the caller's last final ended at 2000 ms
    assert transcribe(CONTACT, STREAM, first.checkpoint, plenty).outcome == "ended"

    assert speech.audio("AUDIO_TO_CUSTOMER") == track_audio(chunks, "AUDIO_TO_CUSTOMER")  # nothing re-sent
    assert_transcript_covers_the_call_once(stored(store), chunks)


def test_a_duplicate_invocation_resumes_from_the_stored_checkpoint() -> None:
    chunks = call_chunks()
    source, speech, store = InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore()
    transcribe = use_case(source, speech, store)
    transcribe(CONTACT, STREAM, START, plenty)
    before = stored(store)

    again: TranscriptionOutcome = transcribe(CONTACT, STREAM, START, plenty)  # the same event, redelivered

    assert source.starts[-1] == chunks[-1].position
    assert again.outcome == "ended"
    assert stored(store).lines == before.lines


def test_each_final_caller_utterance_starts_one_speculation_with_its_words() -> None:
    chunks = call_chunks()
    source, speech, store = InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore()
    paused: list[tuple[str, str]] = []
    transcribe = TranscribeCall(source, speech, store, ManualClock(), redactor=REDACTOR, language="en-US",
                                flush_every_ms=5, settle_ms=50,
                                on_caller_pause=lambda c, t, _data: paused.append((c, t)))  # fmt: skip

    transcribe(CONTACT, STREAM, START, plenty)

    caller_finals = [line.text for line in stored(store).lines if line.track == "AUDIO_FROM_CUSTOMER"]
    assert [text for _, text in paused] == caller_finals
    assert {contact for contact, _ in paused} == {CONTACT}


class SayingSpeechToText(ScriptedSpeechToText):
    """The scripted recogniser, saying these words on each track in turn (a partial of the first
    half of them, then all of them as the final)."""

    def __init__(self, said: dict[str, list[str]]) -> None:
        super().__init__()
        self.said = said

    def _result(self, track: Any, start: int, end: int, *, partial: bool, rid: str = "") -> TranscriptResult:
        made = super()._result(track, start, end, partial=partial, rid=rid)
        words = self.said[track][(start // self.utterance_ms) % len(self.said[track])].split()
        text = " ".join(words[: (len(words) + 1) // 2] if partial else words)
        return replace(made, text=text, stable_text=" ".join(text.split()[:2]))


CARD_WORDS = "four one one one one one one one one one one one one one one one"


def test_the_transcript_and_the_pause_hook_hold_tokens_never_the_callers_numbers() -> None:
    speech = SayingSpeechToText({"AUDIO_FROM_CUSTOMER": [f"my card number is {CARD_WORDS}", "what time do you close"],
                                 "AUDIO_TO_CUSTOMER": ["so your card 4111 1111 1111 1111 is on file"]})  # fmt: skip
    source, store = InMemoryAudioSource(call_chunks()), InMemoryTranscriptStore()
    paused: list[tuple[str, bool]] = []
    written: list[str] = []
    saving = store.save

    def save(contact_id: str, transcript: LiveTranscript, version: int, now_ms: int) -> int:
        written.extend(line.text + " " + line.stable_text for line in transcript.lines)  # every write, partials too
        return saving(contact_id, transcript, version, now_ms)

    store.save = save  # type: ignore[method-assign]
    transcribe = TranscribeCall(source, speech, store, ManualClock(), redactor=REDACTOR, language="en-US",
                                flush_every_ms=5, settle_ms=50,
                                on_caller_pause=lambda _c, text, data: paused.append((text, data)))  # fmt: skip

    transcribe(CONTACT, STREAM, START, plenty)

    lines = stored(store).lines
    assert {line.text for line in lines} == {"my card number is [CARD_1]", "what time do you close",
                                             "so your card [CARD_1] is on file"}  # fmt: skip
    assert written and not any("4111" in text or "one one one one" in text for text in written)
    assert set(paused) == {("my card number is [CARD_1]", True), ("what time do you close", False)}
