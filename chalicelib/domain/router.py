"""Which tier answers an utterance: an explainable complexity score.

Tier 0 takes what the rules understand. Everything else gets a score from features of the
words and of the session; each feature that fires adds its weight and its name to the reasons
recorded on the turn. A score at or above ``LARGE_THRESHOLD`` goes to the large model, the
rest to the small one. Under-routing (a hard request sent to a small model) is the costly
error, so the weights lean towards tier 2 when several weak signals meet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.domain.rules import Intent, classify, normalize
from chalicelib.domain.tiers import LARGE, RULES, SMALL


@dataclass(frozen=True)
class RouteContext:
    """What the session tells the router (all optional)."""

    pending: str | None = None  # what the previous prompt asked for
    misunderstandings: int = 0  # consecutive turns not understood
    negative_sentiment: bool = False  # the caller's sentiment so far
    previous_failed: bool = False  # our previous turn failed or fell back
    escalated: bool = False  # our previous turn went to the large model


@dataclass(frozen=True)
class Route:
    tier: int
    score: float
    reasons: tuple[str, ...]


LARGE_THRESHOLD = 3.0

# High-stakes topics: a wrong answer costs money, a customer, or worse. Any one goes to tier 2.
_HIGH_STAKES = re.compile(
    r"\b(cancel\w*|close (?:my|the) account|terminate|leaving you|switch(?:ing)? (?:to|provider)|complain\w*|"
    r"complaint|refund\w*|dispute\w*|charge ?back|overcharg\w*|double charg\w*|charged (?:me )?twice|"
    r"fraud\w*|scam\w*|stolen|hack\w*|unauthori[sz]ed|identity theft|"
    r"lawyer|attorney|legal|sue|court|ombudsman|regulator|better business bureau|bbb|fcc|"
    r"passed away|died|death|deceased|funeral|bereave\w*|hospital|disabilit\w*|"
    r"can't afford|cannot afford|hardship|lost my job|eviction|shut ?off|disconnect(?:ion|ed)? notice|"
    r"supervisor|manager|escalate)\b"
)
_NEGATIVE = re.compile(
    r"\b(ridiculous|unacceptable|terrible|awful|worst|useless|angry|furious|frustrat\w*|fed up|sick of|"
    r"disgust\w*|outrage\w*|joke|incompetent|rude|horrible|pathetic|unbelievable|"
    r"why is this so|how hard|third time|again and again|keep(?:s)? (?:calling|happening|getting)|"
    r"nobody|no one (?:has|will|can)|still (?:not|hasn't|haven't|isn't|waiting)|never (?:got|received|arrived))\b"
)
_CORRECTION = re.compile(
    r"\b(no wait|no not|not the|the other one|i meant|i mean|actually|instead|wrong|that's not what|"
    r"correction|change (?:that|it) to|not that one|scratch that)\b"
)
_MULTI = re.compile(r"\b(and also|also|as well|plus|and then|another thing|one more thing|while i have you|"
                    r"on top of that|second(?:ly)?|and i (?:need|want|would like)|and can you|and could you)\b")  # fmt: skip
_REQUEST_CUES = re.compile(r"\b(i need|i want|i'd like|i would like|can you|could you|how do i|how can i|"
                           r"what is|what's|when is|when's|where is|where's|why is|why did|is there|do you)\b")  # fmt: skip
_AMOUNT_OR_DATE = re.compile(
    r"(\$\s?\d|\b\d+(?:\.\d+)? ?(?:dollars?|bucks|cents|percent|%)|\b(?:dollars?|bucks)\b|"
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b(?:last|next) (?:month|week|bill|year)\b|"
    r"\b\d{1,2}/\d{1,2}\b|\bthe \d{1,2}(?:st|nd|rd|th)\b)"
)
_QUESTION_WORDS = re.compile(r"\b(why|how come|explain)\b")

LONG_WORDS = 28


def route(utterance: str, context: RouteContext = RouteContext()) -> Route:  # noqa: B008 - frozen default
    """The tier for ``utterance`` in ``context``, with the reasons."""
    heard = classify(utterance)
    if heard.intent is not Intent.UNKNOWN and not _stakes_override(utterance, heard.intent):
        return Route(RULES, 0.0, (f"rules:{heard.rule}",))

    text = normalize(utterance)
    features: list[tuple[str, float]] = []
    if _HIGH_STAKES.search(text):
        features.append(("high_stakes_topic", 3.0))
    if _NEGATIVE.search(text) or utterance.count("!") >= 2:
        features.append(("negative_words", 2.0))
    if _CORRECTION.search(text):
        features.append(("correction", 1.5))
    requests = len(_REQUEST_CUES.findall(text)) + utterance.count("?")
    if _MULTI.search(text) or requests >= 3:
        features.append(("several_requests", 1.5))
    if _AMOUNT_OR_DATE.search(text):
        features.append(("amounts_or_dates", 1.0))
    if _QUESTION_WORDS.search(text):
        features.append(("asks_why", 1.0))
    words = len(text.split())
    if words >= LONG_WORDS:
        features.append(("long_utterance", 1.0))
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


def _stakes_override(utterance: str, intent: Intent) -> bool:
    """A rules intent that must not short-circuit: digits or a yes/no inside a complaint."""
    if intent in (Intent.AGENT, Intent.GOODBYE, Intent.REPEAT, Intent.GREETING, Intent.THANKS):
        return False
    return bool(_HIGH_STAKES.search(normalize(utterance)))
