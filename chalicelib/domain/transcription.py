"""The transcriber's rules, beside the transcript they feed (``live_transcript.apply_results``):
where a run may resume (the checkpoint), and when the caller has paused on stable words (the
trigger of a speculative turn). Pure: the run (``usecases/transcription_run.py``) passes in
what it sent and what came back.

The checkpoint. Resuming at a ``MediaPosition`` re-reads the chunks *after* it (every chunk of
its timecode is skipped). So the checkpoint written is the position of the last chunk that

1. was sent to the recogniser, together with every other chunk of its timecode (when stopping,
   the run sends the rest of the current timecode and confirms it is complete by seeing a later
   chunk, the stream's end, or a moment of quiet: the KVS reader releases a timecode's chunks
   together), and
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

Caller data (invariant 9). Every result is redacted as it comes back, before the run keeps it
(``protect_result``): the transcript, the pause trigger and the speculation it starts only ever
see tokens. A partial is more: its last number may still be being read ("four one one one, one
one one one" is no card yet), so a number at its end that the policy has not placed is held back
as the long-number label until a later result says what it is; and only finals give tokens for
the call (a partial's tokens are its own: the digits a partial heard so far are no value to keep
a number for).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from chalicelib.domain.redaction import Entity, RedactionContext, Redactor
from chalicelib.domain.redaction_policy import EntityKind
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.domain.speculation import normalized_transcript
from chalicelib.domain.speech import MediaPosition, Track, TranscriptResult
from chalicelib.domain.spoken_numbers import FILLERS, SEP, STOP, find_digit_runs, tokenize

# A partial ending this close before the caller's speech stopped has all its words.
PARTIAL_LAG_MS = 250

SentThrough = tuple[tuple[Track, int], ...]  # per track, the media time its audio was sent to


@dataclass(frozen=True)
class TrackProgress:
    """What one track's recogniser stream gave back: where its audio started, the start of a
    result not final yet, the end of its newest final, and whether the stream failed."""

    base_ms: int
    open_partial_ms: int | None = None
    final_end_ms: int | None = None
    failed: bool = False

    @property
    def finalized_through_ms(self) -> int:
        """How far this track's audio is covered by finals (all of it up to an open partial)."""
        if self.open_partial_ms is not None:
            return self.open_partial_ms
        return self.final_end_ms if self.final_end_ms is not None else self.base_ms


def resume_point(
    start: MediaPosition,
    sent: Sequence[tuple[MediaPosition, float]],
    tracks: Mapping[Track, TrackProgress],
    sent_through: Mapping[Track, int],
    skipped_through: Mapping[Track, int],
    *,
    drained: bool,
    written: MediaPosition,
) -> tuple[MediaPosition, SentThrough]:
    """The checkpoint of a run that started at ``start`` (see the module doc), and how far each
    track whose stream did not fail was sent when that is later.

    Args:
        sent: per timecode sent, in order: its position and the end of its audio (ms).
        tracks: each track's recogniser stream.
        sent_through: per track, how far this run sent its audio.
        skipped_through: per track, how far the checkpoint resumed at said it was sent already.
        drained: whether every recogniser stream returned its last results in time.
        written: the checkpoint last written (kept when the streams did not drain).
    """
    if not drained:
        return written, ()
    if not sent:
        return start, tuple(skipped_through.items())
    failed = {track: progress for track, progress in tracks.items() if progress.failed}
    if not failed:
        return sent[-1][0], ()
    # A failed stream: only the audio it had finalized counts; the other tracks need not send
    # again what they sent after that.
    covered = min(progress.finalized_through_ms for progress in failed.values())
    done = [position for position, end_ms in sent if end_ms <= covered]
    through = {
        track: max(sent_through.get(track, -1), skipped_through.get(track, -1))
        for track in set(sent_through) | set(skipped_through)
        if track not in failed
    }
    return (done[-1] if done else start), tuple(sorted(through.items()))


