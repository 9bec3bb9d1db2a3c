"""What a turn is made of: the caller's request, the assistant's reply, the history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    """What the contact flow does after playing the reply."""

    SPEAK = "speak"  # play the prompt, listen for the next turn
    HANDOVER = "handover"  # play the prompt, transfer to a queue
    END = "end"  # play the prompt, disconnect


class Source(StrEnum):
    """Which Amazon Connect integration delivered the turn."""

    CONNECT = "connect"  # "Invoke AWS Lambda function" block (ContactFlowEvent)
    LEX = "lex"  # Lex V2 code hook


class Role(StrEnum):
    CALLER = "caller"
    ASSISTANT = "assistant"


@dataclass(frozen=True)
class SpeechPart:
    """A piece of a spoken reply. ``say_as`` asks the voice to read it a particular way
    (``"digits"`` reads 4471 as "four four seven one")."""

    text: str
    say_as: str | None = None


@dataclass(frozen=True)
class Reply:
    """The assistant's answer to one turn, before it is rendered for Connect or Lex."""

    action: Action
    speech: tuple[SpeechPart, ...]
    intent: str
    tier: int = 0
    reasons: tuple[str, ...] = ()
    queue: str | None = None

    @property
    def text(self) -> str:
        """The reply as plain text, as the caller hears it."""
        return "".join(part.text for part in self.speech)


@dataclass(frozen=True)
class Message:
    """One entry of the conversation history."""

    role: Role
    text: str
    seq: int


def utterance_digest(utterance: str) -> str:
    """A short fingerprint of the caller's words, used to recognise a redelivered turn."""
    return hashlib.sha256(utterance.strip().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TurnRequest:
    """One caller turn as it arrived, whatever the integration.

    ``seq`` is the turn sequence the flow sent back to us (1 on the first turn).
    """

    contact_id: str
    seq: int
    utterance: str
    source: Source
    channel: str = "VOICE"
    language: str | None = None
    digest: str = field(default="")
    # The caller's telephone number when the integration gives one (a handover's callback).
    caller_number: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", utterance_digest(self.utterance))
