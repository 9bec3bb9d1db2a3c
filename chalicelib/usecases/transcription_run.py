"""One transcriber invocation's run: the media reader (a thread: the ``AudioSource`` blocks), one
recogniser stream per transcribed track (``SpeechToText``, concurrently on an asyncio loop), the
writer of their results (in small batches, through ``TranscribeCall``'s write), the look at the
session (is the call handed over yet?), and the caller's pause trigger. Where it may resume and
when the caller paused are the domain's rules (``domain/transcription.py``), which tracks go to
the recogniser is ``domain/recognised_tracks.py``; this module keeps the state they are computed
from.

Tracks. The caller's track always goes to the recogniser. The to-customer track goes from the
handover on, or throughout with ``bot_track``; before that only its energy is kept. Where the
handover falls, the media per phase and the played spans are ``call_phases.CallPhases``.

A track's recogniser stream opens at the track's first speech (``is_voiced``), not at its first
audio: Transcribe bills a stream for the audio it is sent, and until the caller first speaks
their track carries only the line while our greeting plays; after a handover the agent's track
is silent until the agent speaks. The ``PRE_ROLL_MS`` of audio before that first speech goes
with it (a soft onset under the voice gate is not lost), and from there every chunk is sent:
the stream's audio is one unbroken span from its ``base_ms``, so its result times map back to
media time by one offset. Audio held and never sent is silence: the checkpoint passes it.

Each result is redacted the moment it comes back (``transcription.protect_result``), with the
run's one ``RedactionState`` for the contact and, as context, the track's own newest final and
what the caller heard last: the agent's newest final, or — while the bot has the call — the
bot's newest replies from the session (``SessionView.bot_said``). Nothing after that point —
the pending batch, the transcript, the pause hook — ever holds the raw words.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from chalicelib.domain.live_transcript import AGENT, CALLER, PlayedSpan
from chalicelib.domain.recognised_tracks import AFTER, BEFORE, Phase, SessionView, SpeechUsage, StreamUsage
from chalicelib.domain.redaction import RedactionContext, Redactor
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.domain.speech import (
    AudioChunk,
    AudioSource,
    MediaPosition,
    SpeechToText,
    Track,
    TranscriptResult,
    is_voiced,
)
from chalicelib.domain.transcription import SentThrough, TrackProgress, paused_words, protect_result, resume_point
from chalicelib.domain.words_key import NO_VOCABULARY, MatchVocabulary
from chalicelib.errors import AppError, MediaStreamUnavailableError, SpeechToTextUnavailableError
from chalicelib.usecases.call_phases import CallPhases

_POLL_S = 0.05  # how often the run looks at the time left while no audio comes
# The audio before a track's first speech that opens its stream with it: a voice-activity
# detector's prefix padding (OpenAI Realtime's server VAD keeps 300 ms, ``prefix_padding_ms``).
PRE_ROLL_MS = 300

Outcome = Literal["ended", "continue", "retry", "failed"]
_STATUS: dict[Outcome, str] = {"ended": "ended", "continue": "continuing", "retry": "retrying", "failed": "failed"}
# Looks at the session: whether the call was handed over, what the bot said (its replies).
LookAtSession = Callable[[], SessionView]
# The pause hook: the contact, the caller's words (redacted), whether they held caller data, and
# the language the call is transcribed in (a first turn's speculation has no session to read it from).
PauseHook = Callable[[str, str, bool, str], object]


@dataclass(frozen=True)
class TranscriptionOutcome:
    """How a run ended, where to resume, and what it did."""

    outcome: Outcome
    checkpoint: MediaPosition
    results: int = 0  # results received from the recognisers
    writes: int = 0  # transcript writes
    conflicts: int = 0  # writes re-applied after another writer's change
    audio_ms: float = 0.0  # audio sent to the recogniser, every track
    error: str = ""  # the error class that ended the run, if any
    speech: SpeechUsage = field(default_factory=SpeechUsage)  # what went to the recogniser, per stream and phase
    language: str = ""  # the language the call was transcribed in

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "checkpoint": {
                "fragment_number": self.checkpoint.fragment_number,
                "timecode_ms": self.checkpoint.timecode_ms,
            },
            "results": self.results,
            "writes": self.writes,
            "conflicts": self.conflicts,
            "audio_ms": round(self.audio_ms, 1),
            "error": self.error,
            "transcribe": self.speech.as_dict(),
            "language": self.language,
        }


@dataclass(frozen=True)
class RunTimings:
    """How often the run writes, when it stops, and how long it waits (see ``TranscribeCall``)."""

    flush_every_ms: float
    stop_before_ms: float
    drain_ms: float
    settle_ms: float
    pause_ms: float
    look_every_ms: float = 1_000


@dataclass(frozen=True)
class TranscriptBatch:
    """One write: results, the played spans, the handover's place, the checkpoint (when there
    is one) with how far each track was sent, and the status."""

    results: tuple[TranscriptResult, ...]
    position: MediaPosition | None
    status: str
    sent_through: SentThrough = ()
    handover_at_ms: int | None = None
    played: tuple[PlayedSpan, ...] = ()


# Writes a batch; the conflicts met.
WriteResults = Callable[[TranscriptBatch], int]


@dataclass
class _End:
    error: BaseException | None = None


@dataclass
class _TrackState:
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    base_ms: int = 0  # the media timecode of the first chunk sent: results' times are from there
    sent_ms: dict[Phase, float] = field(default_factory=dict)  # the audio it sent, per phase
    open_partial_ms: int | None = None  # start of a result not final yet
    final_end_ms: int | None = None  # end of the newest final
    error: BaseException | None = None

    def progress(self) -> TrackProgress:
        return TrackProgress(self.base_ms, self.open_partial_ms, self.final_end_ms, failed=self.error is not None)


class TranscriptionRun:
    """The state shared by the reader, the track tasks and the writer of one invocation."""

    def __init__(
        self,
        audio: AudioSource,
        speech: SpeechToText,
        write: WriteResults,
        timings: RunTimings,
        *,
        contact_id: str,
        stream_arn: str,
        start: MediaPosition,
        remaining_ms: Callable[[], float],
        skip_through_ms: dict[Track, int],
        language: str,
        redactor: Redactor,
        on_caller_pause: PauseHook | None = None,
        vocabulary: MatchVocabulary = NO_VOCABULARY,
        end_timeout_after: Callable[[str], float] | None = None,
        look: LookAtSession | None = None,
        seen: SessionView | None = None,
        handover_at_ms: int | None = None,
        bot_track: bool = False,
    ) -> None:
        self._audio, self._speech, self._write_results, self._timings = audio, speech, write, timings
        self._on_caller_pause = on_caller_pause
        self._vocabulary = vocabulary
        self._end_timeout_after = end_timeout_after
        self._redactor = redactor
        self._look = look
        self._bot_track = bot_track
        self.seen = seen or SessionView()  # the session as last looked at
        self.phases = CallPhases(handover_at_ms, self.seen)  # the handover's place, media per phase, played spans
        self.looked_at = 0.0  # the loop's time of the last look
        self.redaction = RedactionState(scope=contact_id)  # the call's tokens, this run's only
        self.latest_final: dict[Track, str] = {}  # per track, its newest final (redacted): the context
        self.language = language
        self.skip_through_ms = skip_through_ms
        self.contact_id = contact_id
        self.stream_arn = stream_arn
        self.start = start
        self.remaining_ms = remaining_ms
        self.pending: list[TranscriptResult] = []
        self.sent: list[tuple[MediaPosition, float]] = []  # per timecode sent: position, end (ms)
        self.through: dict[Track, int] = {}  # per track: the media time its audio was sent to
        self.results = 0
        self.writes = 0
        self.conflicts = 0
        self.audio_ms = 0.0
        self.written_checkpoint = start
        # The caller's newest result and how far their audio was sent: the pause trigger.
        self.caller_latest: TranscriptResult | None = None
        self.caller_latest_data = False  # whether the caller's newest result held caller data
        self.caller_sent_ms = 0.0
        self.caller_voice_end_ms = 0.0  # the end of the caller's latest audio that held speech
        self.speculated_words = ""  # the caller's words a speculation was last started on
        self.speculations: list[asyncio.Task[None]] = []
        # Per track whose stream is not open yet: its newest PRE_ROLL_MS of silence, and their phases.
        self.held: dict[Track, deque[tuple[AudioChunk, Phase]]] = {}

    async def run(self) -> TranscriptionOutcome:
        self.loop = asyncio.get_running_loop()
        self.looked_at = self.loop.time()  # looked at when the run started (``seen``)
        self.inbox: asyncio.Queue[AudioChunk | _End] = asyncio.Queue()
        self.tracks: dict[Track, _TrackState] = {}
        stop_reading = threading.Event()
        reader = threading.Thread(target=self._read, args=(stop_reading,), name="media-reader", daemon=True)
        reader.start()
        self.stop_flushing = asyncio.Event()
        writer = asyncio.create_task(self._flush_periodically())
        outcome, error = await self._dispatch()
        self._pause_trigger(final_only=True)
        self.phases.close_played()
        stop_reading.set()
        drained = await self._end_tracks()
        self.stop_flushing.set()
        await writer  # a write in flight finishes (or puts its batch back) before the last one
        failed = [state for state in self.tracks.values() if state.error is not None]
        if failed or not drained:
            outcome = "retry"
            error = error or next((type(s.error).__name__ for s in failed), "SpeechToTextDrainTimeout")
        progress = {track: state.progress() for track, state in self.tracks.items()}
        checkpoint, through = resume_point(self.start, self.sent, progress, self.through, self.skip_through_ms,
                                           drained=drained, written=self.written_checkpoint)  # fmt: skip
        try:
            await self._write(checkpoint, _STATUS[outcome], through)
        except AppError as exc:  # the store failed: resume from the checkpoint last written
            return self._outcome("retry", self.written_checkpoint, type(exc).__name__)
        finally:
            await asyncio.gather(*self.speculations)  # a frozen Lambda would cut them off
        return self._outcome(outcome, checkpoint, error)

    def _outcome(self, outcome: Outcome, checkpoint: MediaPosition, error: str) -> TranscriptionOutcome:
        return TranscriptionOutcome(
            outcome, checkpoint, self.results, self.writes, self.conflicts, self.audio_ms, error, self.speech_usage()
        )

    def speech_usage(self) -> SpeechUsage:
        """What this run streamed to the recogniser (its streams) and the media it read."""
        streams = tuple(
            StreamUsage(track, state.base_ms, state.sent_ms.get(BEFORE, 0.0), state.sent_ms.get(AFTER, 0.0))
            for track, state in self.tracks.items()
        )
        return SpeechUsage(streams, tuple(sorted(self.phases.media_ms.items())), self.phases.handover_at_ms)

    # --- reading the media (a thread: the AudioSource blocks) -----------------------------------

    def _read(self, stop: threading.Event) -> None:
        chunks: Iterator[AudioChunk] | None = None
        end = _End()
        try:
            chunks = iter(self._audio.chunks(self.stream_arn, self.start))
            for chunk in chunks:
                self._post(chunk)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, which decides
            end = _End(exc)
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):  # closing an abandoned stream: nothing to save
                    close()
            self._post(end)

    def _post(self, item: AudioChunk | _End) -> None:
        with contextlib.suppress(RuntimeError):  # the run is over, its loop closed: not wanted
            self.loop.call_soon_threadsafe(self.inbox.put_nowait, item)

    # --- sending audio ------------------------------------------------------------------------

    async def _dispatch(self) -> tuple[Outcome, str]:
        """Send chunks until the stream ends, the time runs short or a recogniser fails."""
        while True:
            if any(state.error is not None for state in self.tracks.values()):
                return "retry", ""
            if self.remaining_ms() < self._timings.stop_before_ms:
                await self._finish_timecode()
                return "continue", ""
            self._pause_trigger()
            try:
                item = await asyncio.wait_for(self.inbox.get(), _POLL_S)
            except TimeoutError:
                continue
            if isinstance(item, _End):
                return self._end_outcome(item)
            self._send(item)

    def _end_outcome(self, end: _End) -> tuple[Outcome, str]:
        if end.error is None:
            return "ended", ""
        name = type(end.error).__name__
        if isinstance(end.error, (MediaStreamUnavailableError, SpeechToTextUnavailableError)):
            return "retry", name
        if isinstance(end.error, AppError) and end.error.retryable:
            return "retry", name
        return "failed", name

    async def _finish_timecode(self) -> None:
        """Send the rest of the last chunk's timecode (a checkpoint skips all of it)."""
        if not self.sent:
            return
        last = self.sent[-1][0]
        while True:
            try:
                item = await asyncio.wait_for(self.inbox.get(), self._timings.settle_ms / 1000)
            except TimeoutError:
                return
            if isinstance(item, _End) or item.position != last:
                return  # a later chunk (not sent: the resumed run reads it) or the end
            self._send(item)

    def _send(self, chunk: AudioChunk) -> None:
        end_ms = chunk.timecode_ms + chunk.duration_ms
        if self.sent and self.sent[-1][0] == chunk.position:
            self.sent[-1] = (chunk.position, max(self.sent[-1][1], end_ms))
        else:
            self.sent.append((chunk.position, end_ms))
        phase = self.phases.place(chunk)  # a handover seen on the session: the human part starts here
        if end_ms <= self.skip_through_ms.get(chunk.track, -1):
            return  # transcribed before this track's stream failed on the other track's account
        if chunk.track == AGENT and not self._bot_track and phase == BEFORE:
            self.phases.note_played(chunk)  # our own prompt: its words are the session's
            return
        self.through[chunk.track] = int(end_ms)
        if chunk.track == CALLER:
            self.caller_sent_ms = end_ms
            if is_voiced(chunk.pcm):
                self.caller_voice_end_ms = end_ms
        state = self.tracks.get(chunk.track) or self._open_on_speech(chunk, phase)
        if state is not None:
            self._stream(state, chunk, phase)

    def _open_on_speech(self, chunk: AudioChunk, phase: Phase) -> _TrackState | None:
        """The track's stream, opened now if ``chunk`` holds its first speech (the held pre-roll
        sent first); None while the track is still silent (``chunk`` is held)."""
        held = self.held.setdefault(chunk.track, deque())
        while held and chunk.timecode_ms - held[0][0].timecode_ms > PRE_ROLL_MS:
            held.popleft()
        if not is_voiced(chunk.pcm):
            held.append((chunk, phase))
            return None
        first = held[0][0] if held else chunk
        state = self.tracks[chunk.track] = _TrackState(base_ms=first.timecode_ms)
        state.task = asyncio.create_task(self._transcribe(chunk.track, state))
        for before, its_phase in held:
            self._stream(state, before, its_phase)
        del self.held[chunk.track]
        return state

    def _stream(self, state: _TrackState, chunk: AudioChunk, phase: Phase) -> None:
        state.queue.put_nowait(chunk.pcm)
        state.sent_ms[phase] = state.sent_ms.get(phase, 0.0) + chunk.duration_ms
        self.audio_ms += chunk.duration_ms

    async def _transcribe(self, track: Track, state: _TrackState) -> None:
        try:
            async for result in self._speech.transcribe(track, _drain(state.queue), self.language):
                shifted, caller_data = self._protected(track, replace(
                    result, start_ms=result.start_ms + state.base_ms, end_ms=result.end_ms + state.base_ms
                ))  # fmt: skip
                if shifted.is_partial:
                    state.open_partial_ms = shifted.start_ms
                else:
                    state.open_partial_ms = None
                    state.final_end_ms = max(shifted.end_ms, state.final_end_ms or shifted.end_ms)
                self.pending.append(shifted)
                self.results += 1
                if track == CALLER:
                    self.caller_latest, self.caller_latest_data = shifted, caller_data
                    self._pause_trigger(final_only=True)
        except Exception as exc:  # noqa: BLE001 - SpeechToTextUnavailableError, or anything else: resume
            state.error = exc

    def _protected(self, track: Track, result: TranscriptResult) -> tuple[TranscriptResult, bool]:
        """``result`` redacted, and whether it held caller data (both tracks: the agent reads
        numbers back too); a final becomes its track's context for the next results. The
        caller heard the agent's newest final, or (none yet: the bot has the call) the bot's
        newest replies."""
        if track == CALLER:
            heard = self.latest_final.get(AGENT) or self.seen.bot_said
        else:
            heard = self.latest_final.get(CALLER, "")
        # Transcribe writes the run's language (its words, and English digits a caller may switch to).
        context = RedactionContext(prompt=heard, previous_utterance=self.latest_final.get(track, ""),
                                   language=self.language)  # fmt: skip
        protected = protect_result(self._redactor, result, self.redaction, context)
        self.redaction = protected.state
        if not result.is_partial and protected.result.text:
            self.latest_final[track] = protected.result.text
        return protected.result, protected.caller_data

    def _pause_trigger(self, *, final_only: bool = False) -> None:
        """Start a speculative turn on the caller's words once they are stable and a pause
        begins (``transcription.paused_words``); never twice for the same words."""
        hook, latest = self._on_caller_pause, self.caller_latest
        if hook is None or latest is None:
            return
        # Lex's end timeout while the caller answers the bot's newest reply: the pause scales with it.
        said = self.seen.last_reply
        end_timeout = self._end_timeout_after(said) if self._end_timeout_after is not None and said else None
        words = paused_words(latest, sent_ms=self.caller_sent_ms, voice_end_ms=self.caller_voice_end_ms,
                             pause_ms=self._timings.pause_ms, final_only=final_only,
                             already=self.speculated_words, vocabulary=self._vocabulary,
                             end_timeout_ms=end_timeout)  # fmt: skip
        if words is None:
            return
        self.speculated_words = words
        task = _call_quietly(hook, self.contact_id, latest.text, self.caller_latest_data, self.language)
        self.speculations.append(asyncio.create_task(task))

    async def _end_tracks(self) -> bool:
        """End every track's audio and wait for their last results; False if they took too long."""
        for state in self.tracks.values():
            state.queue.put_nowait(None)
        tasks = [state.task for state in self.tracks.values() if state.task is not None]
        if not tasks:
            return True
        _, late = await asyncio.wait(tasks, timeout=self._timings.drain_ms / 1000)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return not late

    # --- writing results ----------------------------------------------------------------------

    async def _flush_periodically(self) -> None:
        while not self.stop_flushing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_flushing.wait(), self._timings.flush_every_ms / 1000)
            if self.stop_flushing.is_set():
                return
            await self._look_at_session()
            if self.pending or self.phases.unwritten:
                try:
                    await self._write(None, "transcribing")
                except AppError:
                    continue  # kept pending: the next flush or the final write tries again

    async def _look_at_session(self) -> None:
        """Read the session every ``look_every_ms`` until it shows the handover (one read, never
        per chunk); the bot's replies it holds are the caller's context meanwhile."""
        if self._look is None or self.phases.placed:
            return
        if (self.loop.time() - self.looked_at) * 1000 < self._timings.look_every_ms:
            return
        self.looked_at = self.loop.time()
        try:
            self.seen = await asyncio.to_thread(self._look)
        except AppError:
            return  # the store failed: look again next time
        self.phases.saw(self.seen)

    async def _write(self, checkpoint: MediaPosition | None, status: str, through: SentThrough = ()) -> None:
        results, played, handover_at = tuple(self.pending), self.phases.take_played(), self.phases.handover_at_ms
        self.pending.clear()
        batch = TranscriptBatch(results, checkpoint, status, through, handover_at, played)
        try:
            conflicts = await asyncio.to_thread(self._write_results, batch)
        except AppError:
            self.pending[:0] = results
            self.phases.put_back(played)
            raise
        self.writes += 1
        self.conflicts += conflicts
        self.phases.wrote(handover_at)
        if checkpoint is not None:
            self.written_checkpoint = checkpoint


async def _call_quietly(hook: PauseHook, contact_id: str, text: str, caller_data: bool, language: str) -> None:
    """Run the pause hook on a thread; its failure costs a speculation, never the transcript."""
    try:
        await asyncio.to_thread(hook, contact_id, text, caller_data, language)
    except Exception:  # noqa: BLE001 - a speculation is optional work
        return


async def _drain(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    while (pcm := await queue.get()) is not None:
        yield pcm
