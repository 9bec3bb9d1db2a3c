"""The transcriber's use case with fakes: both tracks at once, writes under the version condition,
exact checkpoints (no gap, no overlap of audio sent), continue and retry, caller data redacted;
the caller's track only until a handover (the prompts' timing kept), both after it, and the
Transcribe seconds streamed per track and phase."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.memory_transcript import InMemoryTranscriptStore
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.live_transcript import PLAYED_GAP_MS, LiveTranscript, PlayedSpan, human_part, prompt_playing_at
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.speech import (
    LANGUAGE_MALFORMED,
    LANGUAGE_UNSUPPORTED,
    TRACKS,
    AudioChunk,
    MediaPosition,
    Track,
    TranscriptResult,
)
from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.errors import StoreUnavailableError
from chalicelib.usecases.transcribe_call import TranscribeCall, TranscriptionOutcome
from chalicelib.usecases.transcription_run import PRE_ROLL_MS
from tests.fakes import ManualClock
from tests.speech_fakes import (
    ConcurrentWriterStore,
    HandingOverSessions,
    InMemoryAudioSource,
    ScriptedSpeechToText,
    call_chunks,
    track_audio,
    with_prompts,
)

CONTACT = "c-transcribe"
STREAM = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-c/1"
START = MediaPosition("1000")
REDACTOR = Redactor(load_redaction_policy(), b"transcriber-test-key-of-32-bytes")


def plenty() -> float:
    return 600_000.0


def use_case(
    source: InMemoryAudioSource,
    speech: ScriptedSpeechToText,
    store: InMemoryTranscriptStore,
    *,
    both_tracks: bool = True,
    **options: Any,
) -> TranscribeCall:
    """The use case; by default with both tracks transcribed throughout (``bot_track``): the
    checkpoint and resume mechanics are proven on two concurrent streams."""
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
        bot_track=both_tracks,
        **options,
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


def test_with_the_bot_track_on_both_tracks_are_transcribed_concurrently_to_the_end() -> None:
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
                                on_caller_pause=lambda c, t, _data, _lang: paused.append((c, t)))  # fmt: skip

    transcribe(CONTACT, STREAM, START, plenty)

    caller_finals = [line.text for line in stored(store).lines if line.track == "AUDIO_FROM_CUSTOMER"]
    assert [text for _, text in paused] == caller_finals
    assert {contact for contact, _ in paused} == {CONTACT}


def test_the_pause_hook_is_warmed_once_as_the_run_starts_and_a_failed_warm_up_costs_nothing() -> None:
    warmed: list[str] = []

    def warm() -> None:
        warmed.append(threading.current_thread().name)
        raise RuntimeError("no model client (a failed warm-up)")

    paused: list[str] = []
    source, speech, store = InMemoryAudioSource(call_chunks()), ScriptedSpeechToText(), InMemoryTranscriptStore()
    transcribe = TranscribeCall(source, speech, store, ManualClock(), redactor=REDACTOR, language="en-US",
                                flush_every_ms=5, settle_ms=50, warm=warm,
                                on_caller_pause=lambda _c, t, _data, _lang: paused.append(t))  # fmt: skip

    outcome = transcribe(CONTACT, STREAM, START, plenty)

    assert outcome.outcome == "ended" and paused  # the run and its speculations went on
    assert warmed == ["warm-pause-hook"]  # once, off the run's own thread


def test_the_pause_before_a_speculation_follows_the_end_timeout_of_the_bots_newest_reply() -> None:
    asked: list[str] = []

    def end_timeout_after(said: str, language: str) -> float:
        assert language == "en-US"  # the call's language: its cues
        asked.append(said)
        return 400.0  # a yes/no question: Lex hands the turn over sooner, the pause is shorter

    paused: list[str] = []
    source, speech, store = InMemoryAudioSource(call_chunks()), ScriptedSpeechToText(), InMemoryTranscriptStore()
    sessions = HandingOverSessions(CONTACT, lambda: False, said=("Card number?", "I heard 4471. Is that right?"))
    transcribe = TranscribeCall(source, speech, store, ManualClock(), redactor=REDACTOR, language="en-US",
                                flush_every_ms=5, settle_ms=50, sessions=sessions, end_timeout_after=end_timeout_after,
                                on_caller_pause=lambda _c, t, _data, _lang: paused.append(t))  # fmt: skip

    transcribe(CONTACT, STREAM, START, plenty)

    assert paused
    assert set(asked) == {"I heard 4471. Is that right?"}  # the newest reply alone, not the two


def test_without_a_pause_hook_nothing_is_warmed() -> None:
    warmed: list[int] = []
    source, speech, store = InMemoryAudioSource(call_chunks()), ScriptedSpeechToText(), InMemoryTranscriptStore()
    transcribe = TranscribeCall(source, speech, store, ManualClock(), redactor=REDACTOR, language="en-US",
                                flush_every_ms=5, settle_ms=50, warm=lambda: warmed.append(1))  # fmt: skip

    transcribe(CONTACT, STREAM, START, plenty)

    assert warmed == []


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
    """Handed over from the start: the agent's words (a card read back) are redacted too."""
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
                                flush_every_ms=5, settle_ms=50, sessions=HandingOverSessions(CONTACT, lambda: True),
                                on_caller_pause=lambda _c, text, data, _lang: paused.append((text, data)))  # fmt: skip

    transcribe(CONTACT, STREAM, START, plenty)

    lines = stored(store).lines
    assert {line.text for line in lines} == {"my card number is [CARD_1]", "what time do you close",
                                             "so your card [CARD_1] is on file"}  # fmt: skip
    assert written and not any("4111" in text or "one one one one" in text for text in written)
    assert set(paused) == {("my card number is [CARD_1]", True), ("what time do you close", False)}


