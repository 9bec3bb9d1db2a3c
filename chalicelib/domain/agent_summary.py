"""The summary the agent reads when a call is handed over: who called, what they asked, what was
tried, how they feel and what to do next, by template (no model).

The summary is in the call's language: its words are that language's ``summary.json``
(``SummaryTemplate``, ``Language.summary``); this module fills them in and holds none of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.conversation import Role
from chalicelib.domain.handover import (
    CALLER_ASKED,
    HUMAN_ONLY_TOPIC,
    REPEATED_FAILURE,
    REPEATED_MISUNDERSTANDING,
    TOOL_UNAVAILABLE,
)
from chalicelib.domain.session import Session, TurnRecord

MAX_SUMMARY_CHARS = 1_000
MASK_KEEP_DIGITS = 4  # an account number is shown as its last four digits

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
