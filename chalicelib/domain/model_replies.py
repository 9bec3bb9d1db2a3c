"""The turn a model answered: from what the models and tools did (``ModelRun``), the reply —
the last attempt's answer, a holding line when a tool was cut short, a safe refusal, or the safe
line when every attempt failed — and what it changes in the session. Every attempt's tokens
are charged, usable or not."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.conversation import Action, Reply, SpeechPart, TurnRequest
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.escalation import OK, Attempt
from chalicelib.domain.handover import REPEATED_FAILURE, TOOL_UNAVAILABLE
from chalicelib.domain.language import LanguageChoice, fold
from chalicelib.domain.phrases import canned
from chalicelib.domain.prompt import baseline_tokens
from chalicelib.domain.router import Route
from chalicelib.domain.session import Pending, PendingKind, PendingTool, Session, ToolFact
from chalicelib.domain.tiers import LARGE
from chalicelib.domain.tools import ToolCallRecord
from chalicelib.domain.turn_outcome import (
    SessionChange,
    ToolProgress,
    TurnOutcome,
    charged,
    finish_turn,
    language_of_turn,
)

MAX_TOOL_FACTS = 4
# ``ModelRun.refused`` of a speculative run whose answer asked for a side effect: it stops there.
STOPPED_AT_SIDE_EFFECT = "side_effect"


@dataclass(frozen=True)
class ModelRun:
    """What the models and tools did for one turn (``usecases/run_models.RunModels``)."""

    attempts: tuple[Attempt, ...]  # every model call, over every round
    give_up_reason: str
    tools: tuple[ToolCallRecord, ...] = ()
    facts: tuple[ToolFact, ...] = ()  # what tools returned this turn
    last_tool: str | None = None  # where the conversation now is in the graph (None: unchanged)
    refused: str | None = None  # a tool call was refused, or its result was garbage
    held: tuple[PendingTool, ...] = ()  # tool calls cut short: the next turn makes them
    hold_reason: str = ""

    @property
    def answer(self) -> Attempt | None:
        """The last attempt, when it gave a usable answer."""
        return self.attempts[-1] if self.attempts and self.attempts[-1].outcome == OK else None


def answer_from_models(
    session: Session | None,
    request: TurnRequest,
    seq: int,
    now_ms: int,
    policy: DialoguePolicy,
    *,
    route: Route,
    run: ModelRun,
    language: LanguageChoice | None = None,
) -> TurnOutcome:
    """The turn answered from ``run`` (see the module doc); its own lines (holding, fallback,
    handover) in the turn's ``language`` (``turn_outcome.language_of_turn`` when None)."""
    current = session or Session.new(request.contact_id, now_ms, channel=request.channel)
    language = language or language_of_turn(session, request, policy)
    says = policy.language(language.locale).phrases
    steps = tuple(a.why for a in run.attempts if a.why and a.why != "routed")
    tools = ToolProgress(
        last_tool=run.last_tool or current.last_tool,
        tool_facts=(*current.tool_facts, *run.facts)[-MAX_TOOL_FACTS:],
        pending_tools=run.held,
        holds=current.holds + 1 if run.held else 0,
    )
    final = run.answer
    baseline: tuple[int, int] | None = None
    if run.refused is not None:
        reply = canned(says.tool_refused, "tool_refused", (*route.reasons, *steps, f"tool_refused:{run.refused}"))
        change = SessionChange(previous_failed=True, tools=tools)
    elif run.held:
        reasons = (*route.reasons, *steps, f"holding_line:{run.hold_reason}")
        if current.holds >= 1:
            reply = canned(says.handover, "handover", (*reasons, f"handover:{TOOL_UNAVAILABLE}"), Action.HANDOVER,
                           policy.queue_for(TOOL_UNAVAILABLE))  # fmt: skip
        else:
            reply = canned(says.holding_line, "holding_line", reasons)
        change = SessionChange(tools=tools)
    elif final is not None and final.answer is not None:
        text = spoken_reply(final.answer.text, policy.max_reply_chars)
        reply = Reply(Action.SPEAK, (SpeechPart(text),), "model", final.tier,
                      (*route.reasons, *steps, f"tier{final.tier}:answered"))  # fmt: skip
        asks = any(fold(cue) in fold(text) for cue in says.asks_anything_else)
        pending = Pending(PendingKind.ANYTHING_ELSE) if asks else None
        escalated = final.tier == LARGE and route.tier < LARGE
        change = SessionChange(misunderstandings=0, pending=pending, previous_escalated=escalated, tools=tools)
        baseline = (final.answer.input_tokens, final.answer.output_tokens)
    else:
        count = current.misunderstandings + 1
        reasons = (*route.reasons, *steps, f"fallback:{run.give_up_reason}")
        if count >= policy.misunderstandings_before_handover:
            reply = canned(says.handover, "fallback", (*reasons, f"handover:{REPEATED_FAILURE}"), Action.HANDOVER,
                           policy.queue_for(REPEATED_FAILURE))  # fmt: skip
        else:
            reply = canned(says.fallback_model, "fallback", reasons)
        change = SessionChange(misunderstandings=count, previous_failed=True, tools=tools)
    if baseline is None:
        baseline = baseline_tokens(policy, session, request.utterance, reply.text, language.locale)
    return finish_turn(current, request, seq, now_ms, policy, reply=reply, change=change, baseline=baseline,
                       routed_tier=route.tier, spent=charged(run.attempts), tools=run.tools,
                       language=language)  # fmt: skip


def spoken_reply(text: str, max_chars: int) -> str:
    """A model's text made fit to speak: one line, at most ``max_chars``, cut at a sentence."""
    flat = " ".join(text.split())
    if len(flat) <= max_chars:
        return flat
    cut = flat[:max_chars]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > 0 else cut.rstrip() + "…"
