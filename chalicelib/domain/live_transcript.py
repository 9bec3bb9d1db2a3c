"""The call's live transcript, kept beside the session (its own item) by the transcriber.

The transcriber (``usecases/transcribe_call.py``) streams the call's audio to a speech recogniser
and writes what comes back here, in small batches: the caller's track always, the to-customer
track once the call is handed over (before that it plays our own prompts, whose words we know:
the session's replies; only when they played is kept, ``played``). The transcript holds, per
track, one line per result id: the newest partial of it, or its final. It is not part of the
session item on purpose: the transcriber writes every few hundred ms while the caller speaks and
while the model thinks, and each such write would fail the turn's version-conditioned commit (a
re-read and re-apply, or a turn out of time); and every turn would pay to read it. Times are ms on the media
stream's timeline (the chunks' timecodes), so results of different transcriber invocations (a
continuation, a retry, a duplicate) line up.

Rules (each keeps ``apply_results`` idempotent and order-tolerant):

- A final is never replaced by a partial; a repeated result changes nothing.
- Partials of one result id are cumulative: a partial that covers less audio than the one kept
  (it arrived late) is ignored.
- Two transcriber streams over the same audio (a duplicate invocation, or the tail re-sent after
  a failed recogniser stream) give the same speech *different* result ids. On one track, a
  result that overlaps a final kept under another id by more than half the shorter of the two
  is a duplicate and is ignored (the first written wins), and a final removes the partials of
  other ids it overlaps (their stream ended before it finalized them).
- Bounded: a DynamoDB item holds at most 400 KB and is read and rewritten whole on every
  batch. So the transcript keeps the newest ``MAX_LINES`` lines and at most ``MAX_CHARS`` characters of text (about 15
  minutes of two-sided speech); older lines are dropped first. The turn and the agent's summary
  only need the recent part; the full record is Contact Lens' / the call recording's job.

After a handover the ``AUDIO_TO_CUSTOMER`` track is the human agent (the agent speaks to the
customer), so the same transcript also holds the human part of the call: ``human_part``.

Before a handover the transcriber does not transcribe that track (it would double the cost of
Amazon Transcribe for words we already have) but keeps its energy: ``played`` holds the spans of
the media timeline where sound played on it — our prompts — without text, merged across gaps of
at most ``PLAYED_GAP_MS`` and bounded to the newest ``MAX_PLAYED``. ``prompt_playing_at`` says
which prompt was playing at a media time (the timing a barge-in on the media timeline needs;
today's barge-in reads Contact Lens' segments, ``contact_analysis``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.domain.speech import MediaPosition, Track, TranscriptResult

MAX_LINES = 200
MAX_CHARS = 16_000
MAX_PLAYED = 100
PLAYED_GAP_MS = 500  # sound on the to-customer track this close after the last is the same prompt
CALLER: Track = "AUDIO_FROM_CUSTOMER"
AGENT: Track = "AUDIO_TO_CUSTOMER"


@dataclass(frozen=True)
class TranscriptLine:
    """One result of one track: its newest partial, or its final."""

    result_id: str
    track: Track
    text: str
    is_final: bool
    start_ms: int
    end_ms: int
    stable_text: str = ""

    def overlap_ms(self, other: TranscriptLine) -> int:
        """How long the two lines overlap on the same track (0 on different tracks)."""
        if self.track != other.track:
            return 0
        return max(0, min(self.end_ms, other.end_ms) - max(self.start_ms, other.start_ms))

    def duplicates(self, other: TranscriptLine) -> bool:
        """The same speech: overlapping by more than half the shorter line (a resumed stream's
        first words may share a few hundred ms with the last final before it: not a duplicate)."""
        shorter = min(self.end_ms - self.start_ms, other.end_ms - other.start_ms)
        return self.overlap_ms(other) * 2 > shorter


@dataclass(frozen=True)
class PlayedSpan:
    """A stretch of the media timeline (ms) where sound played to the caller (our prompt)."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class LiveTranscript:
    """The transcript lines (by start time), the transcriber's checkpoint and status.

    ``checkpoint`` is the media position up to which audio was transcribed and its results
    written (never moves backwards). ``sent_through_ms`` says, per track, up to which media time
    that track's audio was already transcribed when it is later than the checkpoint (a track
    whose recogniser stream did not fail): a run resuming at the checkpoint does not send it
    again. ``handover_at_ms`` is where on the media timeline the human part starts: the first
    media the transcriber read after it saw the session handed over, from which it transcribes
    the to-customer track too. ``played`` is when our prompts played on that track before it
    was transcribed (see the module doc).
    """

    lines: tuple[TranscriptLine, ...] = ()
    checkpoint: MediaPosition | None = None
    sent_through_ms: tuple[tuple[Track, int], ...] = ()
    speech_status: str = ""  # "" | transcribing | continuing | retrying | ended | failed
    handover_at_ms: int | None = None
    dropped: int = 0  # lines dropped by the bounds so far
    played: tuple[PlayedSpan, ...] = ()


