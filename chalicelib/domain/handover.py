"""Handing a call over to a person: which topics only a person handles, which queue, the
workflow's name, business hours, and the summary the agent reads.

Pure: the time is passed in (epoch milliseconds), and business hours are a fixed UTC offset so
no time-zone database is read.

Languages: the topic patterns below are the English pack (``TOPIC_PATTERNS``); another language's
pack is compiled from ``handover.json``'s ``topic_phrases`` (``topic_patterns``) and picked by
``HandoverPolicy.topic_patterns_for``. A queue may have a variant per language
(``language_queues``: ``FraudTeam`` is ``FraudTeamSpanish`` for ``es-US``); a language without a
variant of a queue keeps the queue. The agent's summary is in the call's language: its words are
that language's ``summary.json`` (``SummaryTemplate``, ``Language.summary``); the domain fills
them in and holds none of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.domain.conversation import Action, Reply, Role
from chalicelib.domain.end_of_turn import language_key
from chalicelib.domain.language_words import RulesWords, fold_accents
from chalicelib.domain.rules import normalize
from chalicelib.domain.session import Session, TurnRecord

# Why a call is handed over; the suffix of the reply's ``handover:<reason>`` reason.
CALLER_ASKED = "caller_asked"
REPEATED_MISUNDERSTANDING = "repeated_misunderstanding"
REPEATED_FAILURE = "repeated_failure"
TOOL_UNAVAILABLE = "tool_unavailable"
HUMAN_ONLY_TOPIC = "human_only_topic"

# The topics the domain can recognise; ``handover.json`` says which of them only a person
# handles. The words overlap with the router's high-stakes vocabulary, but are narrower: a
# caller who says "cancel" may still be helped; one who reports a death or a fraud is not.
TOPIC_PATTERNS: dict[str, re.Pattern[str]] = {
    "bereavement": re.compile(r"\b(passed away|has died|died|death|deceased|funeral|bereave\w*|widow\w*)\b"),
    "fraud": re.compile(
        r"\b(fraud\w*|scam\w*|stolen|identity theft|unauthori[sz]ed|hacked|phishing|"
        r"someone (?:else )?(?:used|is using|opened) my)\b"
    ),
    "legal": re.compile(
        r"\b(lawyer|attorney|solicitor|legal action|take (?:you|this) to court|court|sue|suing|lawsuit|"
        r"ombudsman|regulator)\b"
    ),
    "hardship": re.compile(r"\b(can't afford|cannot afford|lost my job|financial hardship|eviction)\b"),
}

TopicPatterns = Mapping[str, re.Pattern[str]]  # topic -> the words that name it, in one language
ENGLISH = "en-US"  # the language of TOPIC_PATTERNS, and of a call whose language has no pack
_STEM = "*"  # a phrase ending in * matches any ending of its last word ("fraud*": "fraude")


def topic_patterns(phrases: Mapping[str, Sequence[str]]) -> dict[str, re.Pattern[str]]:
    """One language's pack from its phrases (topic -> phrases): each phrase matched as whole
    words of the normalised utterance (``rules.normalize``, accents folded: a phrase matches
    with or without them), a trailing ``*`` as any ending.

    Example:
        >>> bool(topic_patterns({"fraud": ["fraud*", "me robaron la identidad"]})["fraud"].search("es un fraude"))
        True
    """
    compiled = {}
    for topic, words in phrases.items():
        alternatives = []
        for raw in words:
            stem = raw.strip().endswith(_STEM)
            text = _phrase(raw.strip().removesuffix(_STEM))
            if text:
                alternatives.append(re.escape(text) + (r"\w*" if stem else ""))
        if alternatives:
            compiled[topic] = re.compile(r"\b(?:" + "|".join(sorted(alternatives, key=len, reverse=True)) + r")\b")
    return compiled


_NOT_WORD = re.compile(r"[^\w'*]+")


def _phrase(raw: str) -> str:
    """A topic phrase as the utterance reads once normalized: lower case, single spaces, no
    punctuation, accents folded."""
    return " ".join(_NOT_WORD.sub(" ", fold_accents(raw.lower().replace("’", "'"))).split())


def language_of(language: str | None) -> str:
    """A language as the policy keys it: Lex's ``es_US`` and Connect's ``es-US`` are ``es-US``
    (``end_of_turn.language_key``); None is English."""
    return language_key(language) if language else ENGLISH


MAX_SUMMARY_CHARS = 1_000
MAX_NAME_CHARS = 80  # Step Functions execution names: 1..80 characters
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")
MASK_KEEP_DIGITS = 4
# The vault token of the caller's own number: the turn puts the number in the vault under it
# before a handover starts, so the workflow's input (kept 90 days) carries the token, never the
# number; the callback step reads it back just before booking (``HandoverRequest.callback_ref``).
CALLER_NUMBER_TOKEN = "[CALLER_PHONE]"  # noqa: S105 - a placeholder name, not a secret


@dataclass(frozen=True)
class BusinessHours:
    """When agents take calls: weekdays (0 = Monday) and a daily window, at a fixed UTC offset."""

    utc_offset_minutes: int = 0
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    opens_minute: int = 8 * 60  # minutes after local midnight
    closes_minute: int = 20 * 60

    def is_open(self, now_ms: int) -> bool:
        """True when ``now_ms`` falls inside the window on an open day."""
        local_minutes = now_ms // 60_000 + self.utc_offset_minutes
        day = (local_minutes // (24 * 60) + 3) % 7  # 1970-01-01 was a Thursday (3)
        minute = local_minutes % (24 * 60)
        return day in self.days and self.opens_minute <= minute < self.closes_minute


@dataclass(frozen=True)
class HandoverPolicy:
    """What ``handover.json`` configures."""

    human_only_topics: tuple[str, ...] = ()
    # reason or topic -> queue; the topic wins over the reason.
    queues: tuple[tuple[str, str], ...] = ()
    default_queue: str = "GeneralSupport"
    hours: BusinessHours = field(default_factory=BusinessHours)
    wait_seconds: int = 900  # how long the caller may wait for an agent before a callback
    heartbeat_seconds: int = 300
    callback_window: str = "morning"  # offered when the caller named none
    # language -> (queue -> that language's variant); a queue without one is kept.
    language_queues: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    # language -> its topic pack (topic -> pattern); English is TOPIC_PATTERNS, not listed here.
    topic_packs: tuple[tuple[str, tuple[tuple[str, re.Pattern[str]], ...]], ...] = ()

    def queue_for(self, reason: str, topic: str | None = None, language: str | None = None) -> str:
        """The queue for a handover of ``reason`` (about ``topic``), in ``language``'s variant
        when it has one (None: the queue as configured)."""
        by_key = dict(self.queues)
        queue = by_key[topic] if topic is not None and topic in by_key else by_key.get(reason, self.default_queue)
        return self.queue_in(queue, language)

    def queue_in(self, queue: str, language: str | None) -> str:
        """``queue``'s variant for ``language`` (``FraudTeam`` -> ``FraudTeamSpanish`` for
        ``es-US``), or ``queue`` itself when the language has none (or is None)."""
        if language is None:
            return queue
        variants = dict(dict(self.language_queues).get(language_of(language), ()))
        return variants.get(queue, queue)

    @property
    def queue_names(self) -> frozenset[str]:
        """Every queue a handover can name, in every language."""
        names = {*(q for _, q in self.queues), self.default_queue}
        return frozenset(names | {v for _, variants in self.language_queues for _, v in variants})

    def topic_patterns_for(self, language: str | None) -> TopicPatterns:
        """The topic pack of ``language``; English (``TOPIC_PATTERNS``) for English, None, or a
        language with no pack of its own."""
        pack = dict(self.topic_packs).get(language_of(language))
        return dict(pack) if pack is not None else TOPIC_PATTERNS


def human_only_topic(
    utterance: str, topics: tuple[str, ...], words: RulesWords, patterns: TopicPatterns = TOPIC_PATTERNS
) -> str | None:
    """The first of ``topics`` the caller's words are about, or None.

    Args:
        utterance: what the caller said.
        topics: the human-only topics (``handover.json``), in order.
        words: the rules' words of the call's language, to normalize the utterance as they do.
        patterns: the topic pack of the call's language (``HandoverPolicy.topic_patterns_for``);
            the English pack by default.
    """
    if not topics:
        return None
    text = fold_accents(normalize(utterance, words))
    for topic in topics:
        pattern = patterns.get(topic)
        if pattern is not None and pattern.search(text):
            return topic
    return None


# --- starting the workflow --------------------------------------------------------------------


@dataclass(frozen=True)
class HandoverRequest:
    """What the workflow is started with. Built only from the committed turn, so a retried turn
    builds the same request (Step Functions answers a start with the same name and input as
    the running execution's with that execution)."""

    contact_id: str
    seq: int  # the turn that decided the handover
    reason: str
    queue: str
    topic: str | None = None
    callback_ref: str | None = None  # the vault token of the number to call back (no number: None)
    wait_seconds: int = 900
    heartbeat_seconds: int = 300
    language: str | None = None  # the call's language (``es-US``); None: not known (English)

    @property
    def execution_name(self) -> str:
        return execution_name(self.contact_id, self.seq)

    def as_input(self) -> dict[str, object]:
        """The execution's input (its JSON is sorted, hence byte-identical on a retry)."""
        return {
            "contact_id": self.contact_id,
            "seq": self.seq,
            "reason": self.reason,
            "queue": self.queue,
            "topic": self.topic,
            "callback_ref": self.callback_ref,
            "wait_seconds": self.wait_seconds,
            "heartbeat_seconds": self.heartbeat_seconds,
            "language": self.language,
        }


def execution_name(contact_id: str, handover_seq: int) -> str:
    """``{contact_id}-{handover_seq}``, cut to Step Functions' name rules: at most 80 characters
    of ``0-9A-Za-z_-`` (also what CloudWatch logging accepts)."""
    suffix = f"-{handover_seq}"
    safe = _NAME_UNSAFE.sub("_", contact_id) or "contact"
    return safe[: MAX_NAME_CHARS - len(suffix)] + suffix


def handover_reason(reply: Reply) -> str | None:
    """The reason a reply hands over (``handover:<reason>`` in its reasons), or None."""
    if reply.action is not Action.HANDOVER:
        return None
    for reason in reply.reasons:
        if reason.startswith("handover:"):
            return reason.removeprefix("handover:")
    return CALLER_ASKED


def handover_topic(reply: Reply) -> str | None:
    for reason in reply.reasons:
        if reason.startswith("topic:"):
            return reason.removeprefix("topic:")
    return None


def handover_request(
    contact_id: str,
    seq: int,
    reply: Reply,
    policy: HandoverPolicy,
    callback_ref: str | None = None,
    language: str | None = None,
) -> HandoverRequest | None:
    """The workflow's request for a committed reply, or None when the reply does not hand over.

    ``callback_ref``: the vault token of the number to call back (``CALLER_NUMBER_TOKEN``), never
    the number itself. ``language``: the call's (``es-US``); the queue is its variant in that
    language (the reply's queue, or the policy's for the reason), and the request carries it.
    """
    reason = handover_reason(reply)
    if reason is None:
        return None
    topic = handover_topic(reply)
    queue = policy.queue_in(reply.queue, language) if reply.queue else policy.queue_for(reason, topic, language)
    return HandoverRequest(
        contact_id=contact_id,
        seq=seq,
        reason=reason,
        queue=queue,
        topic=topic,
        callback_ref=callback_ref,
        wait_seconds=policy.wait_seconds,
        heartbeat_seconds=policy.heartbeat_seconds,
        language=language_of(language) if language else None,
    )


# --- the workflow's state on the session (``Session.handover``) ------------------------------


class HandoverStatus:
    PREPARED = "prepared"  # the summary is written
    WAITING = "waiting"  # the workflow waits for an agent (task token stored)
    AGENT_CONNECTED = "agent_connected"
    CALLBACK_BOOKED = "callback_booked"
    VOICEMAIL = "voicemail"  # no number to call back: the caller was offered a voicemail


# --- the summary the agent reads ------------------------------------------------------------

# The reasons and sentiments a summary names (Contact Lens' sentiments, lower case; ``unknown``:
# none heard); each language's ``summary.json`` words every one of them, and every topic.
SUMMARY_REASONS = (CALLER_ASKED, REPEATED_MISUNDERSTANDING, REPEATED_FAILURE, TOOL_UNAVAILABLE, HUMAN_ONLY_TOPIC)
SUMMARY_SENTIMENTS = ("positive", "negative", "neutral", "mixed", "unknown")
NEGATIVE, UNKNOWN = "negative", "unknown"
# Each of ``SummaryTemplate``'s lines, and the placeholders it fills: (those it must name,
# those it may name). ``summary.json`` is checked against this when it is loaded.
SUMMARY_PLACEHOLDERS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "text": (frozenset({"who", "asked", "tried", "sentiment", "next_step"}), frozenset()),
    "name_unknown": (frozenset(), frozenset()),
    "account": (frozenset({"account"}), frozenset()),
    "nothing_asked": (frozenset(), frozenset()),
    "turns": (frozenset({"turns", "tiers"}), frozenset()),
    "one_turn": (frozenset({"tiers"}), frozenset({"turns"})),
    "tools": (frozenset({"tools"}), frozenset()),
    "no_tools": (frozenset(), frozenset()),
    "model_trouble": (frozenset({"failures", "escalations"}), frozenset()),
    "handed_over": (frozenset({"reason"}), frozenset()),
    "about_topic": (frozenset({"topic"}), frozenset()),
    "default_next_step": (frozenset(), frozenset()),
}


