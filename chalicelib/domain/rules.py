"""Tier 0: what can be understood by rules alone, without a model.

Callers do not talk like forms: they hesitate ("um, yeah"), correct themselves ("four four
seven, no sorry, four four eight"), read numbers digit by digit ("double five", "oh" for zero)
and shout "agent!". ``classify`` recognises the few intents that rules handle reliably and says
``UNKNOWN`` for everything else, so a later tier can take it.

The words are the call's language's (``language_words.RulesWords``, from
``data/languages/<locale>/rules.json``): nothing here knows a language.

Digits are read by the one reader of spoken numbers (``domain/spoken_numbers.py``: numerals, "oh",
"double five"), a word at a time, with the language's digit words. Tier 0 takes digits said one
by one: tens and teens ("forty four") are left to a model, except in a language whose callers read
numbers in pairs (``DigitWords.whole_numbers``: "cuarenta y cuatro, ochenta y uno").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.language_words import RulesWords, fold_accents
from chalicelib.domain.spoken_numbers import NUM, OTHER, WORD, DigitWords, Token, between_digits, piece_at


class Intent(StrEnum):
    AGENT = "agent"
    GOODBYE = "goodbye"
    ACCOUNT_DIGITS = "account_digits"
    REPEAT = "repeat"
    YES = "yes"
    NO = "no"
    GREETING = "greeting"
    THANKS = "thanks"
    LANGUAGE = "language"  # asks to be served in another language: ``Understanding.language``
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Understanding:
    intent: Intent
    digits: str | None = None
    # Which rule matched, for the turn's recorded reasons.
    rule: str = ""
    # The locale the caller asked for (``Intent.LANGUAGE``): "es-US".
    language: str | None = None


_PUNCT = re.compile(r"[^\w\s']")
_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"\S+")

MIN_ACCOUNT_DIGITS = 4


def normalize(utterance: str, words: RulesWords) -> str:
    """Lower-case, drop punctuation and hesitations, fold white space (and accents, in a language
    whose rules say so)."""
    text = utterance.lower().replace("’", "'")
    if words.fold_accents:
        text = fold_accents(text)
    text = words.assent_sounds.sub(f" {words.assent_word} ", text)
    text = _PUNCT.sub(" ", text)
    text = words.fillers.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _strip_polite(text: str, words: RulesWords) -> str:
    previous = None
    while previous != text:
        previous = text
        text = words.polite_tail.sub("", text).strip()
    return text


def extract_digits(text: str, words: RulesWords, *, one_by_one: bool = False) -> str:
    """Digits the caller read out, in order, honouring "double"/"triple" and self-corrections.

    ``text`` is normalized. Returns "" when there are none. ``one_by_one``: only digits said one
    at a time, even in a language whose callers read numbers in pairs ("doscientos doce dólares"
    is an amount, no digits read out).
    """
    whole = words.numbers.whole_numbers and not one_by_one
    corrections = list(words.correction.finditer(text))
    if corrections:
        tail = text[corrections[-1].end() :]
        if _digits_in(tail, words.numbers, whole=whole):
            text = tail
    return _digits_in(text, words.numbers, whole=whole)


def _digits_in(text: str, numbers: DigitWords, *, whole: bool) -> str:
    """The digits of ``text`` (normalized), word by word through ``spoken_numbers.piece_at``;
    ``whole``: tens and teens are read too ("cuarenta y cuatro" is 44), else left to a model."""
    tokens = _words(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        skipped = not whole and (tokens[i].text in numbers.teens or tokens[i].text in numbers.tens)
        piece = None if skipped else piece_at(tokens, i, numbers)
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


def _is_account_number(text: str, digits: str, words: RulesWords) -> bool:
    """True when the caller reads out an account (member, customer) number and little else."""
    if len(digits) < MIN_ACCOUNT_DIGITS or words.other_numbers.search(text):
        return False
    corrections = list(words.correction.finditer(text))
    if corrections:
        # "four four seven, no sorry, four four eight one two nine": only a full restatement after
        # the last correction is taken; anything less is left to a model.
        tail = text[corrections[-1].end() :]
        if len(_digits_in(tail, words.numbers, whole=words.numbers.whole_numbers)) < MIN_ACCOUNT_DIGITS:
            return False
        text = words.correction.sub(" ", text)
    n = words.numbers
    number_words = {*n.units, *n.repeaters}
    if n.whole_numbers:
        number_words |= {*n.teens, *n.tens, *n.joiners}
    tokens = _words(text)
    # A zero-only word ("o") is part of the number only between two digits ("ocho o uno"), else
    # it is a word ("¿el quince o el veinte?").
    return all(
        t.text.isdigit()
        or t.text in number_words
        or t.text in words.account_cues
        or (t.text in n.zero_between and between_digits(tokens, i, n))
        for i, t in enumerate(tokens)
    )


def _is_greeting(text: str, words: RulesWords) -> bool:
    if words.line_check.match(text):
        return True
    said = set(text.split())
    return bool(said & words.greeting_cues) and said <= words.greeting_cues | words.greeting_words


def _language_asked(text: str, words: RulesWords) -> str | None:
    """The locale the caller asks to be served in ("¿habla español?", "in english"), or None."""
    for locale, cues in words.language_requests:
        if cues.search(text):
            return locale
    return None


def classify(utterance: str, words: RulesWords) -> Understanding:
    """Recognise a tier-0 intent in the caller's words (in the language of ``words``), or ``UNKNOWN``."""
    text = normalize(utterance, words)
    if not text:
        return Understanding(Intent.UNKNOWN, rule="empty")
    language = _language_asked(text, words)
    if language is not None:
        return Understanding(Intent.LANGUAGE, rule="language_request", language=language)
    if words.agent.search(text):
        return Understanding(Intent.AGENT, rule="asks_for_agent")
    digits = extract_digits(text, words)
    if _is_account_number(text, digits, words):
        return Understanding(Intent.ACCOUNT_DIGITS, digits=digits, rule="digits_read_out")
    if words.goodbye.search(text):
        return Understanding(Intent.GOODBYE, rule="says_goodbye")
    if words.repeat.search(text):
        return Understanding(Intent.REPEAT, rule="asks_to_repeat")
    if words.thanks.match(text):
        return Understanding(Intent.THANKS, rule="thanks")
    short = _strip_polite(text, words)
    said = short.split()
    if said and set(said) <= words.yes_words | words.no_words | words.answer_filler:
        if said[0] in words.no_words or words.no_phrase.search(short):
            return Understanding(Intent.NO, rule="denies")
        if set(said) & words.yes_words or short in words.yes_phrases:
            return Understanding(Intent.YES, rule="affirms")
    if _is_greeting(short, words):
        return Understanding(Intent.GREETING, rule="greets")
    return Understanding(Intent.UNKNOWN, rule="no_rule_matched")