# --- the caller's track only until a handover, both after it ----------------------------------

CALLER, AGENT = TRACKS


def handed_over_after(source: InMemoryAudioSource, chunks_read: int) -> Callable[[], bool]:
    return lambda: source.yielded >= chunks_read


def test_before_a_handover_only_the_callers_track_is_recognised_and_the_prompts_timing_is_kept() -> None:
    chunks = with_prompts(call_chunks(), [(1000, 2500), (4000, 5000)])
    source, speech, store = InMemoryAudioSource(chunks, pace_s=0.001), ScriptedSpeechToText(), InMemoryTranscriptStore()
    sessions = HandingOverSessions(CONTACT, lambda: False)
    transcribe = use_case(source, speech, store, both_tracks=False, sessions=sessions, look_every_ms=20)

    started = time.monotonic()
    outcome = transcribe(CONTACT, STREAM, START, plenty)
    elapsed_ms = (time.monotonic() - started) * 1000

    assert outcome.outcome == "ended" and outcome.checkpoint == chunks[-1].position
    assert [track for track, _ in speech.streams] == [CALLER]  # no stream for our own prompts
    assert speech.audio(CALLER) == track_audio(chunks, CALLER)
    live = stored(store)
    assert {line.track for line in live.lines} == {CALLER}
    assert live.played == (PlayedSpan(1000, 2500), PlayedSpan(4000, 5000))  # when the prompts played
    assert prompt_playing_at(live, 1200) == PlayedSpan(1000, 2500) and prompt_playing_at(live, 3000) is None
    assert live.handover_at_ms is None and human_part(live) == ()
    # The session is read when the run starts, then every look_every_ms: never per chunk.
    assert 2 <= sessions.loads <= 2 + elapsed_ms / 20 and sessions.loads < len(chunks) / 4


# Our handover line plays from 2 s to 4 s (the session shows the handover 2.5 s in); the agent
# speaks from 6 s.
HANDOVER_LINE, AGENT_SPEAKS_MS = (2_000, 4_000), 6_000


