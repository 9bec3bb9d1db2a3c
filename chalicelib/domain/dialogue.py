"""Tier-0 dialogue: given the session and the caller's words, the reply and the next session.

Also decides how a delivered turn relates to what is stored (new, or a redelivery of a turn
already answered), since that is a rule about sequences, not about storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.conversation import Action, Message, Reply, Role, Source, SpeechPart, TurnRequest
from chalicelib.domain.escalation import OK, Attempt
from chalicelib.domain.handover import (
    CALLER_ASKED,
    HUMAN_ONLY_TOPIC,
    REPEATED_FAILURE,
    REPEATED_MISUNDERSTANDING,
    TOOL_UNAVAILABLE,
    HandoverPolicy,
    human_only_topic,
)
from chalicelib.domain.model import estimate_tokens
from chalicelib.domain.prompt import build_messages
from chalicelib.domain.router import MODEL_QUESTION, Route, RouteContext
from chalicelib.domain.rules import Intent, Understanding, classify
from chalicelib.domain.session import (
    LastTurn,
    ModelCall,
    Pending,
    PendingKind,
    PendingTool,
    Session,
    SessionStatus,
    ToolFact,
    TurnRecord,
)
from chalicelib.domain.tiers import LARGE, RULES
from chalicelib.domain.tools import ToolCallRecord
from chalicelib.domain.usage import Usage, UsageKind, tokens

DEFAULT_SYSTEM_PROMPT = "You are a phone agent for a contact center. Answer in one or two short spoken sentences."


@dataclass(frozen=True)
class DialoguePolicy:
    history_limit: int = 24
    misunderstandings_before_handover: int = 3
    default_queue: str = "GeneralSupport"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_history_messages: int = 8
    max_message_chars: int = 600
    # Longest reply we speak (Lex messages stop at 1,024 characters of SSML).
    max_reply_chars: int = 600
    # Human-only topics and the queue per reason or topic (handover.json); None: every
    # handover goes to ``default_queue`` and no topic is human-only.
    handover: HandoverPolicy | None = None

    def queue_for(self, reason: str, topic: str | None = None) -> str:
        """The queue a handover of ``reason`` (about ``topic``) goes to."""
        return self.handover.queue_for(reason, topic) if self.handover is not None else self.default_queue

    @property
    def human_only_topics(self) -> tuple[str, ...]:
        return self.handover.human_only_topics if self.handover is not None else ()


# --- how a delivery relates to the stored session ---------------------------------------------


class DeliveryKind(StrEnum):
    NEW = "new"  # process as turn ``seq``
    DUPLICATE = "duplicate"  # answered before: return the stored reply
    CHECK_STORED_TURN = "check_stored_turn"  # an older sequence: compare with its stored record


@dataclass(frozen=True)
class Delivery:
    kind: DeliveryKind
    seq: int
    reply: Reply | None = None


def classify_delivery(session: Session | None, request: TurnRequest) -> Delivery:
    """Decide whether ``request`` is a new turn or a redelivery of one already answered.

    A redelivery (Connect's retry, Lambda's retry, a concurrent duplicate) carries the same
    sequence and the same words as the stored turn. A request whose sequence is taken by a
    turn with *other* words is a new turn: the flow kept an old sequence (for example after a
    fallback answer that did not advance it), so it is numbered after the newest stored turn.
    """
    if session is None or session.last_turn is None:
        return Delivery(DeliveryKind.NEW, max(request.seq, 1))
    last = session.last_turn
    if request.seq > last.seq:
        return Delivery(DeliveryKind.NEW, request.seq)
    if request.digest == last.digest:
        return Delivery(DeliveryKind.DUPLICATE, last.seq, last.reply)
    if request.seq < last.seq:
        return Delivery(DeliveryKind.CHECK_STORED_TURN, request.seq)
    return Delivery(DeliveryKind.NEW, last.seq + 1)


def resolve_stored_turn(session: Session, request: TurnRequest, stored: TurnRecord | None) -> Delivery:
    """Finish ``CHECK_STORED_TURN``: a redelivery if the stored turn has the same words."""
    if stored is not None and stored.digest == request.digest:
        return Delivery(DeliveryKind.DUPLICATE, stored.seq, stored.reply)
    return Delivery(DeliveryKind.NEW, session.last_seq + 1)


# --- the reply -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnOutcome:
    """A decided turn: what to store and what to answer."""

    record: TurnRecord
    session: Session  # the new state; its ``version`` is still the one it was computed from

    @property
    def reply(self) -> Reply:
        return self.record.reply


GREETING = "Hi, thanks for calling. How can I help you today?"
ANYTHING_ELSE = "Is there anything else I can help you with?"
HANDOVER = "Let me connect you with someone who can help. Please stay on the line."
GOODBYE = "Thanks for calling. Goodbye."
CANNOT_HELP_YET = "I'm sorry, I can't help with that yet. You can say agent at any time to speak with a person."
NOT_UNDERSTOOD_YES_NO = "Sorry, I'm not sure what that refers to. How can I help you today?"
ASK_ACCOUNT_AGAIN = "Sorry about that. Please say your account number again, one digit at a time."
FALLBACK_SAY_AGAIN = "Sorry, I didn't catch that. Could you say it again?"
FALLBACK_TROUBLE = "Sorry, I'm having a little trouble right now. Could you say that again?"
FALLBACK_MODEL = "Sorry, I'm having trouble with that right now. Could you say it another way?"
HOLDING_LINE = "Let me check that for you. It's taking a little longer than usual; bear with me for just a moment."
TOOL_REFUSED = (
    "I'm sorry, that's not something I can do for you here. Say agent and I'll connect you with someone who can help."
)
MAX_TOOL_FACTS = 4
_ASKS_ANYTHING_ELSE = re.compile(r"anything else", re.IGNORECASE)


def _speak(
    text: str, intent: str, reasons: tuple[str, ...], action: Action = Action.SPEAK, queue: str | None = None
) -> Reply:
    return Reply(action=action, speech=(SpeechPart(text),), intent=intent, tier=0, reasons=reasons, queue=queue)


def route_context(session: Session | None, policy: DialoguePolicy | None = None) -> RouteContext:
    """What the router needs from the session (and the policy's human-only topics)."""
    topics = policy.human_only_topics if policy is not None else ()
    if session is None:
        return RouteContext(human_only_topics=topics)
    pending = session.pending.kind.value if session.pending else None
    last = session.last_turn.reply if session.last_turn else None
    if pending is None and last is not None and last.tier > RULES and last.text.rstrip().endswith("?"):
        pending = MODEL_QUESTION
    return RouteContext(
        pending=pending,
        misunderstandings=session.misunderstandings,
        negative_sentiment=session.negative_sentiment,
        previous_failed=session.previous_failed,
        escalated=session.previous_escalated,
        pending_tools=bool(session.pending_tools),
        human_only_topics=topics,
    )


def decide_turn(
    session: Session | None,
    request: TurnRequest,
    seq: int,
    now_ms: int,
    policy: DialoguePolicy,
    route: Route | None = None,
) -> TurnOutcome:
    """Answer turn ``seq`` of ``request`` with tier-0 rules and evolve the session."""
    current = session or Session.new(request.contact_id, now_ms, channel=request.channel)
    understanding = classify(request.utterance)
    topic = human_only_topic(request.utterance, policy.human_only_topics)
    if topic is not None and current.status is not SessionStatus.ENDED:
        reasons = (f"tier0:{HUMAN_ONLY_TOPIC}", f"handover:{HUMAN_ONLY_TOPIC}", f"topic:{topic}")
        reply = _speak(HANDOVER, HUMAN_ONLY_TOPIC, reasons, Action.HANDOVER, policy.queue_for(HUMAN_ONLY_TOPIC, topic))
        changes: dict[str, object] = {"pending": None}
    else:
        reply, changes = _respond(current, understanding, policy)
    if route is not None and route.tier > RULES:  # the router wanted a model; say why it was not asked
        reply = replace(reply, reasons=(*route.reasons, *reply.reasons))
    baseline = _baseline_tokens(session, request, policy, reply)
    changes = {"previous_failed": False, "previous_escalated": False, **changes}
    routed = route.tier if route is not None else RULES
    return _finish(current, request, seq, now_ms, policy, reply=reply, changes=changes, baseline=baseline,
                   routed_tier=routed)  # fmt: skip


@dataclass(frozen=True)
class ModelWork:
    """What the models and tools did for one turn, for ``model_turn`` to answer from."""

    attempts: tuple[Attempt, ...]  # every model call, over every round
    give_up_reason: str
    tools: tuple[ToolCallRecord, ...] = ()
    facts: tuple[ToolFact, ...] = ()  # what tools returned this turn
    last_tool: str | None = None  # where the conversation now is in the graph (None: unchanged)
    refused: str | None = None  # a tool call was refused, or its result was garbage
    held: tuple[PendingTool, ...] = ()  # tool calls cut short: the next turn makes them
    hold_reason: str = ""


def model_turn(
    session: Session | None,
    request: TurnRequest,
    seq: int,
    now_ms: int,
    policy: DialoguePolicy,
    *,
    route: Route,
    work: ModelWork,
) -> TurnOutcome:
    """The turn answered by a model (the last attempt's answer), a holding line when a tool was
    cut short, a safe refusal, or the safe line when every attempt failed. Every attempt's
    tokens are charged, usable or not."""
    current = session or Session.new(request.contact_id, now_ms, channel=request.channel)
    attempts = work.attempts
    usage: tuple[Usage, ...] = ()
    calls: list[ModelCall] = []
    for attempt in attempts:
        answer = attempt.answer
        if answer is not None:
            usage += tokens(answer.model, answer.input_tokens, answer.output_tokens)
        calls.append(
            ModelCall(
                tier=attempt.tier,
                model=answer.model if answer else "",
                outcome=attempt.outcome,
                why=attempt.why,
                input_tokens=answer.input_tokens if answer else 0,
                output_tokens=answer.output_tokens if answer else 0,
                first_token_ms=answer.first_token_ms if answer else None,
                total_ms=answer.total_ms if answer else 0.0,
            )
        )
    steps = tuple(a.why for a in attempts if a.why and a.why != "routed")
    final = attempts[-1] if attempts and attempts[-1].outcome == OK else None
    tool_state: dict[str, object] = {
        "last_tool": work.last_tool or current.last_tool,
        "tool_facts": (*current.tool_facts, *work.facts)[-MAX_TOOL_FACTS:],
        "pending_tools": work.held,
        "holds": current.holds + 1 if work.held else 0,
    }
    if work.refused is not None:
        reasons = (*route.reasons, *steps, f"tool_refused:{work.refused}")
        reply = _speak(TOOL_REFUSED, "tool_refused", reasons)
        changes: dict[str, object] = {"previous_failed": True, "previous_escalated": False, **tool_state}
        baseline = _baseline_tokens(session, request, policy, reply)
    elif work.held:
        reasons = (*route.reasons, *steps, f"holding_line:{work.hold_reason}")
        if current.holds >= 1:
            reply = _speak(HANDOVER, "handover", (*reasons, f"handover:{TOOL_UNAVAILABLE}"), Action.HANDOVER,
                           policy.queue_for(TOOL_UNAVAILABLE))  # fmt: skip
        else:
            reply = _speak(HOLDING_LINE, "holding_line", reasons)
        changes = {"previous_failed": False, "previous_escalated": False, **tool_state}
        baseline = _baseline_tokens(session, request, policy, reply)
    elif final is not None and final.answer is not None:
        text = spoken_reply(final.answer.text, policy.max_reply_chars)
        reasons = (*route.reasons, *steps, f"tier{final.tier}:answered")
        reply = Reply(Action.SPEAK, (SpeechPart(text),), "model", final.tier, reasons)
        pending = Pending(PendingKind.ANYTHING_ELSE) if _ASKS_ANYTHING_ELSE.search(text) else None
        changes = {
            "misunderstandings": 0,
            "pending": pending,
            "previous_failed": False,
            "previous_escalated": final.tier == LARGE and route.tier < LARGE,
            **tool_state,
        }
        baseline = (final.answer.input_tokens, final.answer.output_tokens)
    else:
        count = current.misunderstandings + 1
        reasons = (*route.reasons, *steps, f"fallback:{work.give_up_reason}")
        if count >= policy.misunderstandings_before_handover:
            reply = _speak(HANDOVER, "fallback", (*reasons, f"handover:{REPEATED_FAILURE}"), Action.HANDOVER,
                           policy.queue_for(REPEATED_FAILURE))  # fmt: skip
        else:
            reply = _speak(FALLBACK_MODEL, "fallback", reasons)
        changes = {"misunderstandings": count, "previous_failed": True, "previous_escalated": False, **tool_state}
        baseline = _baseline_tokens(session, request, policy, reply)
    return _finish(current, request, seq, now_ms, policy, reply=reply, changes=changes, usage=usage, baseline=baseline,
                   calls=tuple(calls), routed_tier=route.tier, tools=work.tools)  # fmt: skip


def spoken_reply(text: str, max_chars: int) -> str:
    """A model's text made fit to speak: one line, at most ``max_chars``, cut at a sentence."""
    flat = " ".join(text.split())
    if len(flat) <= max_chars:
        return flat
    cut = flat[:max_chars]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > 0 else cut.rstrip() + "…"


def _baseline_tokens(
    session: Session | None, request: TurnRequest, policy: DialoguePolicy, reply: Reply
) -> tuple[int, int]:
    """What a large-model call would have used for this turn: the prompt it would have been
    sent and a reply as long as the one given."""
    messages = build_messages(
        policy.system_prompt,
        session,
        request.utterance,
        max_history_messages=policy.max_history_messages,
        max_message_chars=policy.max_message_chars,
    )
    return estimate_tokens("".join(m.content for m in messages)) + 4 * len(messages), estimate_tokens(reply.text)


def _finish(
    current: Session,
    request: TurnRequest,
    seq: int,
    now_ms: int,
    policy: DialoguePolicy,
    *,
    reply: Reply,
    changes: dict[str, object],
    baseline: tuple[int, int],
    routed_tier: int,
    usage: tuple[Usage, ...] = (),
    calls: tuple[ModelCall, ...] = (),
    tools: tuple[ToolCallRecord, ...] = (),
) -> TurnOutcome:
    history = (
        *current.history,
        Message(Role.CALLER, request.utterance, seq),
        Message(Role.ASSISTANT, reply.text, seq),
    )[-policy.history_limit :]
    status = {Action.HANDOVER: SessionStatus.HANDOVER, Action.END: SessionStatus.ENDED}.get(
        reply.action, current.status
    )
    new_session = current.evolve(
        updated_at_ms=now_ms,
        status=status,
        last_seq=seq,
        last_turn=LastTurn(seq=seq, digest=request.digest, reply=reply),
        history=history,
        **changes,
    )
    if request.source is Source.LEX:
        usage = (*usage, Usage(UsageKind.LEX_SPEECH_REQUESTS, Decimal(1)))
    record = TurnRecord(
        contact_id=request.contact_id,
        seq=seq,
        digest=request.digest,
        caller=request.utterance,
        reply=reply,
        source=request.source.value,
        received_at_ms=now_ms,
        usage=usage,
        baseline_tokens=baseline,
        model_calls=calls,
        routed_tier=routed_tier,
        tool_calls=tools,
    )
    return TurnOutcome(record=record, session=new_session)


def _respond(session: Session, heard: Understanding, policy: DialoguePolicy) -> tuple[Reply, dict[str, object]]:
    """The reply to ``heard`` and the session fields it changes."""
    reasons = (f"tier0:{heard.rule}",)
    pending = session.pending
    understood: dict[str, object] = {"misunderstandings": 0}

    if session.status is SessionStatus.ENDED:
        return _speak(GOODBYE, "goodbye", (*reasons, "session_ended"), Action.END), {}
    if heard.intent is Intent.AGENT:
        reply = _speak(
            HANDOVER, heard.intent, (*reasons, f"handover:{CALLER_ASKED}"), Action.HANDOVER,
            policy.queue_for(CALLER_ASKED),
        )  # fmt: skip
        return reply, {**understood, "pending": None}
    if heard.intent is Intent.GOODBYE:
        return _speak(GOODBYE, heard.intent, reasons, Action.END), {**understood, "pending": None}
    if heard.intent is Intent.ACCOUNT_DIGITS and heard.digits:
        speech = (SpeechPart("I heard "), SpeechPart(heard.digits, say_as="digits"), SpeechPart(". Is that right?"))
        reply = Reply(Action.SPEAK, speech, heard.intent, 0, reasons)
        return reply, {**understood, "pending": Pending(PendingKind.CONFIRM_ACCOUNT, heard.digits)}
    if heard.intent is Intent.REPEAT:
        previous = session.last_turn.reply if session.last_turn else None
        if previous is None:
            return _speak(GREETING, heard.intent, reasons), understood
        return Reply(Action.SPEAK, previous.speech, heard.intent, 0, reasons, previous.queue), {}
    if heard.intent in (Intent.YES, Intent.NO) and pending is not None:
        return _answer_pending(pending, heard, reasons, understood)
    if heard.intent is Intent.GREETING:
        return _speak(GREETING, heard.intent, reasons), understood
    if heard.intent is Intent.THANKS:
        text = "You're welcome. " + ANYTHING_ELSE
        return _speak(text, heard.intent, reasons), {**understood, "pending": Pending(PendingKind.ANYTHING_ELSE)}
    return _not_understood(session, heard, reasons, policy)


def _answer_pending(
    pending: Pending, heard: Understanding, reasons: tuple[str, ...], understood: dict[str, object]
) -> tuple[Reply, dict[str, object]]:
    yes = heard.intent is Intent.YES
    if pending.kind is PendingKind.CONFIRM_ACCOUNT:
        if yes:
            text = "Thank you, I've noted that account number. How can I help you with it today?"
            return _speak(text, "confirm_account", reasons), {
                **understood,
                "account_number": pending.value,
                "pending": None,
            }
        return _speak(ASK_ACCOUNT_AGAIN, "reject_account", reasons), {
            **understood,
            "pending": Pending(PendingKind.ACCOUNT_NUMBER),
        }
    if pending.kind is PendingKind.ANYTHING_ELSE:
        if yes:
            return _speak("Sure, what else can I help you with?", "anything_else", reasons), {
                **understood,
                "pending": None,
            }
        return _speak(GOODBYE, "nothing_else", reasons, Action.END), {**understood, "pending": None}
    # ACCOUNT_NUMBER: we asked for digits and got yes/no.
    return _speak("Please say the account number one digit at a time.", "account_number", reasons), understood


def _not_understood(
    session: Session, heard: Understanding, reasons: tuple[str, ...], policy: DialoguePolicy
) -> tuple[Reply, dict[str, object]]:
    count = session.misunderstandings + 1
    if count >= policy.misunderstandings_before_handover:
        reply = _speak(
            HANDOVER,
            heard.intent,
            (*reasons, f"handover:{REPEATED_MISUNDERSTANDING}"),
            Action.HANDOVER,
            policy.queue_for(REPEATED_MISUNDERSTANDING),
        )
        return reply, {"misunderstandings": count, "pending": None}
    text = NOT_UNDERSTOOD_YES_NO if heard.intent in (Intent.YES, Intent.NO) else CANNOT_HELP_YET
    return _speak(text, heard.intent, (*reasons, "not_handled_by_rules")), {"misunderstandings": count}


def fallback_reply(reason: str, *, input_problem: bool) -> Reply:
    """The safe answer when a turn cannot be processed: ask again, change nothing.

    ``input_problem`` says the caller's input was the problem (empty, garbled) rather than us.
    """
    text = FALLBACK_SAY_AGAIN if input_problem else FALLBACK_TROUBLE
    return _speak(text, "fallback", (f"fallback:{reason}",))