def paused_words(
    latest: TranscriptResult | None,
    *,
    sent_ms: float,
    voice_end_ms: float,
    pause_ms: float,
    final_only: bool,
    already: str,
) -> str | None:
    """The caller's words (normalized) to speculate on now, or None: they are stable and a pause
    begins — a final result, or (unless ``final_only``) a partial caught up to the speech before
    it with ``pause_ms`` of the caller's audio since without speech — and they are not the words
    ``already`` speculated on.

    Stable means the partial stayed the same through that pause: Transcribe flags the trailing
    words stable only with its final (a second or more after the caller stops), too late for a
    turn Lex hands over 600 ms after the caller stops. If the words then change, Lex's final
    will not match and the speculation is wasted (and counted).

    Args:
        latest: the caller's newest result.
        sent_ms: how far the caller's audio was sent.
        voice_end_ms: the end of the caller's latest audio that held speech.
    """
    if latest is None or not latest.text.strip():
        return None
    caught_up = latest.end_ms >= voice_end_ms - PARTIAL_LAG_MS
    paused = not final_only and sent_ms - voice_end_ms >= pause_ms and caught_up
    if latest.is_partial and not paused:
        return None
    words = normalized_transcript(latest.text)
    return None if words == already else words


@dataclass(frozen=True)
class ProtectedResult:
    """A result as the run keeps it: its text and stable text redacted."""

    result: TranscriptResult
    state: RedactionState  # the run's tokens, with this result's (a final's; a partial adds none)
    caller_data: bool  # it held an entity the policy does not keep, or a number still being read


def protect_result(
    redactor: Redactor, result: TranscriptResult, state: RedactionState, context: RedactionContext
) -> ProtectedResult:
    """``result`` with its caller data replaced by tokens (see the module doc).

    Example:
        >>> from chalicelib.adapters.redaction_policy import load_redaction_policy
        >>> redactor = Redactor(load_redaction_policy(), b"k" * 32)
        >>> partial = TranscriptResult("r1", "AUDIO_FROM_CUSTOMER", "my card is 4111 1111", True, 0, 900)
        >>> protected = protect_result(redactor, partial, RedactionState("c-1"), RedactionContext())
        >>> protected.result.text, protected.caller_data
        ('my card is [NUMBER]', True)
    """
    partial = result.is_partial
    text, after, held = _protected(redactor, result.text, state, context, partial=partial)
    stable = result.stable_text
    if stable:
        stable, after, _ = _protected(redactor, stable, after, context, partial=partial)
    return ProtectedResult(replace(result, text=text, stable_text=stable), state if partial else after, held)


def _protected(
    redactor: Redactor, text: str, state: RedactionState, context: RedactionContext, *, partial: bool
) -> tuple[str, RedactionState, bool]:
    redaction = redactor.redact(text, state, context)
    held = redaction.holds_data
    if not partial or (cut := _open_number_at(text, redaction.entities)) is None:
        return redaction.text, redaction.state, held
    # Every entity ends before ``cut``: the redacted text ends with the original's tail.
    kept = redaction.text[: len(redaction.text) - (len(text) - cut)].rstrip()
    rule = redactor.policy.rule(EntityKind.LONG_NUMBER)
    label = f"[{rule.label if rule is not None else 'NUMBER'}]"
    return f"{kept} {label}" if kept else label, redaction.state, True


def _open_number_at(text: str, entities: tuple[Entity, ...]) -> int | None:
    """Where the number at the end of ``text`` starts, if no entity covers its end (only
    punctuation and hesitations after it); None when the text does not end with one."""
    tokens = tokenize(text)
    runs = find_digit_runs(tokens, [False] * len(tokens))
    if not runs:
        return None
    last = runs[-1]
    if not all(t.kind in (SEP, STOP) or t.text in FILLERS for t in tokens[last.last :]):
        return None
    start = max([last.start, *(e.end for e in entities if e.start < last.end and last.start < e.end)])
    return start if start < last.end else None