def line_of(result: TranscriptResult) -> TranscriptLine:
    return TranscriptLine(
        result_id=result.result_id,
        track=result.track,
        text=result.text,
        is_final=not result.is_partial,
        start_ms=result.start_ms,
        end_ms=result.end_ms,
        stable_text=result.text if not result.is_partial else result.stable_text,
    )


def apply_results(
    live: LiveTranscript,
    results: Iterable[TranscriptResult],
    position: MediaPosition | None = None,
    status: str | None = None,
    sent_through_ms: tuple[tuple[Track, int], ...] = (),
    *,
    in_handover: bool = False,
    handover_at_ms: int | None = None,
    played: Iterable[PlayedSpan] = (),
) -> LiveTranscript:
    """The transcript with ``results`` merged, the checkpoint moved to ``position`` (if later,
    with its ``sent_through_ms``), the status set and the ``played`` spans merged.

    The human part starts at ``handover_at_ms`` (where the transcriber placed the handover on
    the media timeline) or, given only ``in_handover`` (the session shows the call handed over),
    at the last final line; the first one written stays. Pure: the same input gives the same
    output, and applying the same results again returns the same transcript.
    """
    by_id = {(line.track, line.result_id): line for line in live.lines}
    for result in results:
        _merge(by_id, line_of(result))
    lines = tuple(sorted(by_id.values(), key=_order))
    lines, dropped = _bounded(lines)
    handover_at = live.handover_at_ms
    if handover_at is None and handover_at_ms is not None:
        handover_at = handover_at_ms
    elif handover_at is None and in_handover:
        handover_at = max((line.end_ms for line in live.lines if line.is_final), default=0)
    checkpoint, through = live.checkpoint, live.sent_through_ms
    if position is not None and (checkpoint is None or _position_key(position) > _position_key(checkpoint)):
        checkpoint, through = position, tuple(sorted(sent_through_ms))
    changed = LiveTranscript(
        lines=lines,
        checkpoint=checkpoint,
        sent_through_ms=through,
        speech_status=status if status is not None else live.speech_status,
        handover_at_ms=handover_at,
        dropped=live.dropped + dropped,
        played=merge_played(live.played, played),
    )
    return live if changed == live else changed


def merge_played(kept: Iterable[PlayedSpan], new: Iterable[PlayedSpan]) -> tuple[PlayedSpan, ...]:
    """The union of the spans, those at most ``PLAYED_GAP_MS`` apart joined, the newest
    ``MAX_PLAYED`` kept: idempotent and order-tolerant (a re-read chunk adds nothing).

    Example:
        >>> merge_played([PlayedSpan(0, 900)], [PlayedSpan(1200, 2000), PlayedSpan(5000, 6000)])
        (PlayedSpan(start_ms=0, end_ms=2000), PlayedSpan(start_ms=5000, end_ms=6000))
    """
    merged: list[PlayedSpan] = []
    for span in sorted({*kept, *new}, key=lambda s: (s.start_ms, s.end_ms)):
        if merged and span.start_ms - merged[-1].end_ms <= PLAYED_GAP_MS:
            merged[-1] = PlayedSpan(merged[-1].start_ms, max(merged[-1].end_ms, span.end_ms))
        else:
            merged.append(span)
    return tuple(merged[-MAX_PLAYED:])