def test_a_handover_seen_mid_call_adds_the_to_customer_stream_from_there_on() -> None:
    chunks = with_prompts(call_chunks(fragments=12), [(500, 1500), HANDOVER_LINE, (AGENT_SPEAKS_MS, 12_000)])
    source = InMemoryAudioSource(chunks, pace_s=0.002)
    speech, store = ScriptedSpeechToText(), InMemoryTranscriptStore()
    sessions = HandingOverSessions(CONTACT, handed_over_after(source, 50))
    transcribe = use_case(source, speech, store, both_tracks=False, sessions=sessions, look_every_ms=10)

    outcome = transcribe(CONTACT, STREAM, START, plenty)

    live = stored(store)
    at = live.handover_at_ms
    # Handed over 2.5 s of media in, during our handover line: placed once the line has played.
    assert at is not None and HANDOVER_LINE[1] + PLAYED_GAP_MS < at <= AGENT_SPEAKS_MS
    assert outcome.speech.handover_at_ms == at
    assert [track for track, _ in speech.streams] == [CALLER, AGENT]
    assert speech.audio(CALLER) == track_audio(chunks, CALLER)  # the caller's track throughout
    opened = AGENT_SPEAKS_MS - PRE_ROLL_MS  # the agent's from their first words, not our line
    assert speech.audio(AGENT) == track_audio(chunks, AGENT, from_ms=opened)
    agent_lines = [line for line in live.lines if line.track == AGENT]
    assert agent_lines and min(line.start_ms for line in agent_lines) == opened
    assert live.played and max(span.end_ms for span in live.played) <= at  # our prompts' energy before it
    assert any(who == "AGENT" for who, _ in human_part(live))


def test_a_resumed_run_keeps_the_handover_the_first_placed() -> None:
    chunks = with_prompts(call_chunks(fragments=12), [HANDOVER_LINE, (AGENT_SPEAKS_MS, 12_000)])
    source = InMemoryAudioSource(chunks, pace_s=0.002)
    speech, store = ScriptedSpeechToText(), InMemoryTranscriptStore()
    sessions = HandingOverSessions(CONTACT, handed_over_after(source, 30))
    transcribe = use_case(source, speech, store, both_tracks=False, sessions=sessions, look_every_ms=10)

    first = transcribe(CONTACT, STREAM, START, until_chunks(source, 160))
    at = stored(store).handover_at_ms
    second = transcribe(CONTACT, STREAM, first.checkpoint, plenty)

    assert (first.outcome, second.outcome) == ("continue", "ended")
    assert at is not None and first.checkpoint.timecode_ms > at
    assert stored(store).handover_at_ms == at
    assert speech.audio(CALLER) == track_audio(chunks, CALLER)  # every byte once, across the two runs
    assert speech.audio(AGENT) == track_audio(chunks, AGENT, from_ms=AGENT_SPEAKS_MS - PRE_ROLL_MS)
    assert second.speech.streamed_ms("before_handover", CALLER) == 0  # all of it after the handover
    assert second.speech.streamed_ms("after_handover", AGENT) == second.speech.streamed_ms("after_handover", CALLER)


def test_a_run_resuming_before_the_handover_sends_the_to_customer_track_from_it() -> None:
    chunks = call_chunks()
    source, speech = InMemoryAudioSource(chunks), ScriptedSpeechToText()
    store = InMemoryTranscriptStore()
    store.save(CONTACT, LiveTranscript(handover_at_ms=3_000), 0, ManualClock().now_ms())  # placed by a run that died

    use_case(source, speech, store, both_tracks=False, sessions=HandingOverSessions(CONTACT, lambda: True))(
        CONTACT, STREAM, START, plenty
    )

    assert speech.audio(AGENT) == track_audio(chunks, AGENT, from_ms=3_000)
    assert stored(store).handover_at_ms == 3_000


def test_a_handover_the_session_shows_when_a_run_starts_is_placed_at_its_first_chunk() -> None:
    chunks = call_chunks()
    source, speech, store = InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore()
    resume_at = chunks[39].position  # the previous run's checkpoint; it never saw the handover

    use_case(source, speech, store, both_tracks=False, sessions=HandingOverSessions(CONTACT, lambda: True))(
        CONTACT, STREAM, resume_at, plenty
    )

    first = chunks[40].timecode_ms
    assert stored(store).handover_at_ms == first
    assert speech.audio(AGENT) == track_audio(chunks, AGENT, from_ms=first)


