"""Transcribe a call's live audio into its live transcript (its own item beside the session).

One invocation reads the call's media (``AudioSource``), sends the caller's track to a recogniser
stream (``SpeechToText``) and, once the call is handed over, the to-customer track to a second
one running concurrently (before that it plays our own prompts: only when sound played is kept;
``domain/recognised_tracks.py``), and writes their results to the transcript in small batches
through the unit of work (its version condition: a duplicate or a continuation writing in
between is re-read and re-applied). The run itself is ``transcription_run.TranscriptionRun``;
where it resumes (the checkpoint, written with the last results) and when the caller paused are
the domain's rules, ``domain/transcription.py``.

The session is read when a run starts and then every ``look_every_ms`` until it shows the
handover: the handover's place on the media timeline is written to the transcript, so a resumed
run transcribes the to-customer track from there. What the run streamed is its answer's
``transcribe`` (per track, before and after the handover) and, with a ``meter``, Transcribe
usage for the ledger (billed per stream: per second, 15 s minimum).

Outcomes: ``ended`` (the media stream ended), ``continue`` (``remaining_ms()`` fell below
``stop_before_ms``: the handler re-invokes with the checkpoint), ``retry`` (the media or the
recogniser was unavailable, or the store failed: same), ``failed`` (a permanent error, such as
malformed media).

Everything it writes holds redacted text only: each result is redacted as it comes back, with
one ``RedactionState`` per contact for the run (``transcription.protect_result``). Its tokens
need only be stable within the run: nothing it fingerprints is stored, so the redactor's key may
be the container's own random one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Iterable

from chalicelib.domain.live_transcript import LiveTranscript, PlayedSpan, apply_results, is_after
from chalicelib.domain.ports import Clock, SessionRepository, TranscriptStore, UsageMeter
from chalicelib.domain.recognised_tracks import SessionView, session_view
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.speech import (
    LANGUAGE_UNSUPPORTED,
    AudioSource,
    MediaPosition,
    SpeechToText,
    StreamLanguage,
    Track,
    TranscriptResult,
    stream_language,
)
from chalicelib.domain.words_key import NO_VOCABULARY, MatchVocabulary
from chalicelib.errors import AppError
from chalicelib.observability import logger
from chalicelib.usecases.transcription_run import (
    PauseHook,
    RunTimings,
    TranscriptBatch,
    TranscriptionOutcome,
    TranscriptionRun,
)
from chalicelib.usecases.unit_of_work import IfMissing, TranscriptItems, update

__all__ = ["TranscribeCall", "TranscriptionOutcome"]


class TranscribeCall:
    """Transcribe one call's media from a position until it ends or the time runs short.

    Args:
        audio: the call's media.
        speech: the recogniser (one stream per track).
        transcripts: where the live transcript is kept (beside the session, its own version).
        sessions: read to learn when the call was handed over (the human part starts there, and
            the to-customer track is transcribed from there) and what the bot said (the
            caller's redaction context until then). None: never handed over.
        clock: the wall clock (the transcript's timestamps and TTL).
        redactor: takes the caller data out of every result before it is kept (both tracks).
        language: the recogniser's language code when a call names none it can stream in (the
            stage's ``SWITCHBOARD_SPEECH_LANGUAGE``).
        languages: the codes the recogniser streams in (``transcribe_languages.json``): a call is
            transcribed in the language its invocation names when it is one of them, else in
            ``language``, the reason logged (``domain.speech.stream_language``). Empty: the
            invocation's language is used as given.
        flush_every_ms: how often results are written while the call goes on.
        stop_before_ms: stop when the invocation has less time left than this.
        drain_ms: how long ended recogniser streams may take to return their last results.
        settle_ms: how long to wait for the rest of a timecode when stopping.
        on_caller_pause: called (on a worker thread) with the contact, the caller's words
            (redacted), whether they held caller data and the call's language, when they are stable and a pause
            begins: a final result, or a partial that stayed the same through ``pause_ms`` of the
            caller's audio (no new word). Each text once. The speculative turn (``Speculate``)
            hangs here.
        pause_ms: the silence after stable words that counts as a pause.
        look_every_ms: how often the session is read until it shows the handover.
        bot_track: transcribe the to-customer track before a handover too (our own prompts:
            twice the Transcribe cost; ``SWITCHBOARD_TRANSCRIBE_BOT_TRACK``).
        meter: where the Transcribe usage of each run is recorded (None: not recorded).
        vocabulary: the words a speculation's key leaves out (fillers, a trailing courtesy word).
        end_timeout_after: Lex's end timeout (ms) while the caller answers a reply the bot said,
            in the call's language (``(said, language)``): the pause that starts a speculation
            scales with it (``pause_before_speculating``).
        warm: called once on a thread as a run starts, while the greeting plays: builds what the
            pause hook needs (the model client, the tools), so the caller's first pause does not
            pay for a cold client (the speculation's first model call would time out).
    """

    def __init__(
        self,
        audio: AudioSource,
        speech: SpeechToText,
        transcripts: TranscriptStore,
        clock: Clock,
        *,
        sessions: SessionRepository | None = None,
        redactor: Redactor,
        language: str,
        languages: frozenset[str] = frozenset(),
        flush_every_ms: float = 500,
        stop_before_ms: float = 60_000,
        drain_ms: float = 15_000,
        settle_ms: float = 1_000,
        on_caller_pause: PauseHook | None = None,
        pause_ms: float = 300,
        look_every_ms: float = 1_000,
        bot_track: bool = False,
        meter: UsageMeter | None = None,
        warm: Callable[[], object] | None = None,
        vocabulary: MatchVocabulary = NO_VOCABULARY,
        end_timeout_after: Callable[[str, str], float] | None = None,
    ) -> None:
        self._audio = audio
        self._speech = speech
        self._transcripts = transcripts
        self._sessions = sessions
        self._clock = clock
        self._language = language
        self._languages = languages
        self._timings = RunTimings(flush_every_ms, stop_before_ms, drain_ms, settle_ms, pause_ms, look_every_ms)
        self._bot_track = bot_track
        self._meter = meter
        self._on_caller_pause = on_caller_pause
        self._warm = warm
        self._vocabulary = vocabulary
        self._end_timeout_after = end_timeout_after
        self._redactor = redactor

    def __call__(
        self,
        contact_id: str,
        stream_arn: str,
        start: MediaPosition,
        remaining_ms: Callable[[], float],
        *,
        language: str | None = None,
    ) -> TranscriptionOutcome:
        """Run until the stream ends, the time runs short, or a service fails (``language``: the
        call's, Connect's ``LanguageCode``; used when the recogniser streams in it, else the
        configured one, with the reason logged).

        A checkpoint already on the transcript that is later than ``start`` wins: a duplicate or
        a replayed invocation does not transcribe again what was written. A handover already on
        the transcript is where the to-customer track is transcribed from; one the session shows
        but the transcript does not is placed at the first chunk this run reads.
        """
        chosen = self.stream_language(language)
        warming = self._start_warming()
        live, _ = self._transcripts.load(contact_id, self._clock.now_ms())
        if live.checkpoint is not None and is_after(live.checkpoint, start):
            start = live.checkpoint
        skip = dict(live.sent_through_ms) if live.checkpoint == start else {}

        def write(batch: TranscriptBatch) -> int:
            return self.write(contact_id, batch.results, batch.position, batch.status, batch.sent_through,
                              handover_at_ms=batch.handover_at_ms, played=batch.played)  # fmt: skip

        look = (lambda: self.look(contact_id)) if self._sessions is not None else None
        run = TranscriptionRun(
            self._audio, self._speech, write, self._timings, contact_id=contact_id, stream_arn=stream_arn,
            start=start, remaining_ms=remaining_ms, skip_through_ms=skip, language=chosen.language,
            redactor=self._redactor, on_caller_pause=self._on_caller_pause, look=look,
            vocabulary=self._vocabulary, end_timeout_after=self._end_timeout_in(chosen.language),
            seen=self._first_look(contact_id), handover_at_ms=live.handover_at_ms, bot_track=self._bot_track,
        )  # fmt: skip
        outcome = asyncio.run(run.run())
        if warming is not None:
            warming.join()
        if self._meter is not None:
            for usage in outcome.speech.usage():
                self._meter.record(usage)
        return dataclasses.replace(outcome, language=chosen.language)

    def _end_timeout_in(self, language: str) -> Callable[[str], float] | None:
        """The end timeout after what the bot said, read with the cues of the call's language."""
        after = self._end_timeout_after
        return None if after is None else (lambda said: after(said, language))

    def stream_language(self, language: str | None) -> StreamLanguage:
        """The language this call streams in (see ``__call__``); a refused one is logged by
        reason, with the code only when it is a well-formed one (never free text)."""
        if not self._languages:
            return StreamLanguage(language or self._language)
        chosen = stream_language(language, self._language, self._languages)
        if chosen.reason is not None:
            extra = {"reason": chosen.reason, "language": chosen.language}
            if chosen.reason == LANGUAGE_UNSUPPORTED:
                extra["requested"] = str(language)
            logger.warning("transcriber language not streamed, the stage's default used", extra=extra)
        return chosen

    def _start_warming(self) -> threading.Thread | None:
        if self._warm is None or self._on_caller_pause is None:
            return None
        warm = self._warm

        def run() -> None:
            try:
                warm()
            except Exception:  # noqa: BLE001 - warming is optional: the first pause pays instead
                logger.warning("pause hook not warmed")

        thread = threading.Thread(target=run, name="warm-pause-hook", daemon=True)
        thread.start()
        return thread

    def write(
        self,
        contact_id: str,
        results: Iterable[TranscriptResult],
        position: MediaPosition | None,
        status: str,
        sent_through_ms: tuple[tuple[Track, int], ...] = (),
        *,
        handover_at_ms: int | None = None,
        played: Iterable[PlayedSpan] = (),
    ) -> int:
        """Apply ``results`` (redacted: the run's), the ``played`` spans and the handover's
        place to the transcript through the unit of work; the conflicts met."""
        batch, spans = tuple(results), tuple(played)

        def change(live: LiveTranscript) -> LiveTranscript:
            return apply_results(live, batch, position, status, sent_through_ms,
                                 handover_at_ms=handover_at_ms, played=spans)  # fmt: skip

        items = TranscriptItems(self._transcripts)
        return update(items, self._clock, contact_id, change, if_missing=IfMissing.CREATE, what="transcript").conflicts

    def look(self, contact_id: str) -> SessionView:
        """The session as the transcriber needs it: handed over yet, what the bot said."""
        if self._sessions is None:
            return SessionView()
        return session_view(self._sessions.load(contact_id, self._clock.now_ms()))

    def _first_look(self, contact_id: str) -> SessionView:
        """The session when a run starts (a failed read: as if not handed over; the run looks
        again a second later)."""
        try:
            return self.look(contact_id)
        except AppError:
            return SessionView()
