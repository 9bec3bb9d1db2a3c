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
    ModelWork,
    classify_delivery,
    decide_turn,
    model_turn,
    resolve_stored_turn,
    route_context,
)
from chalicelib.domain.envelope import MODEL_FIRST_TOKEN, MODEL_TOTAL, ROUTING, STATE_READ, STATE_WRITE, Envelope
from chalicelib.domain.escalation import OK, Attempt, GiveUp, next_model_step
from chalicelib.domain.handover import HandoverPolicy, HandoverWorkflow, handover_request
from chalicelib.domain.model import ChatMessage, ToolSpec, answer_problem
from chalicelib.domain.ports import Clock, ModelClient, SessionStore, TurnMeter
from chalicelib.domain.prompt import build_messages
from chalicelib.domain.router import Route, route
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.tiers import RULES, SMALL, TierTable
from chalicelib.errors import (
    ModelError,
    SessionContentionError,
    SessionVersionConflictError,
    TurnAlreadyRecordedError,
)
from chalicelib.usecases.handover import start_handover
from chalicelib.usecases.run_tools import RunTools


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
        tools: the tool runner, or None when no tools are configured (no tool is offered).
        envelope: the latency envelope: model calls get at most its model budgets, and always
            leave its write + render reserve free before the hard deadline; a new commit attempt
            starts only if that reserve still fits.
        meter: where usage and component timings are recorded.
        handover: the handover workflow, started after a committed handover reply (None: not
            configured).
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
        tools: RunTools | None = None,
        commit_attempts: int = 3,
        meter: TurnMeter | None = None,
        handover: HandoverWorkflow | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._models = models if tiers is not None else None
        self._tiers = tiers
        self._envelope = envelope
        self._tools = tools
        self._commit_attempts = commit_attempts
        self._meter: TurnMeter = meter or _NoMeter()
        self._handover = handover

    def __call__(self, request: TurnRequest, deadline: Deadline) -> TurnResult:
        """Answer ``request``.

        Raises:
            SessionContentionError: the session kept changing until attempts or time ran out.
            StoreUnavailableError: the store failed (after the client's own retries).
        """
        attempts = 0
        work: ModelWork | None = None
        while True:
            now_ms = self._clock.now_ms()
            with self._meter.timed(STATE_READ):
                session = self._store.load(request.contact_id, now_ms)
                delivery = classify_delivery(session, request)
                if delivery.kind is DeliveryKind.CHECK_STORED_TURN and session is not None:
                    stored = self._store.load_turn(request.contact_id, delivery.seq, now_ms)
                    delivery = resolve_stored_turn(session, request, stored)
            if delivery.kind is DeliveryKind.DUPLICATE and delivery.reply is not None:
                # A delivery that committed a handover may have died before starting the workflow;
                # the start is idempotent by name, so the redelivery makes sure it is started.
                self._start_handover(request, delivery.seq, delivery.reply)
                return TurnResult(delivery.reply, delivery.seq, duplicate=True, attempts=attempts)
            out_of_time = attempts > 0 and not self._deadline_allows_another(deadline)
            if attempts >= self._commit_attempts or out_of_time:
                raise SessionContentionError(f"turn not committed after {attempts} attempt(s)")

            with self._meter.timed(ROUTING):
                chosen = route(request.utterance, route_context(session, self._policy))
            if chosen.tier == RULES or self._models is None:
                outcome = decide_turn(session, request, delivery.seq, now_ms, self._policy, chosen)
            else:
                work = work or self._model_work(chosen, session, request, delivery.seq, deadline)
                outcome = model_turn(session, request, delivery.seq, now_ms, self._policy, route=chosen, work=work)
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
            self._start_handover(request, delivery.seq, outcome.reply)
            return TurnResult(outcome.reply, delivery.seq, duplicate=False, attempts=attempts, record=record)

    def _start_handover(self, request: TurnRequest, seq: int, reply: Reply) -> None:
        """Start the handover workflow after a committed handover reply (never raises)."""
        if self._handover is None:
            return
        policy = self._policy.handover or HandoverPolicy(default_queue=self._policy.default_queue)
        wanted = handover_request(request.contact_id, seq, reply, policy, request.caller_number)
        if wanted is not None:
            start_handover(self._handover, wanted)

    def _model_work(
        self, chosen: Route, session: Session | None, request: TurnRequest, seq: int, deadline: Deadline
    ) -> ModelWork:
        """Models and tools for one turn: pick up calls an earlier turn cut short, then call
        models; while the answer asks for tools, run them (within the graph, the call limit and
        the budget) and call the model again with their results."""
        assert self._models is not None and self._tiers is not None  # noqa: S101 - checked in __init__
        messages = list(
            build_messages(
                self._policy.system_prompt,
                session,
                request.utterance,
                max_history_messages=self._policy.max_history_messages,
                max_message_chars=self._policy.max_message_chars,
            )
        )
        follow_up_ms = self._tiers.get(SMALL).expected_ms()
        work = ModelWork(attempts=(), give_up_reason="")
        last_tool = session.last_tool if session else None
        calls_made = 0
        if self._tools is not None and session is not None and session.pending_tools:
            picked = self._tools.pending(request.contact_id, session.pending_tools, deadline=deadline,
                                         follow_up_ms=follow_up_ms)  # fmt: skip
            work = replace(work, tools=picked.records, facts=picked.facts, last_tool=picked.last_tool,
                           refused=picked.refused, held=picked.held, hold_reason=picked.hold_reason)  # fmt: skip
            if picked.refused or picked.held:
                return work
            last_tool = picked.last_tool or last_tool
            results = " ".join(f"{f.tool} returned {f.result_json}." for f in picked.facts)
            messages.insert(
                -1, ChatMessage("system", f"Results of the tool calls made for the caller's request: {results}")
            )
        tier = chosen.tier
        while True:
            offered = self._tools.graph.offered(last_tool) if self._tools is not None else ()
            attempts, reason = self._ask_models(tier, tuple(messages), offered, deadline)
            work = replace(work, attempts=(*work.attempts, *attempts), give_up_reason=reason)
            final = attempts[-1] if attempts and attempts[-1].outcome == OK else None
            if final is None or final.answer is None or not final.answer.tool_calls:
                return work
            if self._tools is None:
                return replace(work, refused="no_tools_configured")
            done = self._tools(
                request.contact_id, seq, final.answer.tool_calls, last_tool=last_tool, calls_made=calls_made,
                deadline=deadline, follow_up_ms=follow_up_ms,
            )  # fmt: skip
            calls_made += len(done.records)
            last_tool = done.last_tool or last_tool
            work = replace(work, tools=(*work.tools, *done.records), facts=(*work.facts, *done.facts),
                           last_tool=last_tool, refused=done.refused, held=done.held,
                           hold_reason=done.hold_reason)  # fmt: skip
            if done.refused or done.held:
                return work
            messages += [
                ChatMessage("assistant", final.answer.text, tool_calls=final.answer.tool_calls),
                *done.messages,
            ]
            tier = final.tier  # the tier that asked for the tools speaks their result

    def _ask_models(
        self, tier: int, messages: tuple[ChatMessage, ...], offered: tuple[ToolSpec, ...], deadline: Deadline
    ) -> tuple[tuple[Attempt, ...], str]:
        """Call models as the domain's escalation policy says, until an answer or give-up."""
        assert self._models is not None and self._tiers is not None  # noqa: S101 - checked in __init__
        made: list[Attempt] = []
        envelope = self._envelope
        while True:
            now = self._clock.monotonic_ms()
            step = next_model_step(
                tier,
                tuple(made),
                deadline.timeout_for(envelope.budget(MODEL_TOTAL), now, envelope.finish_reserve_ms),
                self._tiers,
                past_soft_deadline=deadline.past_soft(now),
                first_token_cap_ms=envelope.budget(MODEL_FIRST_TOKEN),
            )
            if isinstance(step, GiveUp):
                return tuple(made), step.reason
            spec = self._tiers.get(step.tier)
            try:
                with self._meter.timed("model"):
                    answer = self._models.complete(
                        spec, messages, offered, timeout_ms=step.timeout_ms,
                        first_token_timeout_ms=step.first_token_timeout_ms,
                    )  # fmt: skip
            except ModelError as exc:
                made.append(Attempt(step.tier, exc.kind, None, step.why))
                continue
            if answer.first_token_ms is not None and MODEL_FIRST_TOKEN not in self._meter.timings():
                self._meter.record_ms(MODEL_FIRST_TOKEN, answer.first_token_ms)
            problem = answer_problem(answer)
            made.append(Attempt(step.tier, problem.value if problem else OK, answer, step.why))

    def _deadline_allows_another(self, deadline: Deadline) -> bool:
        return deadline.allows(self._clock.monotonic_ms(), self._envelope.finish_reserve_ms)
