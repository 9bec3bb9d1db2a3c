"""The roles outside systems play for the use cases, as Protocols."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.domain.model import ChatMessage, ModelAnswer, ToolSpec
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.speculation import Speculation
from chalicelib.domain.tiers import TierSpec
from chalicelib.domain.tools import JournalEntry, ToolDef
from chalicelib.domain.usage import Usage


class SessionStore(Protocol):
    """Where sessions and turn records live.

    Implementations ignore items whose TTL has passed (the database deletes them late).
    """

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        """The session, strongly consistent, or None if there is none (or it expired)."""
        ...

    def load_turn(self, contact_id: str, seq: int, now_ms: int) -> TurnRecord | None:
        """A stored turn record, or None."""
        ...

    def commit_turn(self, turn: TurnRecord, session: Session, now_ms: int) -> Session:
        """Store the turn and the session atomically; return the session as stored.

        ``session.version`` is the version the change was computed from: the write succeeds
        only if the stored session still has it (0: no session stored yet), and the stored
        session gets ``version + 1``.

        Raises:
            TurnAlreadyRecordedError: a turn with this sequence is stored already.
            SessionVersionConflictError: the session changed since it was read.
            StoreUnavailableError: the store failed or timed out.
        """
        ...


class SessionRepository(Protocol):
    """The session and its turns as the writers other than the turn use them (the stream
    consumers, the handover tasks; the transcriber reads it): through the unit of work
    (``usecases/unit_of_work.py``), which re-reads and re-applies on a conflict."""

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        """The session, strongly consistent, or None if there is none (or it expired)."""
        ...

    def save_session(self, session: Session, now_ms: int) -> Session:
        """Store ``session`` if the stored one still has ``session.version`` (0: none stored);
        return it as stored (version + 1).

        Raises:
            SessionVersionConflictError: the session changed since it was read.
            StoreUnavailableError: the store failed.
        """
        ...

    def load_turns(self, contact_id: str, now_ms: int) -> tuple[TurnRecord, ...]:
        """Every stored turn of the contact, in order."""
        ...


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time, epoch milliseconds (for timestamps and TTL)."""
        ...

    def monotonic_ms(self) -> float:
        """A monotonic clock in milliseconds (for durations and deadlines)."""
        ...


class ModelClient(Protocol):
    """A chat model behind an OpenAI-compatible API."""

    def complete(
        self,
        tier: TierSpec,
        messages: tuple[ChatMessage, ...],
        tools: tuple[ToolSpec, ...] = (),
        *,
        timeout_ms: float,
        first_token_timeout_ms: float,
    ) -> ModelAnswer:
        """One completion within ``timeout_ms``.

        Raises:
            ModelError: a subclass naming how it failed (timeout, unavailable, rejected,
                malformed).
        """
        ...


class UsageMeter(Protocol):
    """Where adapters and use cases record what an invocation used and how long each part took:
    a turn, a stream consumer's batch, the transcriber (and the speculations it starts)."""

    def record(self, usage: Usage) -> None:
        """Usage (quantities) for the cost ledger."""
        ...

    def timed(self, component: str) -> AbstractContextManager[None]:
        """Time the ``with`` block as ``component`` (added up if it runs more than once)."""
        ...

    def record_ms(self, component: str, ms: float) -> None:
        """A duration measured elsewhere (a model's first token)."""
        ...

    def timings(self) -> dict[str, float]:
        """The durations recorded so far in this invocation."""
        ...


class ToolGateway(Protocol):
    """Tools behind MCP servers and HTTP APIs."""

    def call(
        self, tool: ToolDef, arguments: dict[str, Any], *, idempotency_key: str | None, timeout_ms: float
    ) -> object:
        """The tool's result as parsed JSON (not yet validated), within ``timeout_ms``.

        Raises:
            ToolError: a subclass naming how it failed (timeout, unavailable, rejected,
                invalid result).
        """
        ...


class ToolJournal(Protocol):
    """The journal of side-effecting tool calls: written before and after each call."""

    def begin(self, entry: JournalEntry, now_ms: int) -> JournalEntry:
        """Journal ``entry`` as pending unless this call (contact, turn, index) is journaled
        already; return what the journal holds for it (the existing entry wins)."""
        ...

    def finish(self, entry: JournalEntry, now_ms: int) -> None:
        """Record the call's outcome (``done`` with its result, or ``failed``)."""
        ...


class SpeculationStore(Protocol):
    """Speculative turns (``domain/speculation.py``), by contact, turn and transcript."""

    def start(self, speculation: Speculation, now_ms: int) -> bool:
        """Record a pending speculation unless one for this contact, turn and transcript exists;
        True when this call recorded it (and so owns the work)."""
        ...

    def finish(self, speculation: Speculation, now_ms: int) -> None:
        """Store the speculation's outcome (ready with its work, or abandoned) and its usage."""
        ...

    def get(self, contact_id: str, seq: int, key: str, now_ms: int) -> Speculation | None:
        """The speculation for this turn and words' key (``speculation_key``), if any."""
        ...

    def load_all(self, contact_id: str, now_ms: int) -> tuple[Speculation, ...]:
        """Every speculation of the contact (the ledger charges the wasted ones too)."""
        ...


class TranscriptStore(Protocol):
    """The call's live transcript (``domain/live_transcript.py``): one item beside the session,
    with its own version, so the transcriber's writes never race the turn's commit."""

    def load(self, contact_id: str, now_ms: int) -> tuple[LiveTranscript, int]:
        """The transcript and its version (an empty one and 0 when none is stored)."""
        ...

    def save(self, contact_id: str, transcript: LiveTranscript, version: int, now_ms: int) -> int:
        """Store ``transcript`` if the stored one still has ``version`` (0: none); the new version.

        Raises:
            SessionVersionConflictError: it changed since it was read.
            StoreUnavailableError: the store failed.
        """
        ...


class Vault(Protocol):
    """The raw values behind a call's tokens (``[CARD_1]`` -> the card number), for the tools
    that need them: encrypted at rest, short-lived, deleted when the contact closes. Nothing but
    the tool runner (and the callback step) ever reads a value back."""

    def put(self, contact_id: str, values: Mapping[str, str], now_ms: int) -> None:
        """Keep ``values`` (token -> raw value) for the contact, beside the ones kept already
        (a token already kept keeps its value: a token names one value for the whole call).

        Raises:
            VaultUnavailableError: the table or the key could not be used.
        """
        ...

    def get(self, contact_id: str, tokens: Collection[str], now_ms: int) -> dict[str, str]:
        """The raw value of each of ``tokens`` that the vault holds (a missing one is left out).

        Raises:
            VaultUnavailableError: the table or the key could not be used.
        """
        ...

    def delete(self, contact_id: str) -> None:
        """Forget every value of the contact (idempotent).

        Raises:
            VaultUnavailableError: the table could not be used.
        """
        ...