def test_the_transcribe_seconds_streamed_are_recorded_per_track_and_phase() -> None:
    chunks = call_chunks(fragments=20)  # 20 s
    source, speech, store = InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore()
    store.save(CONTACT, LiveTranscript(handover_at_ms=12_000), 0, ManualClock().now_ms())
    meter = InvocationMeter()
    transcribe = use_case(source, speech, store, both_tracks=False, meter=meter,
                          sessions=HandingOverSessions(CONTACT, lambda: True))  # fmt: skip

    outcome = transcribe(CONTACT, STREAM, START, plenty)

    speech_usage = outcome.speech
    assert speech_usage.streamed_ms("before_handover", CALLER) == 12_000
    assert speech_usage.streamed_ms("after_handover", CALLER) == 8_000
    assert speech_usage.streamed_ms("before_handover", AGENT) == 0
    assert speech_usage.streamed_ms("after_handover", AGENT) == 8_000
    # Billed per stream: the caller's 20 s; the agent's 8 s at the 15 s minimum.
    assert speech_usage.billed_s() == Decimal(35)
    assert (speech_usage.billed_s("before_handover"), speech_usage.billed_s("after_handover")) == (12, 23)
    usage, _ = meter.drain()
    assert usage == (Usage(UsageKind.TRANSCRIBE_SECONDS, Decimal(35)),)
    answer = outcome.as_dict()["transcribe"]
    assert answer["streamed_s"] == {"before_handover": {CALLER: 12.0, AGENT: 0.0},
                                    "after_handover": {CALLER: 8.0, AGENT: 8.0}}  # fmt: skip
    assert answer["media_s"] == {"before_handover": 12.0, "after_handover": 8.0}
    assert answer["handover_at_ms"] == 12_000


def test_without_a_handover_the_answer_shows_the_callers_stream_only() -> None:
    chunks = call_chunks()
    outcome = use_case(InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore(),
                       both_tracks=False)(CONTACT, STREAM, START, plenty)  # fmt: skip
    answer = outcome.as_dict()["transcribe"]
    assert answer["streamed_s"]["before_handover"] == {CALLER: 6.0, AGENT: 0.0}
    assert answer["billed_s"] == {"before_handover": 15.0, "after_handover": 0.0}  # one stream, its minimum
    assert outcome.audio_ms == 6_000


def test_before_a_handover_the_callers_numbers_are_redacted_in_the_context_of_the_bots_replies() -> None:
    speech = SayingSpeechToText({"AUDIO_FROM_CUSTOMER": ["it is four eight two"], "AUDIO_TO_CUSTOMER": ["-"]})
    store = InMemoryTranscriptStore()
    sessions = HandingOverSessions(CONTACT, lambda: False,
                                   said=("What is the security code on the back of your card?",))  # fmt: skip
    use_case(InMemoryAudioSource(call_chunks(fragments=1)), speech, store, both_tracks=False, sessions=sessions)(
        CONTACT, STREAM, START, plenty
    )
    lines = [line.text for line in stored(store).lines]
    assert lines and all(re.fullmatch(r"it is \[CVV_\d\]", text) for text in lines), lines


def test_a_session_that_cannot_be_read_leaves_the_call_with_the_bot() -> None:
    class Unavailable(HandingOverSessions):
        def load(self, contact_id: str, now_ms: int) -> Any:
            raise StoreUnavailableError("down")

    chunks = call_chunks()
    speech, store = ScriptedSpeechToText(), InMemoryTranscriptStore()
    transcribe = use_case(InMemoryAudioSource(chunks, pace_s=0.001), speech, store, both_tracks=False,
                          sessions=Unavailable(CONTACT, lambda: True), look_every_ms=5)  # fmt: skip
    outcome = transcribe(CONTACT, STREAM, START, plenty)
    assert outcome.outcome == "ended"
    assert [track for track, _ in speech.streams] == [CALLER]


# --- the call's language ---------------------------------------------------------------------------

STREAMING = frozenset({"en-US", "es-US", "fr-CA"})  # what transcribe_languages.json lists, in part


class LanguageRecordingSpeech(ScriptedSpeechToText):
    """The scripted recogniser, keeping the language each stream was started in."""

    def __init__(self) -> None:
        super().__init__()
        self.languages: list[str] = []

    def transcribe(self, track: Track, audio: AsyncIterable[bytes], language: str) -> AsyncIterator[TranscriptResult]:
        self.languages.append(language)
        return super().transcribe(track, audio, language)


def test_a_call_is_transcribed_in_the_language_its_invocation_names() -> None:
    speech = LanguageRecordingSpeech()
    transcribe = use_case(InMemoryAudioSource(call_chunks()), speech, InMemoryTranscriptStore(), languages=STREAMING)
    outcome = transcribe(CONTACT, STREAM, START, plenty, language="es-US")
    assert speech.languages == ["es-US", "es-US"] and outcome.language == "es-US"
    assert outcome.as_dict()["language"] == "es-US"


