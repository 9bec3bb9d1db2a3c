"""Handing a call over to a person: which topics only a person handles, which queue, the
workflow's name and business hours (the summary the agent reads is ``agent_summary``).

Pure: the time is passed in (epoch milliseconds), and business hours are a fixed UTC offset so
no time-zone database is read.

Languages: the topic patterns below are the English pack (``TOPIC_PATTERNS``); another language's
pack is compiled from ``handover.json``'s ``topic_phrases`` (``topic_patterns``) and picked by
``HandoverPolicy.topic_patterns_for``. A queue may have a variant per language
(``language_queues``: ``FraudTeam`` is ``FraudTeamSpanish`` for ``es-US``); a language without a
variant of a queue keeps the queue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.domain.conversation import Action, Reply
from chalicelib.domain.end_of_turn import language_key
from chalicelib.domain.language_words import RulesWords, fold_accents
from chalicelib.domain.rules import normalize

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


MAX_NAME_CHARS = 80  # Step Functions execution names: 1..80 characters
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")
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
