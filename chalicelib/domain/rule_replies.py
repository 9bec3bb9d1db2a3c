"""Tier-0 dialogue: the rules' reply to the caller's words, and what it changes in the session."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.conversation import Action, Reply, SpeechPart, TurnRequest
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.handover import (
    CALLER_ASKED,
    HUMAN_ONLY_TOPIC,
    REPEATED_MISUNDERSTANDING,
    human_only_topic,
)
from chalicelib.domain.language_words import RulesWords
from chalicelib.domain.model_replies import ModelRun
from chalicelib.domain.phrases import (
    ANYTHING_ELSE,
    ASK_ACCOUNT_AGAIN,
    CANNOT_HELP_YET,
    GOODBYE,
    GREETING,
    HANDOVER,
    NOT_UNDERSTOOD_YES_NO,
    canned,
)
from chalicelib.domain.prompt import baseline_tokens
from chalicelib.domain.router import Route
from chalicelib.domain.rules import Intent, Understanding, classify
from chalicelib.domain.session import Pending, PendingKind, Session, SessionStatus
from chalicelib.domain.tiers import RULES
from chalicelib.domain.turn_outcome import Charged, SessionChange, TurnOutcome, charged, finish_turn

_UNDERSTOOD = SessionChange(misunderstandings=0)


def answer_with_rules(
    session: Session | None,
    request: TurnRequest,
    seq: int,
    now_ms: int,
    policy: DialoguePolicy,
    route: Route | None = None,
    *,
    words: RulesWords,
    spent: ModelRun | None = None,
) -> TurnOutcome:
    """Answer turn ``seq`` of ``request`` with tier-0 rules and evolve the session.

    ``words``: the tier-0 words of the call's language (``language_words``).

    ``spent``: the models' work this turn already did before it came to the rules (a version
    race re-read a session that routes the words to them): its tokens and calls stay the turn's.
    """
    current = session or Session.new(request.contact_id, now_ms, channel=request.channel)
    topic = human_only_topic(request.utterance, policy.human_only_topics, words)
    if topic is not None and current.status is not SessionStatus.ENDED:
        reasons = (f"tier0:{HUMAN_ONLY_TOPIC}", f"handover:{HUMAN_ONLY_TOPIC}", f"topic:{topic}")
        reply = canned(HANDOVER, HUMAN_ONLY_TOPIC, reasons, Action.HANDOVER, policy.queue_for(HUMAN_ONLY_TOPIC, topic))
        change = SessionChange(pending=None)
    else:
        reply, change = _respond(current, classify(request.utterance, words), policy)
    if route is not None and route.tier > RULES:  # the router wanted a model; say why it was not asked
        reply = replace(reply, reasons=(*route.reasons, *reply.reasons))
    baseline = baseline_tokens(policy, session, request.utterance, reply.text)
    return finish_turn(current, request, seq, now_ms, policy, reply=reply, change=change, baseline=baseline,
                       routed_tier=route.tier if route is not None else RULES,
                       spent=charged(spent.attempts) if spent else Charged(),
                       tools=spent.tools if spent else ())  # fmt: skip


def _respond(session: Session, heard: Understanding, policy: DialoguePolicy) -> tuple[Reply, SessionChange]:
    """The reply to ``heard`` and what it changes in the session."""
    reasons = (f"tier0:{heard.rule}",)
    pending = session.pending

    if session.status is SessionStatus.ENDED:
        return canned(GOODBYE, "goodbye", (*reasons, "session_ended"), Action.END), SessionChange()
    if heard.intent is Intent.AGENT:
        reply = canned(HANDOVER, heard.intent, (*reasons, f"handover:{CALLER_ASKED}"), Action.HANDOVER,
                       policy.queue_for(CALLER_ASKED))  # fmt: skip
        return reply, replace(_UNDERSTOOD, pending=None)
    if heard.intent is Intent.GOODBYE:
        return canned(GOODBYE, heard.intent, reasons, Action.END), replace(_UNDERSTOOD, pending=None)
    if heard.intent is Intent.ACCOUNT_DIGITS and heard.digits:
        speech = (SpeechPart("I heard "), SpeechPart(heard.digits, say_as="digits"), SpeechPart(". Is that right?"))
        reply = Reply(Action.SPEAK, speech, heard.intent, 0, reasons)
        return reply, replace(_UNDERSTOOD, pending=Pending(PendingKind.CONFIRM_ACCOUNT, heard.digits))
    if heard.intent is Intent.REPEAT:
        previous = session.last_turn.reply if session.last_turn else None
        if previous is None:
            return canned(GREETING, heard.intent, reasons), _UNDERSTOOD
        return Reply(Action.SPEAK, previous.speech, heard.intent, 0, reasons, previous.queue), SessionChange()
    if heard.intent in (Intent.YES, Intent.NO) and pending is not None:
        return _answer_pending(pending, heard.intent is Intent.YES, reasons)
    if heard.intent is Intent.GREETING:
        return canned(GREETING, heard.intent, reasons), _UNDERSTOOD
    if heard.intent is Intent.THANKS:
        reply = canned("You're welcome. " + ANYTHING_ELSE, heard.intent, reasons)
        return reply, replace(_UNDERSTOOD, pending=Pending(PendingKind.ANYTHING_ELSE))
    # Intent.LANGUAGE (a request for another language) is answered like UNKNOWN for now: switching
    # the call's language is the session's and the turn's job, not wired yet (issue 18). Any intent
    # without a branch above lands here, so a new one is never answered as something it is not.
    return _not_understood(session, heard, reasons, policy)


def _answer_pending(pending: Pending, yes: bool, reasons: tuple[str, ...]) -> tuple[Reply, SessionChange]:
    if pending.kind is PendingKind.CONFIRM_ACCOUNT:
        if yes:
            text = "Thank you, I've noted that account number. How can I help you with it today?"
            return canned(text, "confirm_account", reasons), replace(_UNDERSTOOD, account_number=pending.value,
                                                                     pending=None)  # fmt: skip
        return canned(ASK_ACCOUNT_AGAIN, "reject_account", reasons), replace(
            _UNDERSTOOD, pending=Pending(PendingKind.ACCOUNT_NUMBER)
        )
    if pending.kind is PendingKind.ANYTHING_ELSE:
        if yes:
            reply = canned("Sure, what else can I help you with?", "anything_else", reasons)
        else:
            reply = canned(GOODBYE, "nothing_else", reasons, Action.END)
        return reply, replace(_UNDERSTOOD, pending=None)
    # ACCOUNT_NUMBER: we asked for digits and got yes/no.
    return canned("Please say the account number one digit at a time.", "account_number", reasons), _UNDERSTOOD


def _not_understood(
    session: Session, heard: Understanding, reasons: tuple[str, ...], policy: DialoguePolicy
) -> tuple[Reply, SessionChange]:
    count = session.misunderstandings + 1
    if count >= policy.misunderstandings_before_handover:
        reply = canned(HANDOVER, heard.intent, (*reasons, f"handover:{REPEATED_MISUNDERSTANDING}"), Action.HANDOVER,
                       policy.queue_for(REPEATED_MISUNDERSTANDING))  # fmt: skip
        return reply, SessionChange(misunderstandings=count, pending=None)
    text = NOT_UNDERSTOOD_YES_NO if heard.intent in (Intent.YES, Intent.NO) else CANNOT_HELP_YET
    return canned(text, heard.intent, (*reasons, "not_handled_by_rules")), SessionChange(misunderstandings=count)