def prompt_playing_at(live: LiveTranscript, ms: int) -> PlayedSpan | None:
    """The prompt playing to the caller at ``ms`` on the media timeline, if one was (a caller
    who starts speaking inside it barged in; ``played`` is kept only before a handover)."""
    return next((span for span in live.played if span.start_ms <= ms < span.end_ms), None)


def _merge(by_id: dict[tuple[Track, str], TranscriptLine], line: TranscriptLine) -> None:
    key = (line.track, line.result_id)
    kept = by_id.get(key)
    if kept is not None:
        if kept.is_final:
            return  # a final is never replaced (a repeat, a late partial or a re-sent final)
        if not line.is_final and (line.end_ms, len(line.text), line.text) <= (kept.end_ms, len(kept.text), kept.text):
            return  # an older (or the same) partial, arrived late
    others = [other for other in by_id.values() if other.result_id != line.result_id and other.overlap_ms(line) > 0]
    if any(other.is_final and other.duplicates(line) for other in others):
        return  # the same speech, already final under another stream's result id
    if line.is_final:
        for other in others:
            if not other.is_final:  # its earlier view, from a stream that ended without a final
                del by_id[(other.track, other.result_id)]
    by_id[key] = line


def _order(line: TranscriptLine) -> tuple[int, int, str, str]:
    return (line.start_ms, line.end_ms, line.track, line.result_id)


def _bounded(lines: tuple[TranscriptLine, ...]) -> tuple[tuple[TranscriptLine, ...], int]:
    """The newest lines within ``MAX_LINES`` and ``MAX_CHARS``, and how many were dropped."""
    kept = list(lines[-MAX_LINES:])
    chars = sum(len(line.text) for line in kept)
    while kept and chars > MAX_CHARS:
        chars -= len(kept.pop(0).text)
    return tuple(kept), len(lines) - len(kept)


def _position_key(position: MediaPosition) -> tuple[int, int]:
    number = int(position.fragment_number) if position.fragment_number.isdigit() else -1
    return (number, position.timecode_ms)


def caller_text_since(live: LiveTranscript, ms: int) -> str:
    """What the caller said after ``ms`` on the media timeline (lines ending later), finals and
    the current partial, in order."""
    return " ".join(line.text for line in live.lines if line.track == CALLER and line.end_ms > ms and line.text)


def stable_caller_partial(live: LiveTranscript) -> tuple[str, bool] | None:
    """The newest caller utterance's stable text and whether it is final (a final's whole text
    is stable); None before the caller said anything. A speculative turn may start on the
    stable prefix: it will not change."""
    caller = [line for line in live.lines if line.track == CALLER]
    if not caller:
        return None
    newest = caller[-1]
    return (newest.text if newest.is_final else newest.stable_text, newest.is_final)


def human_part(live: LiveTranscript) -> tuple[tuple[str, str], ...]:
    """The lines after the handover started, as (``CUSTOMER`` | ``AGENT``, text): the agent is
    the ``AUDIO_TO_CUSTOMER`` track then. Empty before a handover."""
    if live.handover_at_ms is None:
        return ()
    return tuple(
        ("CUSTOMER" if line.track == CALLER else "AGENT", line.text)
        for line in live.lines
        if line.end_ms > live.handover_at_ms and line.text
    )


def is_after(position: MediaPosition, other: MediaPosition) -> bool:
    """Whether ``position`` is later in the stream than ``other`` (fragment numbers grow)."""
    return _position_key(position) > _position_key(other)


MAX_HUMAN_PART_CHARS = 1_500


def human_part_text(live: LiveTranscript, max_chars: int = MAX_HUMAN_PART_CHARS) -> str:
    """The human part as "Agent: … / Customer: …" lines, the newest kept within ``max_chars``."""
    lines = [f"{'Agent' if who == 'AGENT' else 'Customer'}: {text}" for who, text in human_part(live)]
    kept: list[str] = []
    for line in reversed(lines):
        if sum(len(k) + 1 for k in kept) + len(line) > max_chars:
            break
        kept.insert(0, line)
    return "\n".join(kept)
