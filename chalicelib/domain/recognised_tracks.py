"""Which of the call's two tracks the transcriber sends to the recogniser, and what that costs.

Amazon Transcribe streaming is billed per stream: $0.024 a minute of audio (``prices.json``:
``transcribe_streaming_second``), per second, with a 15 s minimum per stream
(aws.amazon.com/transcribe/pricing). Both tracks cost $0.048 a call minute, more than the rest of
the call. Until a handover the to-customer track (``AUDIO_TO_CUSTOMER``) plays our own prompts,
whose words we already have (the session's replies), so the transcriber sends only the caller's
track, and keeps of the other only when sound played (``live_transcript.PlayedSpan``). Once the
call is handed over the to-customer track is a human agent: from then on it is transcribed too.

How the transcriber learns of the handover: it reads the session (``session_view``) when a run
starts and then every second or so until it sees one — the turn commits the handover reply with
the session's status ``handover``, the workflow then records ``handover`` — never per chunk.
It places the handover on the media timeline at the first chunk it reads after seeing it
(``LiveTranscript.handover_at_ms``, written with the results; a resumed run starts from it).

Caller data: the caller's words are redacted with what they heard just before as context. Before
a handover that is not transcribed: the context is the bot's newest two replies from the session
(already redacted there). Two, because the session may already hold the reply to the words being
redacted (the turn can commit before their final result comes back): a security code asked for
one reply ago must still make "four eight two" a code. After the handover the agent's newest
final is the context, as before.

Pure: the run passes in what it streamed; the ledger prices ``SpeechUsage.usage``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from chalicelib.domain.conversation import Role
from chalicelib.domain.session import Session, SessionStatus
from chalicelib.domain.speech import TRACKS, Track
from chalicelib.domain.usage import Usage, UsageKind

TRANSCRIBE_MINIMUM_S = 15  # billed per stream, per second (aws.amazon.com/transcribe/pricing)
CONTEXT_REPLIES = 2  # the bot's replies the caller's words are redacted with (see the module doc)

Phase = Literal["before_handover", "after_handover"]
BEFORE: Phase = "before_handover"
AFTER: Phase = "after_handover"
PHASES: tuple[Phase, ...] = (BEFORE, AFTER)


@dataclass(frozen=True)
class SessionView:
    """What the transcriber reads on the session: whether the call was handed over, and the
    bot's newest replies (redacted, as the session keeps them), the caller's context."""

    handed_over: bool = False
    bot_said: str = ""
    last_reply: str = ""  # the newest alone: what the caller is answering now


def session_view(session: Session | None) -> SessionView:
    """The session as the transcriber needs it (see the module doc).

    Example:
        >>> from chalicelib.domain.conversation import Message
        >>> s = Session.new("c-1", 0)
        >>> said = (Message(Role.ASSISTANT, "Card number?", 1), Message(Role.CALLER, "[CARD_1]", 2),
        ...         Message(Role.ASSISTANT, "And the security code?", 2))
        >>> from dataclasses import replace
        >>> view = session_view(replace(s, history=said))
        >>> view.bot_said, view.last_reply
        ('Card number? And the security code?', 'And the security code?')
    """
    if session is None:
        return SessionView()
    handed_over = session.handover is not None or session.status is SessionStatus.HANDOVER
    replies = [m.text for m in session.history if m.role is Role.ASSISTANT and m.text]
    return SessionView(handed_over, " ".join(replies[-CONTEXT_REPLIES:]), replies[-1] if replies else "")


def billed_seconds(streamed_ms: float) -> int:
    """What one stream of ``streamed_ms`` of audio is billed: whole seconds, at least 15."""
    return max(TRANSCRIBE_MINIMUM_S, math.ceil(streamed_ms / 1000))


@dataclass(frozen=True)
class StreamUsage:
    """One recogniser stream: its track, the media time it started at, the audio it streamed
    before and after the handover (ms)."""

    track: Track
    from_ms: int
    before_ms: float = 0.0
    after_ms: float = 0.0

    @property
    def streamed_ms(self) -> float:
        return self.before_ms + self.after_ms

    @property
    def phase(self) -> Phase:
        """The phase the stream started in (its 15 s minimum is counted there)."""
        return BEFORE if self.before_ms > 0 or self.after_ms == 0 else AFTER

    def billed_s(self, phase: Phase) -> Decimal:
        """The seconds billed for this stream's audio of ``phase``, the minimum's top-up in the
        phase it started in."""
        streamed = Decimal(round(self.before_ms if phase == BEFORE else self.after_ms)) / 1000
        if phase != self.phase:
            return streamed
        other = Decimal(round(self.after_ms if phase == BEFORE else self.before_ms)) / 1000
        return Decimal(billed_seconds(self.streamed_ms)) - other


@dataclass(frozen=True)
class SpeechUsage:
    """What a run sent to the recogniser: its streams, the media it read in each phase (ms),
    and where it placed the handover (None: the call was with the bot throughout)."""

    streams: tuple[StreamUsage, ...] = ()
    media_ms: tuple[tuple[Phase, float], ...] = ()
    handover_at_ms: int | None = None

    def streamed_ms(self, phase: Phase, track: Track) -> float:
        return sum(s.before_ms if phase == BEFORE else s.after_ms for s in self.streams if s.track == track)

    def billed_s(self, phase: Phase | None = None) -> Decimal:
        """Seconds billed, of one phase or (None) of the run."""
        phases = PHASES if phase is None else (phase,)
        return sum((s.billed_s(p) for s in self.streams for p in phases), Decimal(0))

    def usage(self) -> tuple[Usage, ...]:
        """The run's Transcribe usage for the ledger (none when it opened no stream)."""
        if not self.streams:
            return ()
        return (Usage(UsageKind.TRANSCRIBE_SECONDS, self.billed_s()),)

    def as_dict(self) -> dict[str, object]:
        """The transcriber's answer's ``transcribe``: per phase, the media read, the audio
        streamed per track and the seconds billed (s); the streams; the handover's place."""
        media = dict(self.media_ms)
        return {
            "handover_at_ms": self.handover_at_ms,
            "media_s": {phase: round(media.get(phase, 0.0) / 1000, 3) for phase in PHASES},
            "streamed_s": {
                phase: {track: round(self.streamed_ms(phase, track) / 1000, 3) for track in TRACKS} for phase in PHASES
            },
            "billed_s": {phase: float(self.billed_s(phase)) for phase in PHASES},
            "streams": [
                {
                    "track": s.track,
                    "from_ms": s.from_ms,
                    "before_handover_ms": round(s.before_ms, 1),
                    "after_handover_ms": round(s.after_ms, 1),
                }
                for s in self.streams
            ],
        }