@dataclass(frozen=True)
class SummaryTemplate:
    """One language's words of the agent's summary (``data/languages/<locale>/summary.json``):
    the domain fills them in, it holds no words of its own.

    Lines are ``str.format`` templates of the placeholders ``SUMMARY_PLACEHOLDERS`` names; the
    caller's words go in as values, so a brace they said is kept as said. The keyed words
    (``reasons``, ``topics``, ``sentiments``, ``next_steps``) are keyed by the domain's names
    (``human_only_topic``, ``fraud``, ``negative``).

    Example:
        >>> t = SummaryTemplate(text="{who}|{asked}|{tried}|{sentiment}|{next_step}", name_unknown="?",
        ...     account="#{account}", nothing_asked="-", turns="{turns}t {tiers}", tools=" +{tools}",
        ...     no_tools=" 0", model_trouble=" {failures}f {escalations}e", handed_over="; {reason}",
        ...     about_topic=" ({topic})", default_next_step="start")
        >>> build_summary(Session("c", 1, 0, 0), (), "caller_asked", summary=t).text
        '?|-|0t 0 0; caller asked|unknown|start'
    """

    text: str  # the whole summary: {who} {asked} {tried} {sentiment} {next_step}
    name_unknown: str
    account: str  # {account}: the masked account number
    nothing_asked: str
    turns: str  # {turns} {tiers}
    tools: str  # {tools}: "name outcome", comma separated; it follows ``turns``
    no_tools: str
    model_trouble: str  # {failures} {escalations}, after the tools
    handed_over: str  # {reason}, after the rest of what was tried
    about_topic: str  # {topic}, right after ``handed_over``
    default_next_step: str  # a reason and topic without a next step of their own
    one_turn: str | None = None  # ``turns`` when there was one turn (None: ``turns``)
    reasons: tuple[tuple[str, str], ...] = ()  # reason -> its words (none: the reason's name)
    topics: tuple[tuple[str, str], ...] = ()  # topic -> its words (none: the topic's name)
    sentiments: tuple[tuple[str, str], ...] = ()  # sentiment -> its words (none: as heard)
    next_steps: tuple[tuple[str, str], ...] = ()  # reason or topic -> what the agent does next


