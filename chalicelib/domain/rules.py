"""Tier 0: what can be understood by rules alone, without a model.

Callers do not talk like forms: they hesitate ("um, yeah"), correct themselves ("four four
seven, no sorry, four four eight"), read numbers digit by digit ("double five", "oh" for zero)
and shout "agent!". ``classify`` recognises the few intents that rules handle reliably and says
``UNKNOWN`` for everything else, so a later tier can take it.

Digits are read by the one reader of spoken numbers (``domain/spoken_numbers.py``: numerals, "oh",
"double five"), a word at a time. Tier 0 takes digits said one by one: tens and teens ("forty
four") are not read here, and are left to a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.spoken_numbers import NUM, OTHER, REPEATERS, TEENS, TENS, UNITS, WORD, Token, piece_at


class Intent(StrEnum):
    AGENT = "agent"
    GOODBYE = "goodbye"
    ACCOUNT_DIGITS = "account_digits"
    REPEAT = "repeat"
    YES = "yes"
    NO = "no"
    GREETING = "greeting"
    THANKS = "thanks"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Understanding:
    intent: Intent
    digits: str | None = None
    # Which rule matched, for the turn's recorded reasons.
    rule: str = ""


_FILLERS = re.compile(r"\b(um+|uh+|uhm|erm?|hmm+|ah+|like|you know|well|okay so|oh well)\b")
_PUNCT = re.compile(r"[^\w\s']")
_SPACES = re.compile(r"\s+")

_WHOLE_NUMBERS = frozenset({*TEENS, *TENS})  # read by a model, not here
_WORDS = re.compile(r"\S+")
# After one of these the caller restates the number: keep only what follows.
_CORRECTION = re.compile(r"\b(no wait|no sorry|sorry|wait|actually|i mean|let me start again|scratch that|no no)\b")

_AGENT = re.compile(
    r"\b(agent|representative|rep|operator|human|real person|live person|actual person|"
    r"someone real|somebody real|a person|speak to someone|talk to someone|speak to somebody|"
    r"talk to somebody|customer service person)\b"
)
_GOODBYE = re.compile(
    r"\b(bye|goodbye|good bye|that's all|that is all|that's everything|that's it|nothing else|"
    r"no more questions|i'm done|im done|hang up|have a good (?:day|one|night)|that'll be all|that will be all|"
    r"i'm all set|all set)\b"
)
_REPEAT = re.compile(
    r"\b(repeat|say that again|say it again|come again|pardon|what did you say|one more time|"
    r"didn't catch|did not catch|didn't hear|did not hear|sorry what|what was that)\b|^(huh|what|sorry|excuse me)$"
)
_YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "ya", "correct", "right", "sure", "affirmative", "ok", "okay",
                        "exactly", "absolutely", "definitely"})  # fmt: skip
_NO_WORDS = frozenset({"no", "nope", "nah", "negative", "wrong", "incorrect"})
# A yes or no answer is made only of these words; anything else ("yes, and also...", "no, the
# other one") carries more than yes or no and is left to a model.
_ANSWER_FILLER = frozenset({"that's", "thats", "that", "is", "it", "it's", "its", "isn't", "not", "me", "i", "am",
                            "please", "thanks", "thank", "you", "all", "good", "fine", "sounds", "got", "do", "does",
                            "did", "was", "the", "one", "indeed", "totally", "of", "course", "sir", "ma'am",
                            "i'm"})  # fmt: skip
_NO_PHRASE = re.compile(
    r"\b(not right|not correct|isn't right|is not right|that's wrong|that is wrong|not it|not me)\b"
)
_GREETING_CUES = frozenset({"hi", "hello", "hey", "hiya", "morning", "afternoon", "evening"})
_GREETING_WORDS = _GREETING_CUES | {"good", "there", "yes", "yeah", "oh"}
# "Hello, can you hear me?": the caller checks the line; answered like a greeting.
_LINE_CHECK = re.compile(r"^(?:hello |hi |hey )?(?:can you hear me|is (?:anybody|anyone|someone) there|are you there)$")
# Said as one word of assent; the filler list would otherwise eat their first half.
_ASSENT_SOUNDS = re.compile(r"\b(uh huh|mm hmm|mhm|uh-huh|mm-hmm)\b")
_THANKS = re.compile(r"^(thanks|thank you|thanks a lot|thank you so much|thank you very much|great thanks|"
                     r"great thank you|perfect thanks|perfect thank you|ok thanks|okay thanks|ok thank you|"
                     r"okay thank you|cheers|that's great thanks|that's great thank you|awesome thanks)$")  # fmt: skip
_POLITE_TAIL = re.compile(r"\b(please|thanks|thank you|thank you very much|there)$")

MIN_ACCOUNT_DIGITS = 4


def normalize(utterance: str) -> str:
    """Lower-case, drop punctuation and hesitations, fold white space."""
    text = _ASSENT_SOUNDS.sub(" yes ", utterance.lower().replace("’", "'"))
    text = _PUNCT.sub(" ", text)
    text = _FILLERS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _strip_polite(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _POLITE_TAIL.sub("", text).strip()
    return text


def extract_digits(text: str) -> str:
    """Digits the caller read out, in order, honouring "double"/"triple" and self-corrections.

    ``text`` is normalized. Returns "" when there are none.
    """
    corrections = list(_CORRECTION.finditer(text))
    if corrections:
        tail = text[corrections[-1].end() :]
        if _digits_in(tail):
            text = tail
    return _digits_in(text)


def _digits_in(text: str) -> str:
    """The digits of ``text`` (normalized), word by word through ``spoken_numbers.piece_at``."""
    tokens = _words(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        piece = None if tokens[i].text in _WHOLE_NUMBERS else piece_at(tokens, i)
        if piece is None:
            i += 1
            continue
        out.append(piece[0])
        i = piece[1]
    return "".join(out)


def _words(text: str) -> list[Token]:
    """``text``'s words as the reader's tokens: a numeral, a word, or neither (letters and digits
    together, "sw1a", are no number)."""
    tokens: list[Token] = []
    for m in _WORDS.finditer(text):
        word = m.group()
        kind = NUM if word.isdigit() else OTHER if any(c.isdigit() for c in word) else WORD
        tokens.append(Token(kind, word, m.start(), m.end()))
    return tokens


_ACCOUNT_CUES = frozenset({"account", "member", "customer", "membership", "policy", "id", "number", "my", "is", "it's",
                           "its", "it", "the", "that's", "thats", "yes", "yeah", "sure", "ok", "okay", "here", "go",
                           "ready", "got", "a", "pen", "and", "then", "please", "thanks", "mine"})  # fmt: skip
# Numbers that are not the account number: a model must work out what the caller means.
_OTHER_NUMBERS = re.compile(r"\b(zip|postal|post code|postcode|order|meter|reading|phone|reach|call me|cell|card|"
                            r"last four|last 4|date|code|pin|amount|dollars|extension|ending|reference|ticket|"
                            r"claim)\b")  # fmt: skip


def _is_account_number(text: str, digits: str) -> bool:
    """True when the caller reads out an account (member, customer) number and little else."""
    if len(digits) < MIN_ACCOUNT_DIGITS or _OTHER_NUMBERS.search(text):
        return False
    corrections = list(_CORRECTION.finditer(text))
    if corrections:
        # "four four seven, no sorry, four four eight one two nine": only a full restatement after
        # the last correction is taken; anything less is left to a model.
        tail = text[corrections[-1].end() :]
        if len(_digits_in(tail)) < MIN_ACCOUNT_DIGITS:
            return False
        text = _CORRECTION.sub(" ", text)
    other = [t for t in text.split() if not (t.isdigit() or t in UNITS or t in REPEATERS or t in _ACCOUNT_CUES)]
    return len(other) == 0


def _is_greeting(text: str) -> bool:
    if _LINE_CHECK.match(text):
        return True
    words = set(text.split())
    return bool(words & _GREETING_CUES) and words <= _GREETING_WORDS


def classify(utterance: str) -> Understanding:
    """Recognise a tier-0 intent in the caller's words, or ``UNKNOWN``."""
    text = normalize(utterance)
    if not text:
        return Understanding(Intent.UNKNOWN, rule="empty")
    if _AGENT.search(text):
        return Understanding(Intent.AGENT, rule="asks_for_agent")
    digits = extract_digits(text)
    if _is_account_number(text, digits):
        return Understanding(Intent.ACCOUNT_DIGITS, digits=digits, rule="digits_read_out")
    if _GOODBYE.search(text):
        return Understanding(Intent.GOODBYE, rule="says_goodbye")
    if _REPEAT.search(text):
        return Understanding(Intent.REPEAT, rule="asks_to_repeat")
    if _THANKS.match(text):
        return Understanding(Intent.THANKS, rule="thanks")
    short = _strip_polite(text)
    words = short.split()
    if words and set(words) <= _YES_WORDS | _NO_WORDS | _ANSWER_FILLER:
        if words[0] in _NO_WORDS or _NO_PHRASE.search(short):
            return Understanding(Intent.NO, rule="denies")
        if set(words) & _YES_WORDS or short in ("it is", "that's me", "it's me", "that is me"):
            return Understanding(Intent.YES, rule="affirms")
    if _is_greeting(short):
        return Understanding(Intent.GREETING, rule="greets")
    return Understanding(Intent.UNKNOWN, rule="no_rule_matched")
