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
from chalicelib.domain.language import Language, LanguageChoice
from chalicelib.domain.language_words import RulesWords
from chalicelib.domain.model_replies import ModelRun
from chalicelib.domain.phrases import Phrases, canned
from chalicelib.domain.prompt import baseline_tokens
from chalicelib.domain.router import Route
from chalicelib.domain.rules import Intent, Understanding, classify
from chalicelib.domain.session import Pending, PendingKind, Session, SessionStatus
from chalicelib.domain.tiers import RULES
from chalicelib.domain.turn_outcome import Charged, SessionChange, TurnOutcome, charged, finish_turn, language_of_turn

_UNDERSTOOD = SessionChange(misunderstandings=0)


def answer_with_rules(
    session: Session | None,
    request: TurnRequest,
    seq: int,
    now_ms: int,
    policy: DialoguePolicy,
    route: Route | None = None,
    *,
    words: RulesWords | None = None,
    spent: ModelRun | None = None,
    language: LanguageChoice | None = None,
) -> TurnOutcome:
    """Answer turn ``seq`` of ``request`` with tier-0 rules and evolve the session.

    ``words``: the tier-0 words of the turn's language (``language_words``); None: its language's
    own (``Language.words``).

    ``spent``: the models' work this turn already did before it came to the rules (a version
    race re-read a session that routes the words to them): its tokens and calls stay the turn's.
    ``language``: the turn's language (``turn_outcome.language_of_turn``, which decides it when
    None): the reply is in its lines.
    """
    current = session or Session.new(request.contact_id, now_ms, channel=request.channel)
    language = language or language_of_turn(session, request, policy)
    pack = policy.language(language.locale)
    says = pack.phrases
    words = words or _rules_words(pack)
    topic = human_only_topic(request.utterance, policy.human_only_topics, words,
                             policy.topic_patterns_for(language.locale))  # fmt: skip
    if topic is not None and current.status is not SessionStatus.ENDED:
        reasons = (f"tier0:{HUMAN_ONLY_TOPIC}", f"handover:{HUMAN_ONLY_TOPIC}", f"topic:{topic}")
        reply = canned(says.handover, HUMAN_ONLY_TOPIC, reasons, Action.HANDOVER,
                       policy.queue_for(HUMAN_ONLY_TOPIC, topic))  # fmt: skip
        change = SessionChange(pending=None)
    else:
        reply, change = _respond(current, classify(request.utterance, words), policy, says)
    if route is not None and route.tier > RULES:  # the router wanted a model; say why it was not asked
        reply = replace(reply, reasons=(*route.reasons, *reply.reasons))
    baseline = baseline_tokens(policy, session, request.utterance, reply.text, language.locale)
    return finish_turn(current, request, seq, now_ms, policy, reply=reply, change=change, baseline=baseline,
                       routed_tier=route.tier if route is not None else RULES,
                       spent=charged(spent.attempts) if spent else Charged(),
                       tools=spent.tools if spent else (), language=language)  # fmt: skip


def _rules_words(language: Language) -> RulesWords:
    if language.words is None:
        raise ValueError(f"the language {language.locale} was made without its rules' words: pass them")
    return language.words.rules


def _respond(
    session: Session, heard: Understanding, policy: DialoguePolicy, says: Phrases
) -> tuple[Reply, SessionChange]:
    """The reply to ``heard`` and what it changes in the session, in the lines ``says``."""
    reasons = (f"tier0:{heard.rule}",)
    pending = session.pending

    if session.status is SessionStatus.ENDED:
        return canned(says.goodbye, "goodbye", (*reasons, "session_ended"), Action.END), SessionChange()
    if heard.intent is Intent.AGENT:
        reply = canned(says.handover, heard.intent, (*reasons, f"handover:{CALLER_ASKED}"), Action.HANDOVER,
                       policy.queue_for(CALLER_ASKED))  # fmt: skip
        return reply, replace(_UNDERSTOOD, pending=None)
    if heard.intent is Intent.GOODBYE:
        return canned(says.goodbye, heard.intent, reasons, Action.END), replace(_UNDERSTOOD, pending=None)
    if heard.intent is Intent.ACCOUNT_DIGITS and heard.digits:
        speech = (
            SpeechPart(says.heard_before),
            SpeechPart(heard.digits, say_as="digits"),
            SpeechPart(says.heard_after),
        )
        reply = Reply(Action.SPEAK, speech, heard.intent, 0, reasons)
        return reply, replace(_UNDERSTOOD, pending=Pending(PendingKind.CONFIRM_ACCOUNT, heard.digits))
    if heard.intent is Intent.REPEAT:
        previous = session.last_turn.reply if session.last_turn else None
        if previous is None:
            return canned(says.greeting, heard.intent, reasons), _UNDERSTOOD
        return Reply(Action.SPEAK, previous.speech, heard.intent, 0, reasons, previous.queue), SessionChange()
    if heard.intent in (Intent.YES, Intent.NO) and pending is not None:
        return _answer_pending(pending, heard.intent is Intent.YES, reasons, says)
    if heard.intent is Intent.GREETING:
        return canned(says.greeting, heard.intent, reasons), _UNDERSTOOD
    if heard.intent is Intent.THANKS:
        reply = canned(says.welcome + says.anything_else, heard.intent, reasons)
        return reply, replace(_UNDERSTOOD, pending=Pending(PendingKind.ANYTHING_ELSE))
    if heard.intent is Intent.LANGUAGE:
        # The turn switched the call's language before it came here (``turn_outcome.language_of_turn``
        # with the requested locale): ``says`` is already the new language's; the switch, or why
        # there was none, is in the reply's reasons.
        return canned(says.language_switched, heard.intent, reasons), _UNDERSTOOD
    # Any intent without a branch above lands here, so a new one is never answered as something it is not.
    return _not_understood(session, heard, reasons, policy, says)


def _answer_pending(
    pending: Pending, yes: bool, reasons: tuple[str, ...], says: Phrases
) -> tuple[Reply, SessionChange]:
    if pending.kind is PendingKind.CONFIRM_ACCOUNT:
        if yes:
            noted = replace(_UNDERSTOOD, account_number=pending.value, pending=None)
            return canned(says.account_noted, "confirm_account", reasons), noted
        return canned(says.ask_account_again, "reject_account", reasons), replace(
            _UNDERSTOOD, pending=Pending(PendingKind.ACCOUNT_NUMBER)
        )
    if pending.kind is PendingKind.ANYTHING_ELSE:
        if yes:
            reply = canned(says.what_else, "anything_else", reasons)
        else:
            reply = canned(says.goodbye, "nothing_else", reasons, Action.END)
        return reply, replace(_UNDERSTOOD, pending=None)
    # ACCOUNT_NUMBER: we asked for digits and got yes/no.
    return canned(says.say_account_digits, "account_number", reasons), _UNDERSTOOD


def _not_understood(
    session: Session, heard: Understanding, reasons: tuple[str, ...], policy: DialoguePolicy, says: Phrases
) -> tuple[Reply, SessionChange]:
    count = session.misunderstandings + 1
    if count >= policy.misunderstandings_before_handover:
        why = (*reasons, f"handover:{REPEATED_MISUNDERSTANDING}")
        reply = canned(says.handover, heard.intent, why, Action.HANDOVER, policy.queue_for(REPEATED_MISUNDERSTANDING))
        return reply, SessionChange(misunderstandings=count, pending=None)
    text = says.not_understood_yes_no if heard.intent in (Intent.YES, Intent.NO) else says.cannot_help_yet
    return canned(text, heard.intent, (*reasons, "not_handled_by_rules")), SessionChange(misunderstandings=count)
