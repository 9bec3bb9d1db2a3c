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

from chalicelib.domain.end_of_turn import LEX_DEFAULT_END_TIMEOUT_MS
from chalicelib.domain.redaction import Entity, RedactionContext, Redactor
from chalicelib.domain.redaction_policy import EntityKind, Reading
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.domain.speculation import NO_VOCABULARY, MatchVocabulary, speculation_key
from chalicelib.domain.speech import MediaPosition, Track, TranscriptResult
from chalicelib.domain.spoken_numbers import SEP, STOP, find_digit_runs

# A partial ending this close before the caller's speech stopped has all its words. It does not
# delay the trigger (the pause is counted from the speech's end); a short last word it lets a
# partial miss is most often a courtesy word ("please"), which the speculation key ignores.
PARTIAL_LAG_MS = 250
# The pause trigger, when the run knows Lex's end timeout in force (``end_of_turn``): the pause
# scales with it, from ``pause_ms`` at Lex's default, so that a speculation is stored at least
# SPECULATION_LEAD_MS before Lex hands the turn over (the hook reads the session and writes the
# speculation first) and no sooner than MIN_PAUSE_MS after the speech: a gap between words
# plus a stop's closure reads as silence on the voice gate (32 ms pieces at VOICE_AMPLITUDE: up
# to 128 ms inside fluent synthesized speech, 22 of 820 silences; sim stream found speculations
# started on "my internet keeps" and "why is this" at 120 ms).
SPECULATION_LEAD_MS = 150
MIN_PAUSE_MS = 160

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
    vocabulary: MatchVocabulary = NO_VOCABULARY,
    end_timeout_ms: float | None = None,
) -> str | None:
    """The key (``speculation_key``) of the caller's words to speculate on now, or None: they are
    stable and a pause begins — a final result, or (unless ``final_only``) a partial caught up to
    the speech before it with a pause of the caller's audio since without speech — and their key
    is not the one ``already`` speculated on (words that add only a hesitation or a trailing
    "please" are the same request: no second speculation).

    Stable means the partial stayed the same through that pause: Transcribe flags the trailing
    words stable only with its final (a second or more after the caller stops), too late for a
    turn Lex hands over 600 ms after the caller stops. If the words then change, Lex's final
    will not match and the speculation is wasted (and counted).

    Args:
        latest: the caller's newest result.
        sent_ms: how far the caller's audio was sent.
        voice_end_ms: the end of the caller's latest audio that held speech.
        pause_ms: the pause that starts a speculation when Lex waits its default end timeout.
        already: the key of the words last speculated on.
        vocabulary: the language's words the key ignores.
        end_timeout_ms: Lex's end timeout while the caller answers (None: its default); the pause
            scales with it (``pause_before_speculating``).
    """
    if latest is None or not latest.text.strip():
        return None
    caught_up = latest.end_ms >= voice_end_ms - PARTIAL_LAG_MS
    pause = pause_before_speculating(pause_ms, end_timeout_ms)
    paused = not final_only and sent_ms - voice_end_ms >= pause and caught_up
    if latest.is_partial and not paused:
        return None
    key = speculation_key(latest.text, vocabulary)
    return None if not key or key == already else key


def pause_before_speculating(pause_ms: float, end_timeout_ms: float | None) -> float:
    """The caller's silence that starts a speculation while Lex waits ``end_timeout_ms``.

    ``pause_ms`` at Lex's default end timeout, in proportion to a shorter or a longer one (after
    a yes/no question Lex hands the turn over sooner: the speculation must start sooner to be
    there; while a long number is read the caller pauses longer between groups: a pause there
    is no end of the request), at most the end timeout less ``SPECULATION_LEAD_MS`` and never
    under ``MIN_PAUSE_MS``.

    Example:
        >>> pause_before_speculating(250, None), pause_before_speculating(250, 500), pause_before_speculating(250, 1400)
        (250, 208.33333333333334, 583.3333333333334)
    """
    if end_timeout_ms is None:
        return pause_ms
    scaled = pause_ms * end_timeout_ms / LEX_DEFAULT_END_TIMEOUT_MS
    return max(MIN_PAUSE_MS, min(scaled, end_timeout_ms - SPECULATION_LEAD_MS))


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
    reading = redactor.policy.reading(context.language)
    if not partial or (cut := _open_number_at(text, redaction.entities, reading)) is None:
        return redaction.text, redaction.state, held
    # Every entity ends before ``cut``: the redacted text ends with the original's tail.
    kept = redaction.text[: len(redaction.text) - (len(text) - cut)].rstrip()
    rule = redactor.policy.rule(EntityKind.LONG_NUMBER)
    label = f"[{rule.label if rule is not None else 'NUMBER'}]"
    return f"{kept} {label}" if kept else label, redaction.state, True


def _open_number_at(text: str, entities: tuple[Entity, ...], reading: Reading) -> int | None:
    """Where the number at the end of ``text`` starts, if no entity covers its end (only
    punctuation and hesitations after it); None when the text does not end with one. Read in
    the result's language (``reading``), as the redactor read it."""
    tokens = reading.tokens(text)
    runs = find_digit_runs(tokens, [False] * len(tokens), reading.digits)
    if not runs:
        return None
    last = runs[-1]
    fillers = reading.digits.fillers
    if not all(t.kind in (SEP, STOP) or t.text in fillers for t in tokens[last.last :]):
        return None
    start = max([last.start, *(e.end for e in entities if e.start < last.end and last.start < e.end)])
    return start if start < last.end else None
