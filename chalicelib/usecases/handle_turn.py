"""Handle one caller turn: one read, decide (rules or models), one conditional write; idempotent.

A turn is keyed by contact id + turn sequence. Connect retries a failed invocation up to three
times within 8 s and Lambda may run the same event twice, so the same turn can arrive more than
once, even concurrently. Only one delivery's reply is ever stored, and every delivery answers
with the stored reply.

Model calls happen between the read and the write, within the turn's deadline: the domain's
router picks the tier, and ``escalation.next_model_step`` decides each call (escalate an
invalid small-model answer, degrade a slow large model, give up when nothing fits). If the
write then loses a version race, the decision is re-applied to the fresh session with the
answers already obtained: a model is never asked twice for one turn because of a race.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

from chalicelib.domain.conversation import Reply, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import (
    DeliveryKind,
    DialoguePolicy,
    TurnOutcome,
    classify_delivery,
    decide_turn,
    model_turn,
    resolve_stored_turn,
    route_context,
)
from chalicelib.domain.envelope import MODEL_FIRST_TOKEN, MODEL_TOTAL, ROUTING, STATE_READ, STATE_WRITE, Envelope
from chalicelib.domain.escalation import OK, Attempt, GiveUp, next_model_step
from chalicelib.domain.model import answer_problem
from chalicelib.domain.ports import Clock, ModelClient, SessionStore, TurnMeter
from chalicelib.domain.prompt import build_messages
from chalicelib.domain.router import Route, route
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.tiers import RULES, TierTable
from chalicelib.errors import (
    ModelError,
    SessionContentionError,
    SessionVersionConflictError,
    TurnAlreadyRecordedError,
)


@dataclass(frozen=True)
class TurnResult:
    """The answer to a delivered turn."""

    reply: Reply
    seq: int  # the turn this reply answers
    duplicate: bool  # True when the reply was stored by an earlier delivery
    attempts: int  # commit attempts made (0 for a duplicate)
    record: TurnRecord | None = None  # what this delivery stored (None for a duplicate)

    @property
    def next_seq(self) -> int:
        """The sequence the flow sends with the caller's next turn."""
        return self.seq + 1


@dataclass
class _ModelAnswers:
    """The model calls made for this turn, kept across re-applies after a version race."""

    attempts: tuple[Attempt, ...]
    give_up_reason: str


class _NoMeter:
    def record(self, usage: object) -> None:
        return None

    def timed(self, component: str) -> AbstractContextManager[None]:
        return nullcontext()

    def record_ms(self, component: str, ms: float) -> None:
        return None

    def timings(self) -> dict[str, float]:
        return {}


class HandleTurn:
    """The turn use case. Built once per container by ``bootstrap``.

    Args:
        models: the model client, or None to answer everything with tier-0 rules.
        tiers: the tier table (required with ``models``).
        envelope: the latency envelope: model calls get at most its model budgets, and always
            leave its write + render reserve free before the hard deadline; a new commit attempt
            starts only if that reserve still fits.
        meter: where usage and component timings are recorded.
    """

    def __init__(
        self,
        store: SessionStore,
        clock: Clock,
        policy: DialoguePolicy,
        envelope: Envelope,
        *,
        models: ModelClient | None = None,
        tiers: TierTable | None = None,
        commit_attempts: int = 3,
        meter: TurnMeter | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._models = models if tiers is not None else None
        self._tiers = tiers
        self._envelope = envelope
        self._commit_attempts = commit_attempts
        self._meter: TurnMeter = meter or _NoMeter()

    def __call__(self, request: TurnRequest, deadline: Deadline) -> TurnResult:
        """Answer ``request``.

        Raises:
            SessionContentionError: the session kept changing until attempts or time ran out.
            StoreUnavailableError: the store failed (after the client's own retries).
        """
        attempts = 0
        answers: _ModelAnswers | None = None
        while True:
            now_ms = self._clock.now_ms()
            with self._meter.timed(STATE_READ):
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

            with self._meter.timed(ROUTING):
                chosen = route(request.utterance, route_context(session))
            if chosen.tier == RULES or self._models is None:
                outcome = decide_turn(session, request, delivery.seq, now_ms, self._policy, chosen)
            else:
                answers = answers or self._ask_models(chosen, session, request, deadline)
                outcome = self._model_outcome(session, request, delivery.seq, now_ms, chosen=chosen, answers=answers)
            attempts += 1
            # The turn item keeps what its components took up to the write (the write itself and
            # the answer are in the invocation's metrics and logs).
            timings = {**self._meter.timings(), "until_write": deadline.elapsed_ms(self._clock.monotonic_ms())}
            record = replace(outcome.record, latency_ms=tuple((k, round(v, 2)) for k, v in sorted(timings.items())))
            try:
                with self._meter.timed(STATE_WRITE):
                    self._store.commit_turn(record, outcome.session, now_ms)
            except TurnAlreadyRecordedError:
                continue  # a concurrent delivery of this turn won: the re-read returns its reply
            except SessionVersionConflictError:
                continue  # another writer changed the session: re-read, decide again on fresh state
            for item in record.usage:
                self._meter.record(item)
            return TurnResult(outcome.reply, delivery.seq, duplicate=False, attempts=attempts, record=record)

    def _model_outcome(
        self,
        session: Session | None,
        request: TurnRequest,
        seq: int,
        now_ms: int,
        chosen: Route,
        answers: _ModelAnswers,
    ) -> TurnOutcome:
        return model_turn(
            session, request, seq, now_ms, self._policy,
            route=chosen, attempts=answers.attempts, give_up_reason=answers.give_up_reason,
        )  # fmt: skip

    def _ask_models(
        self, chosen: Route, session: Session | None, request: TurnRequest, deadline: Deadline
    ) -> _ModelAnswers:
        """Call models as the domain's escalation policy says, until an answer or give-up."""
        assert self._models is not None and self._tiers is not None  # noqa: S101 - checked in __init__
        messages = build_messages(
            self._policy.system_prompt,
            session,
            request.utterance,
            max_history_messages=self._policy.max_history_messages,
            max_message_chars=self._policy.max_message_chars,
        )
        made: list[Attempt] = []
        envelope = self._envelope
        while True:
            now = self._clock.monotonic_ms()
            step = next_model_step(
                chosen.tier,
                tuple(made),
                deadline.timeout_for(envelope.budget(MODEL_TOTAL), now, envelope.finish_reserve_ms),
                self._tiers,
                past_soft_deadline=deadline.past_soft(now),
                first_token_cap_ms=envelope.budget(MODEL_FIRST_TOKEN),
            )
            if isinstance(step, GiveUp):
                return _ModelAnswers(tuple(made), step.reason)
            spec = self._tiers.get(step.tier)
            try:
                with self._meter.timed("model"):
                    answer = self._models.complete(
                        spec, messages, (), timeout_ms=step.timeout_ms,
                        first_token_timeout_ms=step.first_token_timeout_ms,
                    )  # fmt: skip
            except ModelError as exc:
                made.append(Attempt(step.tier, exc.kind, None, step.why))
                continue
            if answer.first_token_ms is not None and not any(a.answer for a in made):
                self._meter.record_ms(MODEL_FIRST_TOKEN, answer.first_token_ms)
            problem = answer_problem(answer)
            made.append(Attempt(step.tier, problem.value if problem else OK, answer, step.why))

    def _deadline_allows_another(self, deadline: Deadline) -> bool:
        return deadline.allows(self._clock.monotonic_ms(), self._envelope.finish_reserve_ms)
