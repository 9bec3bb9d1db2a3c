"""The transcriber's second job, beside transcribing: where the call's human part starts on the
media timeline, how much media each phase read, and when our own prompts played on the
to-customer track.

Until a handover the to-customer track plays our own text (the session has its words), so the
run does not recognise it (``domain/recognised_tracks``); it keeps when sound played there
(``PlayedSpan``: barge-in timing) and writes the spans with the results. Once the session shows
the handover, the first chunk after it places the human part (``handover_at_ms``): from there
both tracks are recognised, and the media read is counted per phase so the ledger prices each.
A handover line of ours still playing then (the turn commits the handover before Connect plays
its reply, and the run may see the handover before it starts) is ours too: the human part
starts once it has played (or when none starts within ``OWN_PROMPT_START_MS``; at most
``OWN_PROMPT_MAX_MS`` after the handover was seen, so a queue's music that never pauses cannot
keep the agent's words from the recogniser).
"""

from __future__ import annotations

from chalicelib.domain.live_transcript import CALLER, PLAYED_GAP_MS, PlayedSpan
from chalicelib.domain.recognised_tracks import AFTER, BEFORE, Phase, SessionView
from chalicelib.domain.speech import AudioChunk, is_voiced

OWN_PROMPT_MAX_MS = 10_000  # the longest handover line of ours the human part waits for
OWN_PROMPT_START_MS = 1_500  # how long after the handover is seen that line may still start


class CallPhases:
    """The handover's place on the media timeline, the media per phase and the played spans of
    one transcriber run (state shared by its reader loop and its writer)."""

    def __init__(self, handover_at_ms: int | None, seen: SessionView) -> None:
        self.handover_at_ms = handover_at_ms  # where the human part starts on the media timeline
        self.pending = handover_at_ms is None and seen.handed_over  # seen on the session, not placed yet
        self._pending_from_ms: int | None = None  # the first chunk's media time since it was seen
        self._seen_live = False  # seen while the run read the call (not already there at its start)
        self.written = handover_at_ms is not None  # the place is in the live transcript
        self.media_ms: dict[Phase, float] = {}  # the media read, per phase (the caller's track)
        self._open: PlayedSpan | None = None  # sound playing on the to-customer track
        self._played: list[PlayedSpan] = []  # closed spans not written yet

    def saw(self, view: SessionView) -> None:
        """The session as the run just looked at it: a handover there is placed at the next chunk."""
        if self.handover_at_ms is None:
            self._seen_live = self._seen_live or (view.handed_over and not self.pending)
            self.pending = view.handed_over

    @property
    def placed(self) -> bool:
        """Whether the handover is placed or about to be (the run stops looking at the session)."""
        return self.handover_at_ms is not None or self.pending

    def place(self, chunk: AudioChunk) -> Phase:
        """The phase ``chunk`` belongs to; the first chunk after a handover seen places it."""
        if self.pending and not (self._seen_live and self._own_prompt_playing(chunk)):
            self.handover_at_ms, self.pending = chunk.timecode_ms, False
            self.close_played()
        at = self.handover_at_ms
        phase = AFTER if at is not None and chunk.timecode_ms >= at else BEFORE
        if chunk.track == CALLER:
            self.media_ms[phase] = self.media_ms.get(phase, 0.0) + chunk.duration_ms
        return phase

    def _own_prompt_playing(self, chunk: AudioChunk) -> bool:
        """Whether our prompt that was playing when the handover was seen still plays at ``chunk``."""
        if self._pending_from_ms is None:
            self._pending_from_ms = chunk.timecode_ms
        since_ms, playing = chunk.timecode_ms - self._pending_from_ms, self._open
        if since_ms >= OWN_PROMPT_MAX_MS:
            return False
        if playing is None:  # the handover line may not have started yet: Connect plays it after the turn
            return since_ms < OWN_PROMPT_START_MS
        return chunk.timecode_ms - playing.end_ms <= PLAYED_GAP_MS

    def note_played(self, chunk: AudioChunk) -> None:
        """Keep when sound plays on the to-customer track: spans joined across short gaps."""
        start, end = chunk.timecode_ms, int(chunk.timecode_ms + chunk.duration_ms)
        playing = self._open
        if is_voiced(chunk.pcm):
            if playing is not None and start - playing.end_ms <= PLAYED_GAP_MS:
                self._open = PlayedSpan(playing.start_ms, max(playing.end_ms, end))
            else:
                self.close_played()
                self._open = PlayedSpan(start, end)
        elif playing is not None and end - playing.end_ms > PLAYED_GAP_MS:
            self.close_played()

    def close_played(self) -> None:
        if self._open is not None:
            self._played.append(self._open)
            self._open = None

    @property
    def unwritten(self) -> bool:
        """Whether a write has something of this job's to carry."""
        return bool(self._played) or (self.handover_at_ms is not None and not self.written)

    def take_played(self) -> tuple[PlayedSpan, ...]:
        """The closed spans for a write (``put_back`` them if it fails)."""
        played = tuple(self._played)
        self._played.clear()
        return played

    def put_back(self, played: tuple[PlayedSpan, ...]) -> None:
        self._played[:0] = played

    def wrote(self, handover_at_ms: int | None) -> None:
        """A write carried ``handover_at_ms`` (None: no place yet)."""
        self.written = self.written or handover_at_ms is not None
