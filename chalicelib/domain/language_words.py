"""The words of one language that the tier-0 rules and the router read, compiled.

Nothing here knows a language: each pack is built by ``language_files.load_language_words``
from ``chalicelib/data/languages/<locale>/rules.json`` and ``router.json``, and handed to
``rules.classify`` and ``router.route`` by the caller. Numbers, weights and thresholds stay in
the code (they are not language); only words and the patterns made of them live in the files.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from chalicelib.domain.spoken_numbers import DigitWords


@dataclass(frozen=True)
class RulesWords:
    """The tier-0 rules' vocabulary (``domain/rules``)."""

    fold_accents: bool  # compare without accents ("si" and "sí" alike)
    fillers: re.Pattern[str]
    correction: re.Pattern[str]
    agent: re.Pattern[str]
    goodbye: re.Pattern[str]
    repeat: re.Pattern[str]
    yes_words: frozenset[str]
    no_words: frozenset[str]
    answer_filler: frozenset[str]
    yes_phrases: frozenset[str]  # whole answers that affirm with no yes word ("it's me")
    no_phrase: re.Pattern[str]
    greeting_cues: frozenset[str]
    greeting_words: frozenset[str]  # besides the cues, what a greeting may hold
    line_check: re.Pattern[str]
    assent_sounds: re.Pattern[str]
    assent_word: str  # what an assent sound ("uh huh") is read as: a yes word
    thanks: re.Pattern[str]
    polite_tail: re.Pattern[str]
    account_cues: frozenset[str]
    other_numbers: re.Pattern[str]
    language_requests: tuple[tuple[str, re.Pattern[str]], ...]  # (locale asked for, its cues)
    numbers: DigitWords


@dataclass(frozen=True)
class RouterWords:
    """The router's features (``domain/router``)."""

    high_stakes: re.Pattern[str]
    negative: re.Pattern[str]
    problem: re.Pattern[str]
    correction: re.Pattern[str]
    multi: re.Pattern[str]
    request_cues: re.Pattern[str]
    amount_or_date: re.Pattern[str]
    question_words: re.Pattern[str]
    denials: frozenset[str]  # a first word that contradicts a confirmation ("no", "nope")


@dataclass(frozen=True)
class LanguageWords:
    """One language's pack: the rules' words and the router's."""

    locale: str
    rules: RulesWords
    router: RouterWords


def fold_accents(text: str) -> str:
    """``text`` without its accents ("sí" is "si", "español" is "espanol"): speech recognition drops
    them often, so a language whose rules say ``fold_accents`` compares words without them."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
