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

from chalicelib.domain.handover import human_only_topic
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


@dataclass(frozen=True)
class Route:
    tier: int
    score: float
    reasons: tuple[str, ...]


LARGE_THRESHOLD = 3.0

# High-stakes topics: a wrong answer costs money, a customer, or worse. Any one goes to tier 2.
_HIGH_STAKES = re.compile(
    r"\b(cancel\w*|close (?:my|the|our) \w* ?account|closing|terminate|end (?:my|the) contract|leaving you|"
    r"switch(?:ing)? "
    r"(?:to|provider)|stop (?:my|the) service|transfer everything|"
    r"complain\w*|refund\w*|dispute\w*|charge ?back|overcharg\w*|double charg\w*|charged (?:me )?(?:twice|three times)|"
    r"don't recognize|do not recognize|didn't order|never ordered|but i paid|i already paid|charged (?:me )?a|"
    r"waive\w*|credit(?:ed)? (?:for|back|to)|a credit(?! card)|promo\w*|promised|extension|"
    r"take (?:it|that) off|removed?|"
    r"fraud\w*|scam\w*|stolen|hack\w*|unauthori[sz]ed|identity|in my name|using my account|clicked the link|"
    r"phishing|aren't me|wasn't me|not me|lost my (?:wallet|card|phone)|"
    r"lawyer|attorney|legal|law\b|sue|court|ombudsman|regulator|commissioner|better business bureau|bbb|fcc|violation|"
    r"passed away|died|death|deceased|funeral|bereave\w*|hospital|medical|disabilit\w*|elderly|dementia|baby|"
    r"divorce|can't afford|cannot afford|hardship|lost my job|paycheck|eviction|overdrawn|"
    r"shut ?off|cut (?:off|me off)|disconnect\w*|without (?:water|power|gas|heat|internet|service)|"
    r"no (?:water|power|heat)|"
    r"damag\w*|injur\w*|unsafe|emergency|leak\w*|smell gas|"
    r"supervisor|manager|escalate|denial|denied)\b"
)
_NEGATIVE = re.compile(
    r"\b(ridiculous|unacceptable|terrible|awful|worst|useless|angry|furious|frustrat\w*|fed up|sick of|upset|unhappy|"
    r"disgust\w*|outrage\w*|joke|incompetent|rude|horrible|pathetic|unbelievable|what is wrong with you|"
    r"why is this so|how hard|third time|second time|again and again|keep(?:s)? (?:calling|happening|getting)|"
    r"nobody|no one|still (?:not|hasn't|haven't|isn't|waiting|does)|never (?:got|received|arrived|showed)|"
    r"on hold for|for hours)\b"
)
# Something is broken and the caller has already tried: multi-step troubleshooting.
_PROBLEM = re.compile(
    r"\b(keeps?|kept|declin\w*|error|not working|stopped working|doesn't work|won't|can't (?:log|get|connect|pay)|"
    r"down for|dropping|drops|no service|not here|missing|never|wrong|higher than|more than (?:usual|last)|"
    r"usually|already (?:tried|restarted|reset|did)|tried|still|went up|gone up|increased|doubled)\b"
)
_CORRECTION = re.compile(
    r"\b(no wait|no not|not the|the other one|the one before|i meant|i mean|actually|instead|that's not|"
    r"correction|change (?:that|it) to|not that one|scratch that|no no|i said|that's the old|not mine|not my)\b"
)
_MULTI = re.compile(r"\b(and also|also|as well|plus|and then|another thing|one more thing|while i have you|"
                    r"on top of that|secondly|and i (?:need|want|would like)|and can you|and could you|"
                    r"and what about|what about|and when|and where|and why|and how)\b")  # fmt: skip