@dataclass(frozen=True)
class AgentSummary:
    """What the agent sees before saying hello, in the words of ``line`` (the template's
    ``text``)."""

    who: str
    asked: str
    tried: str
    sentiment: str
    next_step: str
    line: str

    @property
    def text(self) -> str:
        text = self.line.format(
            who=self.who, asked=self.asked, tried=self.tried, sentiment=self.sentiment, next_step=self.next_step
        )
        return text if len(text) <= MAX_SUMMARY_CHARS else text[: MAX_SUMMARY_CHARS - 1] + "…"


def mask_account(number: str | None) -> str | None:
    """All but the last four digits hidden."""
    if not number:
        return None
    digits = "".join(c for c in number if c.isdigit()) or number
    return "*" * max(0, len(digits) - MASK_KEEP_DIGITS) + digits[-MASK_KEEP_DIGITS:]


def build_summary(
    session: Session,
    turns: tuple[TurnRecord, ...],
    reason: str,
    topic: str | None = None,
    *,
    summary: SummaryTemplate,
    last_messages: int = 2,
) -> AgentSummary:
    """The agent's summary by template (no model): who, what they asked, what was tried, how
    they feel, what to do next.

    Args:
        session: the call's session (the tool facts, history and sentiment it holds).
        turns: the call's turns, in order.
        reason: why the call is handed over (``CALLER_ASKED``...).
        topic: the human-only topic, if any.
        summary: the words of the agent's language (``Language.summary``). The caller's own
            words are quoted as they are (redacted already), in whatever language they spoke.
        last_messages: how many of the caller's last messages are quoted.
    """
    facts = [_fact(f.result_json) for f in session.tool_facts]
    first_name = next((str(f["first_name"]) for f in facts if f.get("first_name")), None)
    account = mask_account(session.account_number) or next(
        (mask_account(str(f["account_id"])) for f in facts if f.get("account_id")), None
    )
    named_account = summary.account.format(account=account) if account else ""
    who = ", ".join(x for x in (first_name or summary.name_unknown, named_account) if x)
    asked_texts = [m.text for m in session.history if m.role == Role.CALLER][-last_messages:]
    asked = " / ".join(_quote(t) for t in asked_texts) or summary.nothing_asked
    tiers = sorted({t.reply.tier for t in turns} | {c.tier for t in turns for c in t.model_calls})
    tools = [f"{c.name} {c.outcome}" for t in turns for c in t.tool_calls]
    turns_line = summary.one_turn if len(turns) == 1 and summary.one_turn is not None else summary.turns
    tried = turns_line.format(turns=len(turns), tiers="/".join(str(t) for t in tiers) or "0")
    tried += summary.tools.format(tools=", ".join(tools)) if tools else summary.no_tools
    escalations = sum(1 for t in turns for c in t.model_calls if c.why and c.why != "routed")
    failures = sum(1 for t in turns for c in t.model_calls if c.outcome != "ok")
    if escalations or failures:
        tried += summary.model_trouble.format(failures=failures, escalations=escalations)
    reasons, topics = dict(summary.reasons), dict(summary.topics)
    tried += summary.handed_over.format(reason=reasons.get(reason, reason.replace("_", " ")))
    tried += summary.about_topic.format(topic=topics.get(topic, topic)) if topic else ""
    heard = session.caller_sentiments[-1].lower() if session.caller_sentiments else None
    feeling = heard or (NEGATIVE if session.negative_sentiment else UNKNOWN)
    sentiment = dict(summary.sentiments).get(feeling, feeling)
    steps = dict(summary.next_steps)
    next_step = steps.get(topic or "", steps.get(reason, summary.default_next_step))
    return AgentSummary(who=who, asked=asked, tried=tried, sentiment=sentiment, next_step=next_step, line=summary.text)


