"""Which tier answers an utterance: an explainable complexity score.

Tier 0 takes what the rules understand. Everything else gets a score from features of the
words and of the session; each feature that fires adds its weight and its name to the reasons
recorded on the turn. A score at or above ``LARGE_THRESHOLD`` goes to the large model, the
rest to the small one. Under-routing (a hard request sent to a small model) is the costly
error, so the weights lean towards tier 2 when several weak signals meet.

The features' words are the call's language's (``language_words.RouterWords``, from
``data/languages/<locale>/router.json``); their weights are here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.handover import TOPIC_PATTERNS, TopicPatterns, human_only_topic
from chalicelib.domain.language_words import LanguageWords, RouterWords
from chalicelib.domain.rules import MIN_ACCOUNT_DIGITS, Intent, classify, extract_digits, normalize
from chalicelib.domain.session import Session
from chalicelib.domain.tiers import LARGE, RULES, SMALL


@dataclass(frozen=True)
class RouteContext:
    """What the session tells the router (all optional)."""

    pending: str | None = None  # what the previous prompt asked for
    misunderstandings: int = 0  # consecutive turns not understood
    negative_sentiment: bool = False  # the caller's sentiment so far
    previous_failed: bool = False  # our previous turn failed or fell back
    escalated: bool = False  # our previous turn went to the large model
    pending_tools: bool = False  # an earlier turn cut a tool call short: this turn picks it up
    human_only_topics: tuple[str, ...] = ()  # topics the rules hand over to a person (handover.json)
    # The words that name those topics in the call's language (``DialoguePolicy.topic_patterns_for``).
    topic_patterns: TopicPatterns = field(default_factory=lambda: TOPIC_PATTERNS, hash=False, compare=False)


@dataclass(frozen=True)
class Route:
    tier: int
    score: float
    reasons: tuple[str, ...]


LARGE_THRESHOLD = 3.0

LONG_WORDS = 28
# RouteContext.pending when the previous reply was a model's question (not one the rules asked).
MODEL_QUESTION = "model_question"


def route_context(
    session: Session | None, human_only_topics: tuple[str, ...] = (), topic_patterns: TopicPatterns = TOPIC_PATTERNS
) -> RouteContext:
    """What the router needs from the session (and the human-only topics of the policy)."""
    if session is None:
        return RouteContext(human_only_topics=human_only_topics, topic_patterns=topic_patterns)
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
        human_only_topics=human_only_topics,
        topic_patterns=topic_patterns,
    )


def route(utterance: str, context: RouteContext, words: LanguageWords) -> Route:  # noqa: PLR0912 - one branch a feature
    """The tier for ``utterance`` in ``context``, with the reasons; ``words``: the call's language's."""
    heard = classify(utterance, words.rules)
    topic = human_only_topic(utterance, context.human_only_topics, words.rules, context.topic_patterns)
    if topic is not None:
        # Only a person handles it: the rules hand over, no model is asked.
        return Route(RULES, 0.0, (f"human_only_topic:{topic}",))
    if context.pending_tools and heard.intent not in (Intent.AGENT, Intent.GOODBYE):
        # The result of a cut tool call is spoken by a model, whatever the caller said meanwhile.
        return Route(SMALL, 0.0, ("picks_up_pending_tools",))
    if heard.intent in (Intent.YES, Intent.NO) and context.pending == MODEL_QUESTION:
        # Only the model knows what its own question was.
        return Route(SMALL, 0.0, ("answers_model_question",))
    text = normalize(utterance, words.rules)
    found = words.router
    if heard.intent is not Intent.UNKNOWN and not _stakes_override(text, heard.intent, found):
        return Route(RULES, 0.0, (f"rules:{heard.rule}",))

    features: list[tuple[str, float]] = []
    # Digits said one by one: a number being read out (amounts said in tens are no digits here).
    digits_read_out = len(extract_digits(text, words.rules, one_by_one=True)) >= MIN_ACCOUNT_DIGITS
    if found.high_stakes.search(text):
        features.append(("high_stakes_topic", 3.0))
    if found.negative.search(text) or utterance.count("!") >= 2:
        features.append(("negative_words", 3.0))
    if found.correction.search(text):
        # Correcting a number being read out is one slot; correcting anything else changes what
        # was agreed.
        features.append(("correction", 1.0 if digits_read_out and context.pending != "confirm_account" else 3.0))
    elif context.pending == "confirm_account" and text and text.split()[0] in found.denials:  # "um?" is no text
        features.append(("contradicts_confirmation", 3.0))
    requests = len(found.request_cues.findall(text)) + utterance.count("?")
    if found.multi.search(text) or requests >= 3:
        features.append(("several_requests", 3.0))
    if found.problem.search(text):
        features.append(("something_broken", 1.5))
    if found.amount_or_date.search(text) and not digits_read_out:
        features.append(("amounts_or_dates", 1.5))
    if found.question_words.search(text):
        features.append(("asks_why", 1.5))
    if len(text.split()) >= LONG_WORDS:
        features.append(("long_utterance", 1.5))
    if context.negative_sentiment:
        features.append(("negative_sentiment_so_far", 3.0))
    if context.misunderstandings >= 2:
        features.append(("repeated_misunderstanding", 3.0))
    elif context.misunderstandings == 1:
        features.append(("misunderstood_once", 1.0))
    if context.previous_failed:
        features.append(("previous_turn_failed", 3.0))
    if context.escalated:
        features.append(("previous_turn_escalated", 1.5))

    score = sum(weight for _, weight in features)
    tier = LARGE if score >= LARGE_THRESHOLD else SMALL
    reasons = tuple(name for name, _ in features) or ("routine_request",)
    return Route(tier, score, reasons)


def _stakes_override(text: str, intent: Intent, found: RouterWords) -> bool:
    """A rules intent that must not short-circuit: digits or a yes/no inside a complaint (``text``
    normalized)."""
    if intent in (Intent.AGENT, Intent.GOODBYE, Intent.REPEAT, Intent.GREETING, Intent.THANKS):
        return False
    return bool(found.high_stakes.search(text))