_REQUEST_CUES = re.compile(
    r"\b(i need|i want|i'd like|i would like|can you|could you|how do i|how can i|"
    r"what is|what's|when is|when's|where is|where's|why is|why did|is there|do you)\b"
)
_AMOUNT_OR_DATE = re.compile(
    r"(\$\s?\d|\b\d+(?:\.\d+)? ?(?:dollars?|bucks|cents|percent|%)|\b(?:dollars?|bucks)\b|"
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday)\b|"
    r"\b(?:last|next) (?:month|week|bill|year)\b|"
    r"\b\d{1,2}/\d{1,2}\b|\bthe \d{1,2}(?:st|nd|rd|th)\b|\b(?:fifth|tenth|fifteenth|twentieth|thirtieth|"
    r"first|second|third|fourth|twelfth|fourteenth|twenty \w+th)\b|"
    r"\b(?:hundred|thousand|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)\b)"
)
_QUESTION_WORDS = re.compile(r"\b(why|how come|explain|what happened)\b")

LONG_WORDS = 28
# RouteContext.pending when the previous reply was a model's question (not one the rules asked).
MODEL_QUESTION = "model_question"


def route_context(session: Session | None, human_only_topics: tuple[str, ...] = ()) -> RouteContext:
    """What the router needs from the session (and the human-only topics of the policy)."""
    if session is None:
        return RouteContext(human_only_topics=human_only_topics)
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
    )


def route(utterance: str, context: RouteContext = RouteContext()) -> Route:  # noqa: PLR0912 - one branch a feature
    """The tier for ``utterance`` in ``context``, with the reasons."""
    heard = classify(utterance)
    topic = human_only_topic(utterance, context.human_only_topics)
    if topic is not None:
        # Only a person handles it: the rules hand over, no model is asked.
        return Route(RULES, 0.0, (f"human_only_topic:{topic}",))
    if context.pending_tools and heard.intent not in (Intent.AGENT, Intent.GOODBYE):
        # The result of a cut tool call is spoken by a model, whatever the caller said meanwhile.
        return Route(SMALL, 0.0, ("picks_up_pending_tools",))
    if heard.intent in (Intent.YES, Intent.NO) and context.pending == MODEL_QUESTION:
        # Only the model knows what its own question was.
        return Route(SMALL, 0.0, ("answers_model_question",))
    if heard.intent is not Intent.UNKNOWN and not _stakes_override(utterance, heard.intent):
        return Route(RULES, 0.0, (f"rules:{heard.rule}",))

    text = normalize(utterance)
    features: list[tuple[str, float]] = []
    digits_read_out = len(extract_digits(text)) >= MIN_ACCOUNT_DIGITS
    if _HIGH_STAKES.search(text):
        features.append(("high_stakes_topic", 3.0))
    if _NEGATIVE.search(text) or utterance.count("!") >= 2:
        features.append(("negative_words", 3.0))
    if _CORRECTION.search(text):
        # Correcting a number being read out is one slot; correcting anything else changes what
        # was agreed.
        features.append(("correction", 1.0 if digits_read_out and context.pending != "confirm_account" else 3.0))
    elif context.pending == "confirm_account" and text.split()[0] in ("no", "nope", "nah"):
        features.append(("contradicts_confirmation", 3.0))
    requests = len(_REQUEST_CUES.findall(text)) + utterance.count("?")
    if _MULTI.search(text) or requests >= 3:
        features.append(("several_requests", 3.0))
    if _PROBLEM.search(text):
        features.append(("something_broken", 1.5))
    if _AMOUNT_OR_DATE.search(text) and not digits_read_out:
        features.append(("amounts_or_dates", 1.5))
    if _QUESTION_WORDS.search(text):
        features.append(("asks_why", 1.5))
    words = len(text.split())
    if words >= LONG_WORDS:
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


def _stakes_override(utterance: str, intent: Intent) -> bool:
    """A rules intent that must not short-circuit: digits or a yes/no inside a complaint."""
    if intent in (Intent.AGENT, Intent.GOODBYE, Intent.REPEAT, Intent.GREETING, Intent.THANKS):
        return False
    return bool(_HIGH_STAKES.search(normalize(utterance)))