def _fact(result_json: str) -> dict[str, object]:
    try:
        value = json.loads(result_json)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _quote(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return '"' + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + '"'


# --- ports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowStart:
    """What starting the workflow came to."""

    execution: str  # the execution's name
    already_started: bool  # a start with this name was made before (a retried turn)


class HandoverWorkflow(Protocol):
    """The handover workflow (a Step Functions state machine)."""

    def start(self, request: HandoverRequest) -> WorkflowStart:
        """Start the workflow for ``request``, once: a second start with the same name is
        reported as ``already_started``, not as an error.

        Raises:
            HandoverWorkflowUnavailableError: the service failed or timed out.
            HandoverWorkflowMissingError: the state machine does not exist (configuration).
        """
        ...

    def resume(self, task_token: str, output: dict[str, object]) -> bool:
        """Complete the task waiting on ``task_token`` with ``output``; False when that task is
        no longer waiting (it timed out, or was completed before).

        Raises:
            HandoverWorkflowUnavailableError: the service failed or timed out.
        """
        ...


class ContactAttributes(Protocol):
    """The contact attributes an agent sees (Amazon Connect)."""

    def update(self, contact_id: str, attributes: dict[str, str]) -> None:
        """Set ``attributes`` on the contact (other attributes are kept).

        Raises:
            ContactAttributesUnavailableError: the service failed or timed out.
            ContactAttributesRejectedError: the contact or the attributes were refused.
        """
        ...
