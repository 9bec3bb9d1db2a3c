"""Handle one caller turn: one read, decide, one conditional write; idempotent.

A turn is keyed by contact id + turn sequence. Connect retries a failed invocation up to three
times within 8 s and Lambda may run the same event twice, so the same turn can arrive more than
once, even concurrently. Only one delivery's reply is ever stored, and every delivery answers
with the stored reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.conversation import Reply, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import (
    DeliveryKind,
    DialoguePolicy,
    classify_delivery,
    decide_turn,
    resolve_stored_turn,
)
from chalicelib.domain.ports import Clock, SessionStore
from chalicelib.errors import SessionContentionError, SessionVersionConflictError, TurnAlreadyRecordedError


@dataclass(frozen=True)
class TurnResult:
    """The answer to a delivered turn."""

    reply: Reply
    seq: int  # the turn this reply answers
    duplicate: bool  # True when the reply was stored by an earlier delivery
    attempts: int  # commit attempts made (0 for a duplicate)

    @property
    def next_seq(self) -> int:
        """The sequence the flow sends with the caller's next turn."""
        return self.seq + 1


class HandleTurn:
    """The turn use case. Built once per container by ``bootstrap``."""

    def __init__(
        self,
        store: SessionStore,
        clock: Clock,
        policy: DialoguePolicy,
        *,
        commit_attempts: int = 3,
        commit_budget_ms: float = 300.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._commit_attempts = commit_attempts
        # Time one read + one write needs; a new attempt starts only if it still fits.
        self._commit_budget_ms = commit_budget_ms

    def __call__(self, request: TurnRequest, deadline: Deadline) -> TurnResult:
        """Answer ``request``.

        Raises:
            SessionContentionError: the session kept changing until attempts or time ran out.
            StoreUnavailableError: the store failed (after the client's own retries).
        """
        attempts = 0
        while True:
            now_ms = self._clock.now_ms()
            session = self._store.load(request.contact_id, now_ms)
            delivery = classify_delivery(session, request)
            if delivery.kind is DeliveryKind.CHECK_STORED_TURN and session is not None:
                stored = self._store.load_turn(request.contact_id, delivery.seq, now_ms)
                delivery = resolve_stored_turn(session, request, stored)
            if delivery.kind is DeliveryKind.DUPLICATE and delivery.reply is not None:
                return TurnResult(delivery.reply, delivery.seq, duplicate=True, attempts=attempts)
            out_of_time = attempts > 0 and not self._deadline_allows_another(deadline)
            if attempts >= self._commit_attempts or out_of_time:
                raise SessionContentionError(f"turn not committed after {attempts} attempt(s)")

            outcome = decide_turn(session, request, delivery.seq, now_ms, self._policy)
            attempts += 1
            try:
                self._store.commit_turn(outcome.record, outcome.session, now_ms)
            except TurnAlreadyRecordedError:
                continue  # a concurrent delivery of this turn won: the re-read returns its reply
            except SessionVersionConflictError:
                continue  # another writer changed the session: re-read, decide again on fresh state
            return TurnResult(outcome.reply, delivery.seq, duplicate=False, attempts=attempts)

    def _deadline_allows_another(self, deadline: Deadline) -> bool:
        return deadline.allows(self._clock.monotonic_ms(), self._commit_budget_ms)
