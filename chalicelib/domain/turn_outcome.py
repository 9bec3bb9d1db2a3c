"""A decided turn: the turn record to store and the session it leaves, built the same way
whether the rules or a model answered.

What a turn changes in the session travels as a typed ``SessionChange`` (a field it leaves
alone is ``KEEP``), applied by ``finish_turn`` with the history, status and last turn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from chalicelib.domain.conversation import Action, Message, Reply, Role, Source, TurnRequest
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.escalation import Attempt
from chalicelib.domain.language import LanguageChoice, turn_language
from chalicelib.domain.rules import Intent, classify
from chalicelib.domain.session import (
    LastTurn,
    ModelCall,
    Pending,
    PendingTool,
    Session,
    SessionStatus,
    ToolFact,
    TurnRecord,
)
from chalicelib.domain.tools import ToolCallRecord
from chalicelib.domain.usage import Usage, UsageKind, tokens

T = TypeVar("T")


class Keep(Enum):
    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class ToolProgress:
    """Where a turn left the tool calls: the graph position, what tools returned (kept for later
    prompts), the calls it cut short, and how many turns in a row held the line."""

    last_tool: str | None
    tool_facts: tuple[ToolFact, ...]
    pending_tools: tuple[PendingTool, ...]
    holds: int


@dataclass(frozen=True)
class SessionChange:
    """What one turn changes in the session besides its history, status and last turn. Every
    turn says whether it failed or escalated (the router reads both on the next turn)."""

    misunderstandings: int | Keep = KEEP
    pending: Pending | Keep | None = KEEP
    account_number: str | Keep | None = KEEP
    previous_failed: bool = False
    previous_escalated: bool = False
    tools: ToolProgress | Keep = KEEP

    def applied_to(self, session: Session) -> Session:
        tools = self.tools
        return replace(
            session,
            misunderstandings=_kept(self.misunderstandings, session.misunderstandings),
            pending=_kept(self.pending, session.pending),
            account_number=_kept(self.account_number, session.account_number),
            previous_failed=self.previous_failed,
            previous_escalated=self.previous_escalated,
            last_tool=session.last_tool if isinstance(tools, Keep) else tools.last_tool,
            tool_facts=session.tool_facts if isinstance(tools, Keep) else tools.tool_facts,
            pending_tools=session.pending_tools if isinstance(tools, Keep) else tools.pending_tools,
            holds=session.holds if isinstance(tools, Keep) else tools.holds,
        )


@dataclass(frozen=True)
class TurnOutcome:
    """A decided turn: what to store and what to answer."""

    record: TurnRecord
    session: Session  # the new state; its ``version`` is still the one it was computed from

    @property
    def reply(self) -> Reply:
        return self.record.reply


@dataclass(frozen=True)
class Charged:
    """What a turn's model calls cost (every call's tokens, usable or not) and their records."""

    usage: tuple[Usage, ...] = ()
    calls: tuple[ModelCall, ...] = ()


def charged(attempts: tuple[Attempt, ...]) -> Charged:
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
    return Charged(usage, tuple(calls))


def finish_turn(
    current: Session,
    request: TurnRequest,
    seq: int,
    now_ms: int,
    policy: DialoguePolicy,
    *,
    reply: Reply,
    change: SessionChange,
    baseline: tuple[int, int],
    routed_tier: int,
    spent: Charged = Charged(),
    tools: tuple[ToolCallRecord, ...] = (),
    language: LanguageChoice | None = None,
) -> TurnOutcome:
    """The turn record and the session after it: the exchange added to the (bounded) history,
    the status the reply's action leaves, ``change`` applied; a Lex turn costs a Lex request.

    ``language``: the language the turn was answered in (``language_of_turn``); it becomes the
    session's, and a switch or an unsupported language is recorded in the reply's reasons.
    """
    if language is not None and language.recorded:
        reply = replace(reply, reasons=(*reply.reasons, *language.recorded))
    if language is not None and reply.queue:  # a person who speaks the caller's language (handover.json)
        reply = replace(reply, queue=policy.queue_in(reply.queue, language.locale))
    history = (
        *current.history,
        Message(Role.CALLER, request.utterance, seq),
        Message(Role.ASSISTANT, reply.text, seq),
    )[-policy.history_limit :]
    status = {Action.HANDOVER: SessionStatus.HANDOVER, Action.END: SessionStatus.ENDED}.get(
        reply.action, current.status
    )
    new_session = replace(
        change.applied_to(current),
        updated_at_ms=now_ms,
        status=status,
        last_seq=seq,
        last_turn=LastTurn(seq=seq, digest=request.digest, reply=reply),
        history=history,
        language=language.locale if language is not None else current.language,
    )
    usage = spent.usage
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
        model_calls=spent.calls,
        routed_tier=routed_tier,
        tool_calls=tools,
        language=new_session.language,
    )
    return TurnOutcome(record=record, session=new_session)


def language_of_turn(
    session: Session | None, request: TurnRequest, policy: DialoguePolicy, *, requested: object = None
) -> LanguageChoice:
    """The language turn ``request`` is answered in, and the call's from then on
    (``language.turn_language``): the session's once it has one, else the event's; switched when
    the caller asks for another or plainly speaks one.

    The request is read by the rules of the language the turn is in so far (``Intent.LANGUAGE``:
    "¿habla español?", "can we do this in spanish"), so the rules, the models and a speculation
    decide it alike; ``requested`` (a locale) is taken as asked instead.
    """
    current = session.language if session else None
    decided = turn_language(current, request.language, request.utterance, policy.languages)
    if requested is None:
        words = policy.language(decided.locale).words
        heard = classify(request.utterance, words.rules) if words is not None else None
        requested = heard.language if heard is not None and heard.intent is Intent.LANGUAGE else None
    if requested is None:
        return decided
    return turn_language(current, request.language, request.utterance, policy.languages, requested=requested)


def _kept(value: T | Keep, current: T) -> T:
    return current if isinstance(value, Keep) else value
