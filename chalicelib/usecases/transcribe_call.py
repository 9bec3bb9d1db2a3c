"""Transcribe a call's live audio into the session's live transcript.

One invocation reads the call's media (``AudioSource``, a blocking iterator, on its own thread),
fans the chunks out per track to two recogniser streams (``SpeechToText``) running concurrently
on an asyncio loop, and writes their results to the session in small batches, under the version
condition (re-read and re-apply on a conflict: a turn or a consumer may write in between).

The checkpoint. Resuming at a ``MediaPosition`` re-reads the chunks *after* it (every chunk of
its timecode is skipped). So the checkpoint written is the position of the last chunk that

1. was sent to the recogniser, together with every other chunk of its timecode (when stopping,
   the run sends the rest of the current timecode and confirms it is complete by seeing a later
   chunk, the stream's end, or ``settle_ms`` of quiet: the KVS reader releases a timecode's
   chunks together), and
2. has all its results written: the recognisers only guarantee finals for audio they were sent
   once their input has ended, so the checkpoint moves when the run ends its recogniser streams
   and drains them, in the same write as the last results.

Resuming there neither skips nor re-sends audio. Batches written mid-run carry results only: a
run killed between two checkpoints is resumed from the previous one, and re-transcribing that
audio adds nothing (``apply_results`` drops a final overlapping a kept final on the same track).
When a recogniser stream fails, its results after its last final are lost with it, so the
checkpoint is the last timecode whose audio that track had finalized (or the start of its open
partial). The other track's audio after it was transcribed already: the checkpoint carries how
far (``sent_through_ms``) and the resumed run reads those chunks but does not send them again.

Outcomes: ``ended`` (the media stream ended), ``continue`` (``remaining_ms()`` fell below
``stop_before_ms``: the handler re-invokes with the checkpoint), ``retry`` (the media or the
recogniser was unavailable, or the store failed: same), ``failed`` (a permanent error, such as
malformed media).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from chalicelib.domain.live_transcript import CALLER, LiveTranscript, apply_results, is_after
from chalicelib.domain.ports import Clock, SessionRepository, TranscriptStore
from chalicelib.domain.speculation import normalized_transcript
from chalicelib.domain.speech import (
    AudioChunk,
    AudioSource,
    MediaPosition,
    SpeechToText,
    Track,
    TranscriptResult,
    is_voiced,
)
from chalicelib.errors import AppError, MediaStreamUnavailableError, SpeechToTextUnavailableError
from chalicelib.usecases.unit_of_work import IfMissing, TranscriptItems, update

_POLL_S = 0.05  # how often the run looks at the time left while no audio comes
_PARTIAL_LAG_MS = 250  # a partial ending this close before the speech stopped has all its words

Outcome = Literal["ended", "continue", "retry", "failed"]


@dataclass(frozen=True)
class TranscriptionOutcome:
    """How a run ended, where to resume, and what it did."""

    outcome: Outcome
    checkpoint: MediaPosition
    results: int = 0  # results received from the recognisers
    writes: int = 0  # session writes
    conflicts: int = 0  # writes re-applied after another writer's change
    audio_ms: float = 0.0  # audio sent, both tracks
    error: str = ""  # the error class that ended the run, if any

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
        }


class TranscribeCall:
    """Transcribe one call's media from a position until it ends or the time runs short.

    Args:
        audio: the call's media.
        speech: the recogniser (one stream per track).
        transcripts: where the live transcript is kept (beside the session, its own version).
        sessions: read to learn when the call was handed over (the human part starts there).
        clock: the wall clock (session timestamps).
        language: the recogniser's language code.
        flush_every_ms: how often results are written while the call goes on.
        stop_before_ms: stop when the invocation has less time left than this.
        drain_ms: how long ended recogniser streams may take to return their last results.
        settle_ms: how long to wait for the rest of a timecode when stopping.
        on_caller_pause: called (on a worker thread) with the contact and the caller's words when
            they are stable and a pause begins: a final result, or a partial that stayed the same
            through ``pause_ms`` of the caller's audio (no new word). Each text once.
            The speculative turn (``Speculate``) hangs here.
        pause_ms: the silence after stable words that counts as a pause.
    """

    def __init__(
        self,
        audio: AudioSource,
        speech: SpeechToText,
        transcripts: TranscriptStore,
        clock: Clock,
        *,
        sessions: SessionRepository | None = None,
        language: str,
        flush_every_ms: float = 500,
        stop_before_ms: float = 60_000,
        drain_ms: float = 15_000,
        settle_ms: float = 1_000,
        on_caller_pause: Callable[[str, str], object] | None = None,
        pause_ms: float = 300,
    ) -> None:
        self._audio = audio
        self._speech = speech
        self._transcripts = transcripts
        self._sessions = sessions
        self._clock = clock
        self._language = language
        self._flush_every_ms = flush_every_ms
        self._stop_before_ms = stop_before_ms
        self._drain_ms = drain_ms
        self._settle_ms = settle_ms
        self._on_caller_pause = on_caller_pause
        self._pause_ms = pause_ms

    def __call__(
        self,
        contact_id: str,
        stream_arn: str,
        start: MediaPosition,
        remaining_ms: Callable[[], float],
        *,
        language: str | None = None,
    ) -> TranscriptionOutcome:
        """Run until the stream ends, the time runs short, or a service fails (``language``
        overrides the configured one for this call).

        A checkpoint already on the session that is later than ``start`` wins: a duplicate or a
        replayed invocation does not transcribe again what was written.
        """
        live, _ = self._transcripts.load(contact_id, self._clock.now_ms())
        if live.checkpoint is not None and is_after(live.checkpoint, start):
            start = live.checkpoint
        skip = dict(live.sent_through_ms) if live.checkpoint == start else {}
        run = _Run(self, contact_id, stream_arn, start, remaining_ms, skip, language or self._language)
        return asyncio.run(run.run())

    def write(
        self,
        contact_id: str,
        results: Iterable[TranscriptResult],
        position: MediaPosition | None,
        status: str,
        sent_through_ms: tuple[tuple[Track, int], ...] = (),
    ) -> int:
        """Apply ``results`` to the transcript through the unit of work; the conflicts met."""
        batch = tuple(results)

        def change(live: LiveTranscript) -> LiveTranscript:
            in_handover = self._in_handover(contact_id, live, self._clock.now_ms())
            return apply_results(live, batch, position, status, sent_through_ms, in_handover=in_handover)

        items = TranscriptItems(self._transcripts)
        return update(items, self._clock, contact_id, change, if_missing=IfMissing.CREATE, what="transcript").conflicts

    def _in_handover(self, contact_id: str, live: LiveTranscript, now_ms: int) -> bool:
        """Whether the session shows the call handed over (read until the transcript knows)."""
        if live.handover_at_ms is not None or self._sessions is None:
            return live.handover_at_ms is not None
        session = self._sessions.load(contact_id, now_ms)
        return session is not None and session.handover is not None


@dataclass
class _End:
    error: BaseException | None = None


@dataclass
class _TrackState:
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    base_ms: int = 0  # the media timecode of the first chunk sent: results' times are from there
    open_partial_ms: int | None = None  # start of a result not final yet
    final_end_ms: int | None = None  # end of the newest final
    error: BaseException | None = None


class _Run:
    """One invocation's run (the state shared by the reader, the track tasks and the writer)."""

    def __init__(
        self,
        owner: TranscribeCall,
        contact_id: str,
        stream_arn: str,
        start: MediaPosition,
        remaining_ms: Callable[[], float],
        skip_through_ms: dict[Track, int],
        language: str,
    ) -> None:
        self.owner = owner
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
        self.caller_sent_ms = 0.0
        self.caller_voice_end_ms = 0.0  # the end of the caller's latest audio that held speech
        self.spoken_for = ""
        self.speculations: list[asyncio.Task[None]] = []

    async def run(self) -> TranscriptionOutcome:
        self.loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue[AudioChunk | _End] = asyncio.Queue()
        self.tracks: dict[Track, _TrackState] = {}
        stop_reading = threading.Event()
        reader = threading.Thread(target=self._read, args=(stop_reading,), name="media-reader", daemon=True)
        reader.start()
        self.stop_flushing = asyncio.Event()
        writer = asyncio.create_task(self._flush_periodically())
        outcome, error = await self._dispatch()
        self._pause_trigger(final_only=True)
        stop_reading.set()
        drained = await self._end_tracks()
        self.stop_flushing.set()
        await writer  # a write in flight finishes (or puts its batch back) before the last one
        failed = [state for state in self.tracks.values() if state.error is not None]
        if failed or not drained:
            outcome = "retry"
            error = error or next((type(s.error).__name__ for s in failed), "SpeechToTextDrainTimeout")
        checkpoint, through = self._checkpoint(failed, drained)
        status = {"ended": "ended", "continue": "continuing", "retry": "retrying", "failed": "failed"}[outcome]
        try:
            await self._write(checkpoint, status, through)
        except AppError as exc:  # the store failed: resume from the checkpoint last written
            return self._outcome("retry", self.written_checkpoint, type(exc).__name__)
        finally:
            await asyncio.gather(*self.speculations)  # a frozen Lambda would cut them off
        return self._outcome(outcome, checkpoint, error)

    def _outcome(self, outcome: Outcome, checkpoint: MediaPosition, error: str) -> TranscriptionOutcome:
        return TranscriptionOutcome(
            outcome, checkpoint, self.results, self.writes, self.conflicts, self.audio_ms, error
        )

    # --- reading the media (a thread: the AudioSource blocks) -----------------------------------

    def _read(self, stop: threading.Event) -> None:
        chunks: Iterator[AudioChunk] | None = None
        end = _End()
        try:
            chunks = iter(self.owner._audio.chunks(self.stream_arn, self.start))
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
            if self.remaining_ms() < self.owner._stop_before_ms:
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
                item = await asyncio.wait_for(self.inbox.get(), self.owner._settle_ms / 1000)
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
        if end_ms <= self.skip_through_ms.get(chunk.track, -1):
            return  # transcribed before this track's stream failed on the other track's account
        self.through[chunk.track] = int(end_ms)
        if chunk.track == CALLER:
            self.caller_sent_ms = end_ms
            if is_voiced(chunk.pcm):
                self.caller_voice_end_ms = end_ms
        state = self.tracks.get(chunk.track)
        if state is None:
            state = self.tracks[chunk.track] = _TrackState(base_ms=chunk.timecode_ms)
            state.task = asyncio.create_task(self._transcribe(chunk.track, state))
        state.queue.put_nowait(chunk.pcm)
        self.audio_ms += chunk.duration_ms

    async def _transcribe(self, track: Track, state: _TrackState) -> None:
        try:
            async for result in self.owner._speech.transcribe(track, _drain(state.queue), self.language):
                shifted = replace(
                    result, start_ms=result.start_ms + state.base_ms, end_ms=result.end_ms + state.base_ms
                )
                if shifted.is_partial:
                    state.open_partial_ms = shifted.start_ms
                else:
                    state.open_partial_ms = None
                    state.final_end_ms = max(shifted.end_ms, state.final_end_ms or shifted.end_ms)
                self.pending.append(shifted)
                self.results += 1
                if track == CALLER:
                    self.caller_latest = shifted
                    self._pause_trigger(final_only=True)
        except Exception as exc:  # noqa: BLE001 - SpeechToTextUnavailableError, or anything else: resume
            state.error = exc

    def _pause_trigger(self, *, final_only: bool = False) -> None:
        """Start a speculative turn on the caller's words once they are stable and a pause
        begins (see ``TranscribeCall``); never twice for the same words."""
        hook, latest = self.owner._on_caller_pause, self.caller_latest
        if hook is None or latest is None or not latest.text.strip():
            return
        # A pause: ``pause_ms`` of the caller's audio without speech (an energy gate on the
        # caller's own track), with the partial caught up to the speech before it. Stable = the
        # partial unchanged through that pause: Transcribe flags the trailing words stable only
        # with its final (a second or more after the caller stops), too late for a turn Lex hands
        # over 600 ms after the caller stops. If the words then change, Lex's final will not
        # match and the speculation is wasted (and counted).
        silent_ms = self.caller_sent_ms - self.caller_voice_end_ms
        caught_up = latest.end_ms >= self.caller_voice_end_ms - _PARTIAL_LAG_MS
        paused = not final_only and silent_ms >= self.owner._pause_ms and caught_up
        if latest.is_partial and not paused:
            return
        words = normalized_transcript(latest.text)
        if words == self.spoken_for:
            return
        self.spoken_for = words
        self.speculations.append(asyncio.create_task(_call_quietly(hook, self.contact_id, latest.text)))

    async def _end_tracks(self) -> bool:
        """End every track's audio and wait for their last results; False if they took too long."""
        for state in self.tracks.values():
            state.queue.put_nowait(None)
        tasks = [state.task for state in self.tracks.values() if state.task is not None]
        if not tasks:
            return True
        _, late = await asyncio.wait(tasks, timeout=self.owner._drain_ms / 1000)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return not late

    def _checkpoint(
        self, failed: list[_TrackState], drained: bool
    ) -> tuple[MediaPosition, tuple[tuple[Track, int], ...]]:
        """The last timecode sent whose results are all in (see the module doc), and how far
        each track's audio was sent when that is later (the tracks whose stream did not fail)."""
        if not drained:
            return self.written_checkpoint, ()
        if not self.sent:
            return self.start, tuple(self.skip_through_ms.items())
        if not failed:
            return self.sent[-1][0], ()
        # A failed stream: only the audio it had finalized counts; the other tracks need not
        # send again what they sent after that.
        covered = min(
            state.open_partial_ms
            if state.open_partial_ms is not None
            else (state.final_end_ms if state.final_end_ms is not None else state.base_ms)
            for state in failed
        )
        done = [position for position, end_ms in self.sent if end_ms <= covered]
        failed_tracks = {track for track, state in self.tracks.items() if state in failed}
        through = {
            track: max(self.through.get(track, -1), self.skip_through_ms.get(track, -1))
            for track in set(self.through) | set(self.skip_through_ms)
            if track not in failed_tracks
        }
        return (done[-1] if done else self.start), tuple(sorted(through.items()))

    # --- writing results ----------------------------------------------------------------------

    async def _flush_periodically(self) -> None:
        while not self.stop_flushing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_flushing.wait(), self.owner._flush_every_ms / 1000)
            if self.pending and not self.stop_flushing.is_set():
                try:
                    await self._write(None, "transcribing")
                except AppError:
                    continue  # kept pending: the next flush or the final write tries again

    async def _write(
        self, checkpoint: MediaPosition | None, status: str, through: tuple[tuple[Track, int], ...] = ()
    ) -> None:
        batch = list(self.pending)
        self.pending.clear()
        try:
            write = self.owner.write
            conflicts = await asyncio.to_thread(write, self.contact_id, batch, checkpoint, status, through)
        except AppError:
            self.pending[:0] = batch
            raise
        self.writes += 1
        self.conflicts += conflicts
        if checkpoint is not None:
            self.written_checkpoint = checkpoint


async def _call_quietly(hook: Callable[[str, str], object], contact_id: str, text: str) -> None:
    """Run the pause hook on a thread; its failure costs a speculation, never the transcript."""
    try:
        await asyncio.to_thread(hook, contact_id, text)
    except Exception:  # noqa: BLE001 - a speculation is optional work
        return


async def _drain(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    while (pcm := await queue.get()) is not None:
        yield pcm