def test_lexs_locale_spelling_is_the_same_language() -> None:
    speech = LanguageRecordingSpeech()
    transcribe = use_case(InMemoryAudioSource(call_chunks()), speech, InMemoryTranscriptStore(), languages=STREAMING)
    assert transcribe(CONTACT, STREAM, START, plenty, language="es_US").language == "es-US"


def test_a_call_that_names_no_language_is_transcribed_in_the_stages() -> None:
    speech = LanguageRecordingSpeech()
    transcribe = use_case(InMemoryAudioSource(call_chunks()), speech, InMemoryTranscriptStore(), languages=STREAMING)
    assert transcribe(CONTACT, STREAM, START, plenty).language == "en-US"
    assert set(speech.languages) == {"en-US"}


@pytest.mark.parametrize(
    ("requested", "reason"), [("sw-KE", LANGUAGE_UNSUPPORTED), ("Spanish please", LANGUAGE_MALFORMED)]
)
def test_a_language_transcribe_does_not_stream_falls_back_to_the_stages_with_a_named_reason(
    requested: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    speech = LanguageRecordingSpeech()
    transcribe = use_case(InMemoryAudioSource(call_chunks()), speech, InMemoryTranscriptStore(), languages=STREAMING)
    assert transcribe(CONTACT, STREAM, START, plenty, language=requested).language == "en-US"
    assert set(speech.languages) == {"en-US"}
    [record] = [r for r in caplog.records if r.getMessage().startswith("transcriber language not streamed")]
    assert record.reason == reason  # type: ignore[attr-defined]
    assert "please" not in repr(record.__dict__)  # free text is never logged


def silent_until(chunks: list[AudioChunk], track: Track, speech_at_ms: int) -> list[AudioChunk]:
    """The chunks with ``track`` silent before ``speech_at_ms`` (the greeting plays; the caller waits)."""
    return [replace(c, pcm=bytes(len(c.pcm))) if c.track == track and c.timecode_ms < speech_at_ms else c
            for c in chunks]  # fmt: skip


def test_a_track_s_stream_opens_at_its_first_speech_with_the_pre_roll_and_its_times_stay_media_times() -> None:
    chunks = silent_until(call_chunks(), CALLER, 2_000)
    source, speech, store = InMemoryAudioSource(chunks), ScriptedSpeechToText(), InMemoryTranscriptStore()

    outcome = use_case(source, speech, store)(CONTACT, STREAM, START, plenty)

    opened_at = 2_000 - PRE_ROLL_MS  # 100 ms blocks: the pre-roll is three of them
    assert speech.audio(CALLER) == track_audio(chunks, CALLER, from_ms=opened_at)  # the greeting's silence not sent
    assert speech.audio(AGENT) == track_audio(chunks, AGENT)
    caller = [s for s in outcome.speech.streams if s.track == CALLER]
    assert [(s.from_ms, s.streamed_ms) for s in caller] == [(opened_at, 6_000 - opened_at)]
    lines = [line for line in stored(store).lines if line.track == CALLER]
    assert lines[0].start_ms == opened_at and lines[-1].end_ms == 6_000  # result times mapped back once
    assert outcome.checkpoint == chunks[-1].position  # the silence held back is passed, not read again


def test_a_track_that_never_speaks_opens_no_stream_and_bills_nothing() -> None:
    chunks = call_chunks(fragments=12)
    chunks = silent_until(chunks, AGENT, 12_000)  # nobody speaks to the caller after the handover
    source = InMemoryAudioSource(chunks, pace_s=0.002)
    speech, store = ScriptedSpeechToText(), InMemoryTranscriptStore()
    sessions = HandingOverSessions(CONTACT, handed_over_after(source, 50))
    transcribe = use_case(source, speech, store, both_tracks=False, sessions=sessions, look_every_ms=10)

    outcome = transcribe(CONTACT, STREAM, START, plenty)

    assert stored(store).handover_at_ms is not None
    assert [track for track, _ in speech.streams] == [CALLER]
    assert outcome.speech.streamed_ms("after_handover", AGENT) == 0
    assert outcome.speech.billed_s() == outcome.speech.billed_s("before_handover") + outcome.speech.billed_s(
        "after_handover"
    )
    assert all(s.track == CALLER for s in outcome.speech.streams)
