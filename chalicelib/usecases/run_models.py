"""Run the models (and tools) of one turn: what ``HandleTurn`` asks for live and ``Speculate``
asks for ahead of time; the result is a ``ModelRun`` the domain answers from. The domain's
router picked the tier; ``escalation.next_model_step`` decides each model call within the turn's
deadline; tools run along the declared graph, within its limits."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.conversation import TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.envelope import MODEL_CALLS, MODEL_FIRST_TOKEN, MODEL_TOTAL, Envelope
from chalicelib.domain.escalation import OK, Attempt, GiveUp, next_model_step
from chalicelib.domain.model import ChatMessage, ToolSpec, answer_problem
from chalicelib.domain.model_replies import STOPPED_AT_SIDE_EFFECT, ModelRun
from chalicelib.domain.ports import Clock, ModelClient, UsageMeter
from chalicelib.domain.prompt import build_messages
from chalicelib.domain.router import Route
from chalicelib.domain.session import Session
from chalicelib.domain.tiers import SMALL, TierTable
from chalicelib.domain.turn_outcome import language_of_turn
from chalicelib.errors import ModelError
from chalicelib.usecases.run_tools import RunTools


class RunModels:
    """Models (and tools) for one turn."""

    def __init__(
        self,
        models: ModelClient,
        tiers: TierTable,
        tools: RunTools | None,
        envelope: Envelope,
        clock: Clock,
        meter: UsageMeter,
        policy: DialoguePolicy,
    ) -> None:
        self._policy = policy
        self._models = models
        self._tiers = tiers
        self._tools = tools
        self._envelope = envelope
        self._clock = clock
        self._meter = meter

    def __call__(
        self,
        chosen: Route,
        session: Session | None,
        request: TurnRequest,
        seq: int,
        deadline: Deadline,
        *,
        side_effects: bool = True,
        first_round: tuple[Attempt, ...] = (),
    ) -> ModelRun:
        """Models and tools for one turn: pick up calls an earlier turn cut short, then call
        models; while the answer asks for tools, run them (within the graph, the call limit and
        the budget) and call the model again with their results.

        ``side_effects`` False (a speculative turn): pending calls are not picked up, and an answer
        asking for a side-effecting tool ends the run (``refused="side_effect"``) before any
        tool is called: the live turn makes it, under its journal.
        ``first_round``: the model calls a speculation already made for these words (it stopped at
        a side effect, before any tool ran): the turn goes on from their answer.
        """
        messages = list(
            build_messages(
                self._policy.prompt_for(language_of_turn(session, request, self._policy).locale),
                session,
                request.utterance,
                max_history_messages=self._policy.max_history_messages,
                max_message_chars=self._policy.max_message_chars,
            )
        )
        follow_up_ms = self._tiers.get(SMALL).expected_ms()
        run = ModelRun(attempts=(), give_up_reason="")
        last_tool = session.last_tool if session else None
        calls_made = 0
        if side_effects and self._tools is not None and session is not None and session.pending_tools:
            picked = self._tools.pending(request.contact_id, session.pending_tools, deadline=deadline,
                                         follow_up_ms=follow_up_ms)  # fmt: skip
            run = replace(run, tools=picked.records, facts=picked.facts, last_tool=picked.last_tool,
                           refused=picked.refused, held=picked.held, hold_reason=picked.hold_reason)  # fmt: skip
            if picked.refused or picked.held:
                return run
            last_tool = picked.last_tool or last_tool
            results = " ".join(f"{f.tool} returned {f.result_json}." for f in picked.facts)
            messages.insert(
                -1, ChatMessage("system", f"Results of the tool calls made for the caller's request: {results}")
            )
        tier = chosen.tier
        while True:
            offered = self._tools.graph.offered(last_tool) if self._tools is not None else ()
            if first_round:
                attempts, reason, first_round = first_round, "", ()
            else:
                attempts, reason = self._ask_models(tier, tuple(messages), offered, deadline)
            run = replace(run, attempts=(*run.attempts, *attempts), give_up_reason=reason)
            final = attempts[-1] if attempts and attempts[-1].outcome == OK else None
            if final is None or final.answer is None or not final.answer.tool_calls:
                return run
            if self._tools is None:
                return replace(run, refused="no_tools_configured")
            if not side_effects and any(self._tools.makes_side_effect(c.name) for c in final.answer.tool_calls):
                return replace(run, refused=STOPPED_AT_SIDE_EFFECT)
            done = self._tools(
                request.contact_id, seq, final.answer.tool_calls, last_tool=last_tool, calls_made=calls_made,
                deadline=deadline, follow_up_ms=follow_up_ms,
            )  # fmt: skip
            calls_made += len(done.records)
            last_tool = done.last_tool or last_tool
            run = replace(run, tools=(*run.tools, *done.records), facts=(*run.facts, *done.facts),
                           last_tool=last_tool, refused=done.refused, held=done.held,
                           hold_reason=done.hold_reason)  # fmt: skip
            if done.refused or done.held:
                return run
            messages += [
                ChatMessage("assistant", final.answer.text, tool_calls=final.answer.tool_calls),
                *done.messages,
            ]
            tier = final.tier  # the tier that asked for the tools speaks their result

    def _ask_models(
        self, tier: int, messages: tuple[ChatMessage, ...], offered: tuple[ToolSpec, ...], deadline: Deadline
    ) -> tuple[tuple[Attempt, ...], str]:
        """Call models as the domain's escalation policy says, until an answer or give-up."""
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
                with self._meter.timed(MODEL_CALLS):
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
