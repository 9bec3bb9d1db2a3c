"""The session of one contact and the record of one turn."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from chalicelib.domain.conversation import Message, Reply
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.domain.tools import ToolCallRecord
from chalicelib.domain.usage import Usage


class SessionStatus(StrEnum):
    ACTIVE = "active"
    HANDOVER = "handover"
    ENDED = "ended"


class PendingKind(StrEnum):
    """What the assistant's last prompt asked the caller for."""

    CONFIRM_ACCOUNT = "confirm_account"  # "I heard 4 4 7 1. Is that right?"
    ACCOUNT_NUMBER = "account_number"  # "Please say the account number again"
    ANYTHING_ELSE = "anything_else"  # "Is there anything else I can help with?"


@dataclass(frozen=True)
class Pending:
    kind: PendingKind
    value: str | None = None


@dataclass(frozen=True)
class ToolFact:
    """What a tool returned earlier in the call (bounded JSON), kept for later prompts."""

    tool: str
    result_json: str


@dataclass(frozen=True)
class PendingTool:
    """A tool call a turn cut short; the next turn makes it (with the same journal entry)."""

    seq: int
    index: int
    name: str
    arguments_json: str


@dataclass(frozen=True)
class Span:
    """A transcript Contact Lens reported: who spoke, when (offsets from the contact's start)."""

    role: str  # CUSTOMER | SYSTEM | AGENT
    begin_ms: int
    end_ms: int
    content: str
    sentiment: str = ""


@dataclass(frozen=True)
class ContactClosure:
    """How the call ended, from its contact record (the newest copy wins)."""

    last_update_ms: int  # the record's LastUpdateTimestamp, epoch milliseconds
    outcome: str  # contained | handover | abandoned | failed
    kpi_neutral_positive: bool
    duration_s: float
    disconnect_reason: str = ""
    cost_usd: str = ""  # Decimal, as text
    cost_per_minute_usd: str = ""


@dataclass(frozen=True)
class HandoverState:
    """The handover of a call, as its workflow (Step Functions) records it on the session."""

    execution: str  # the workflow's execution name
    reason: str
    queue: str
    status: str = "prepared"  # prepared | waiting | agent_connected | callback_booked | voicemail
    summary: str = ""  # what the agent reads
    task_token: str | None = None  # the token the wait for an agent is resumed with
    callback: str | None = None  # the callback booking's id, or "voicemail"
    # What was said after the agent took the call (the live transcript's human part), added to
    # the summary when the contact closes: the after-call record covers the whole call.
    after_handover: str = ""


@dataclass(frozen=True)
class LastTurn:
    """The newest committed turn, kept on the session so that a redelivery of it is answered
    from the one read the turn makes (Connect retries a turn up to 3 times within 8 s)."""

    seq: int
    digest: str
    reply: Reply


@dataclass(frozen=True)
class Session:
    """Everything we know about one contact's conversation.

    ``version`` is the optimistic-lock counter: 0 means never stored; every committed change
    increments it, and a write is conditional on the version it was computed from.
    """

    contact_id: str
    version: int
    started_at_ms: int
    updated_at_ms: int
    channel: str = "VOICE"
    status: SessionStatus = SessionStatus.ACTIVE
    last_seq: int = 0
    last_turn: LastTurn | None = None
    history: tuple[Message, ...] = ()
    misunderstandings: int = 0
    pending: Pending | None = None
    account_number: str | None = None
    # What the router needs to know about the previous turns.
    negative_sentiment: bool = False
    previous_failed: bool = False
    previous_escalated: bool = False
    # Where the conversation is in the tool-call graph, what tools returned, and tool calls a
    # turn had to cut short (picked up by the next turn).
    last_tool: str | None = None
    tool_facts: tuple[ToolFact, ...] = ()
    pending_tools: tuple[PendingTool, ...] = ()
    holds: int = 0  # consecutive turns answered with a holding line
    # From Contact Lens (segments consumer): what was analysed, the caller's sentiment by
    # turn, matched categories, turns the caller interrupted, and the analysis' own state.
    seen_segments: tuple[str, ...] = ()
    spans: tuple[Span, ...] = ()  # transcripts seen so far, in offset order (for barge-in)
    caller_sentiments: tuple[str, ...] = ()  # in offset order
    categories: tuple[str, ...] = ()
    interrupted_seqs: tuple[int, ...] = ()
    analysis_status: str = ""
    contact_lens_summary: str = ""
    # From the contact record (contact records consumer): the call's end.
    closed: ContactClosure | None = None
    # The human handover's workflow: its summary, the task token it waits on, the callback.
    handover: HandoverState | None = None
    # The call's redaction tokens (keyed fingerprints and counters, never a value): the same
    # card read again is the same token (``domain/caller_data.py``).
    redaction: RedactionState = field(default_factory=RedactionState)
    # The call's language (``es-US``), set by its first turn (``domain/language``); None: no turn
    # yet, or a session stored before languages (its next turn takes the event's or the default).
    language: str | None = None
    # (The live transcript is its own item beside the session: ``domain/live_transcript.py``.)

    @classmethod
    def new(cls, contact_id: str, now_ms: int, channel: str = "VOICE") -> Session:
        return cls(contact_id=contact_id, version=0, started_at_ms=now_ms, updated_at_ms=now_ms, channel=channel)

    def evolve(self, *, version: int) -> Session:
        """This session as stored at ``version`` (the stores' bump after a write). A turn's
        changes travel as a ``turn_outcome.SessionChange``, other writers' as ``replace``."""
        return replace(self, version=version)


@dataclass(frozen=True)
class ModelCall:
    """One model call a turn made, as recorded on the turn."""

    tier: int
    model: str
    outcome: str
    why: str
    input_tokens: int = 0
    output_tokens: int = 0
    first_token_ms: float | None = None
    total_ms: float = 0.0


@dataclass(frozen=True)
class TurnRecord:
    """One processed turn as it is stored: what the caller said and what we answered."""

    contact_id: str
    seq: int
    digest: str
    caller: str
    reply: Reply
    source: str
    received_at_ms: int
    # Usage the turn's decision caused (model tokens, Lex requests), for the cost ledger.
    usage: tuple[Usage, ...] = ()
    # Tokens a large-model call would have used for this turn (the all-large baseline).
    baseline_tokens: tuple[int, int] = (0, 0)
    model_calls: tuple[ModelCall, ...] = ()
    routed_tier: int = 0  # the router's choice; reply.tier is who answered in the end
    # Milliseconds per component of the turn up to its write (state_read, routing, model, ...).
    latency_ms: tuple[tuple[str, float], ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()
    # Answered from a speculative turn's model work (``domain/speculation.py``).
    speculated: bool = False
    # What the turn found when it looked for a speculation (a ``speculation.Lookup``: "" it did
    # not look, "used", "late", ...) and the key of its words it looked under
    # (``speculation_key``): why a speculation was wasted is read from them (``why_unused``).
    speculation: str = ""
    words_key: str = ""
    # The language the reply is in (``es-US``; None: a turn stored before languages).
    language: str | None = None
