"""Dates with a month name, as callers say them: "March third nineteen eighty", "the 3rd of
March 1980", "April twenty twenty-seven", "April of twenty seven".

Dates written or read as digits ("03/03/1980", "oh four twenty seven") are digit runs
(``spoken_numbers``); this module finds the ones that name the month. Whether a date is a date of
birth or a card's expiry is the redactor's call (it needs the words around it); here a date is a
month with, when said, a day and a year. Languages that link day, month and year ("doce de marzo
de mil novecientos ochenta") are read by ``find_linked_dates`` with their ``DateWords`` (data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from chalicelib.domain.spoken_numbers import (
    NUM,
    OTHER,
    TEENS,
    TENS,
    UNITS,
    WORD,
    DigitWords,
    Token,
    number_words_value,
    piece_at,
)

MONTHS = {"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "april": 4, "apr": 4, "may": 5, "june": 6,
          "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "october": 10, "oct": 10,
          "november": 11, "nov": 11, "december": 12, "dec": 12}  # fmt: skip
_ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                  "eighth": 8, "ninth": 9}  # fmt: skip
_ORDINALS = {**_ORDINAL_UNITS, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
             "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
             "twentieth": 20, "thirtieth": 30}  # fmt: skip
ORDINAL_WORDS = frozenset(_ORDINALS)
_CENTURIES = {"nineteen": "19", "twenty": "20"}
_MAX_DAY = 31
_MAX_MONTH = 12
_CENTURY = 100
_YEARS = (1900, 2099)  # the years a caller gives in words ("mil novecientos ochenta", "dos mil veintisiete")


class DateMention(NamedTuple):
    month: int
    day: int | None
    year: str | None  # as said: "1980", or two digits "27"
    start: int
    end: int
    first: int  # index of the first token
    last: int  # index after the last token


def find_dates(tokens: list[Token], blocked: list[bool], *, day_first: bool) -> list[DateMention]:
    """Every date that names its month. ``day_first``: a number right after the month is its day
    ("March twenty seven" is the 27th, for a birth date), else its year (April 27, for an expiry).

    Example:
        >>> from chalicelib.domain.spoken_numbers import tokenize
        >>> toks = tokenize("born on march third nineteen eighty")
        >>> find_dates(toks, [False] * len(toks), day_first=True)[0][:3]
        (3, 3, '1980')
    """
    found: list[DateMention] = []
    for i, tok in enumerate(tokens):
        if tok.kind != WORD or tok.text not in MONTHS or blocked[i] or (found and i < found[-1].last):
            continue
        month = MONTHS[tok.text]
        first, day, _ = _day_before(tokens, i)
        year: str | None = None
        last = i + 1
        k = _skip(tokens, last, ("the",))
        if day is None and day_first and (said := parse_day(tokens, k)) is not None:
            day, last = said
            k = last
        k = _skip(tokens, k, (",", "of", "in"))
        if (said_year := parse_year(tokens, k, two_digits=not day_first or day is not None)) is not None:
            year, last = said_year
        if day is None and year is None:
            continue
        if tok.text == "may" and (day is None or year is None):
            continue  # "may" alone is more often the verb: only a full date is taken
        if any(blocked[first:last]):
            continue
        found.append(DateMention(month, day, year, tokens[first].start, tokens[last - 1].end, first, last))
    return found


def _skip(tokens: list[Token], j: int, words: tuple[str, ...]) -> int:
    while j < len(tokens) and tokens[j].text in words:
        j += 1
    return j


def _day_before(tokens: list[Token], month_at: int) -> tuple[int, int | None, int]:
    """ "the third of March", "3rd March": (index of the day's first token, day, month index)."""
    end = month_at - 1 if month_at > 0 and tokens[month_at - 1].text == "of" else month_at
    for start in (end - 2, end - 1):
        if start >= 0 and (said := parse_day(tokens, start)) is not None and said[1] == end:
            first = start - 1 if start > 0 and tokens[start - 1].text == "the" else start
            return first, said[0], month_at
    return month_at, None, month_at


def parse_day(tokens: list[Token], i: int) -> tuple[int, int] | None:
    """A day of the month at token ``i``: "third", "twenty-third", "3rd", "3", "three".

    Example:
        >>> from chalicelib.domain.spoken_numbers import tokenize
        >>> parse_day(tokenize("twenty third of"), 0)
        (23, 2)
    """
    if i >= len(tokens):
        return None
    tok = tokens[i]
    day: int | None = None
    after = i + 1
    if tok.kind == OTHER and tok.text[:-2].isdigit():
        day = int(tok.text[:-2])
    elif tok.kind == WORD and tok.text in _ORDINALS:
        day = _ORDINALS[tok.text]
    elif tok.kind == WORD and tok.text in TENS:
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if nxt in _ORDINAL_UNITS:
            day, after = TENS[tok.text] + _ORDINAL_UNITS[nxt], i + 2
    elif tok.kind == WORD and "-" in tok.text:
        tens, _, unit = tok.text.partition("-")
        if tens in TENS and unit in _ORDINAL_UNITS:
            day = TENS[tens] + _ORDINAL_UNITS[unit]
    if day is None and (said := number_words_value(tokens, i, max_value=_MAX_DAY)) is not None:
        day, after = said
    if day is None or not 1 <= day <= _MAX_DAY:
        return None
    return day, after


def parse_year(tokens: list[Token], i: int, *, two_digits: bool) -> tuple[str, int] | None:
    """A year at token ``i``: "1980", "nineteen eighty", "twenty oh five", "two thousand and
    five", and with ``two_digits`` also "eighty", "27".

    Example:
        >>> from chalicelib.domain.spoken_numbers import tokenize
        >>> parse_year(tokenize("twenty twenty-seven"), 0, two_digits=False)
        ('2027', 2)
    """
    if i >= len(tokens):
        return None
    tok = tokens[i]
    if tok.kind == NUM and len(tok.text) == 4 and tok.text[:2] in ("19", "20"):
        return tok.text, i + 1
    if tok.kind == NUM and len(tok.text) == 2:
        return (tok.text, i + 1) if two_digits else None
    if tok.kind != WORD:
        return None
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if tok.text == "two" and nxt is not None and nxt.text == "thousand":
        j = _skip(tokens, i + 2, ("and",))
        rest = number_words_value(tokens, j)
        return (f"20{rest[0]:02d}", rest[1]) if rest is not None else ("2000", i + 2)
    if tok.text in _CENTURIES and nxt is not None and nxt.kind == WORD:
        century = _CENTURIES[tok.text]
        if nxt.text in ("oh", "o") and i + 2 < len(tokens) and UNITS.get(tokens[i + 2].text, 0) > 0:
            return f"{century}0{UNITS[tokens[i + 2].text]}", i + 3
        if nxt.text == "hundred":
            return f"{century}00", i + 2
        if nxt.text in TEENS or nxt.text in TENS or nxt.text.partition("-")[0] in TENS:
            rest = number_words_value(tokens, i + 1)
            if rest is not None:
                return f"{century}{rest[0]:02d}", rest[1]
    if two_digits and (said := number_words_value(tokens, i)) is not None and said[0] >= 10:
        return f"{said[0]:02d}", said[1]
    return None


@dataclass(frozen=True)
class DateWords:
    """How a language that says "the twelfth of March of 1980" names its dates ("doce de marzo
    de mil novecientos ochenta", "el primero de mayo del ochenta"): the data of
    ``languages/<locale>/redaction.json`` ``dates``; the numbers are the language's digit words.

    ``linkers``: what stands between day, month and year ("de", "del"); ``articles``: before the
    day ("el"); ``thousands``: "mil" (1000; "dos mil" is 2000); ``hundreds``: "novecientos" 900.
    """

    months: Mapping[str, int]
    ordinals: Mapping[str, int] = field(default_factory=dict)
    linkers: frozenset[str] = frozenset()
    articles: frozenset[str] = frozenset()
    thousands: frozenset[str] = frozenset()
    hundreds: Mapping[str, int] = field(default_factory=dict)

    def merged(self, *others: DateWords) -> DateWords:
        """These words and ``others``' (a word keeps what the first that has it says)."""
        every = (self, *others)
        return DateWords(
            _first_says(w.months for w in every),
            _first_says(w.ordinals for w in every),
            frozenset().union(*(w.linkers for w in every)),
            frozenset().union(*(w.articles for w in every)),
            frozenset().union(*(w.thousands for w in every)),
            _first_says(w.hundreds for w in every),
        )


def _first_says(maps: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in maps:
        out.update((w, v) for w, v in m.items() if w not in out)
    return out


def find_linked_dates(
    tokens: list[Token], blocked: list[bool], words: DateWords, digits: DigitWords
) -> list[DateMention]:
    """Every date said day, month, year with linkers between ("doce de marzo de mil novecientos
    ochenta", "el 12 de marzo de 1980", "marzo de 2027", "abril del veintisiete").

    Example:
        >>> from chalicelib.domain.spoken_numbers import tokenize
        >>> es = DigitWords({"dos": 2}, frozenset(), {}, {"doce": 12}, {"ochenta": 80}, frozenset(), True)
        >>> march = DateWords({"marzo": 3}, linkers=frozenset({"de"}), thousands=frozenset({"mil"}),
        ...                   hundreds={"novecientos": 900})
        >>> toks = tokenize("doce de marzo de mil novecientos ochenta")
        >>> find_linked_dates(toks, [False] * len(toks), march, es)[0][:3]
        (3, 12, '1980')
    """
    found: list[DateMention] = []
    for i, tok in enumerate(tokens):
        if tok.kind != WORD or tok.text not in words.months or blocked[i] or (found and i < found[-1].last):
            continue
        first, day = i, None
        if i >= 2 and tokens[i - 1].text in words.linkers:
            for start in range(max(0, i - 4), i - 1):
                said = _linked_day(tokens, start, words, digits)
                if said is not None and said[1] == i - 1 and not (found and start < found[-1].last):
                    first, day = start, said[0]
                    break
        if first > 0 and first < i and tokens[first - 1].text in words.articles:
            first -= 1
        last = i + 1
        k = _skip(tokens, last, (",",))
        linked = k < len(tokens) and tokens[k].text in words.linkers
        k = _skip(tokens, k, tuple(words.linkers))
        year = _linked_year(tokens, k, words, digits, two_digits=linked)
        if year is not None:
            last = year[1]
        if day is None and year is None:
            continue
        if any(blocked[first:last]):
            continue
        found.append(DateMention(words.months[tok.text], day, year[0] if year else None, tokens[first].start,
                                 tokens[last - 1].end, first, last))  # fmt: skip
    found.extend(_month_number_then_year(tokens, blocked, words, digits, found))
    found.sort(key=lambda m: m.first)
    return found


def _month_number_then_year(
    tokens: list[Token], blocked: list[bool], words: DateWords, digits: DigitWords, taken: list[DateMention]
) -> list[DateMention]:
    """A card's expiry read as a month number then a year in words: "doce dos mil veintiocho"
    (12/28), "cuatro de dos mil veintisiete"; the year must name its thousands."""
    found: list[DateMention] = []
    claimed = [False] * len(tokens)
    for m in taken:
        claimed[m.first : m.last] = [True] * (m.last - m.first)
    for t, tok in enumerate(tokens):
        if tok.text not in words.thousands or claimed[t]:
            continue
        start = t - 1 if t > 0 and tokens[t - 1].text in digits.units else t
        year = _linked_year(tokens, start, words, digits, two_digits=False)
        end = start - 1 if start > 0 and tokens[start - 1].text in words.linkers else start
        month = None
        for first in range(max(0, end - 3), end):
            said = piece_at(tokens, first, digits) if not claimed[first] else None
            if said is not None and said[1] == end and 1 <= int(said[0]) <= _MAX_MONTH:
                month = first, int(said[0])
                break
        if year is None or month is None or any(blocked[month[0] : year[1]]) or any(claimed[month[0] : year[1]]):
            continue
        found.append(DateMention(month[1], None, year[0], tokens[month[0]].start, tokens[year[1] - 1].end,
                                 month[0], year[1]))  # fmt: skip
        claimed[month[0] : year[1]] = [True] * (year[1] - month[0])
    return found


def _linked_day(tokens: list[Token], i: int, words: DateWords, digits: DigitWords) -> tuple[int, int] | None:
    tok = tokens[i]
    if tok.kind == NUM and len(tok.text) <= 2:
        day, after = int(tok.text), i + 1
    elif tok.kind == WORD and tok.text in words.ordinals:
        day, after = words.ordinals[tok.text], i + 1
    elif (piece := piece_at(tokens, i, digits)) is not None and tok.text not in digits.repeaters:
        day, after = int(piece[0]), piece[1]
    else:
        return None
    return (day, after) if 1 <= day <= _MAX_DAY else None


def _linked_year(
    tokens: list[Token], i: int, words: DateWords, digits: DigitWords, *, two_digits: bool
) -> tuple[str, int] | None:
    """ "1980", "mil novecientos ochenta", "dos mil veintisiete", and after a linker "ochenta", "27"."""
    n = len(tokens)
    if i >= n:
        return None
    tok = tokens[i]
    if tok.kind == NUM and len(tok.text) == 4 and tok.text[:2] in ("19", "20"):
        return tok.text, i + 1
    if tok.kind == NUM and len(tok.text) == 2:
        return (tok.text, i + 1) if two_digits else None
    j, times = i, 1
    if tok.text in digits.units and i + 1 < n and tokens[i + 1].text in words.thousands:
        times, j = digits.units[tok.text], i + 1
    if j < n and tokens[j].text in words.thousands:
        value, j = 1000 * times, j + 1
        if j < n and tokens[j].text in words.hundreds:
            value, j = value + words.hundreds[tokens[j].text], j + 1
        rest = piece_at(tokens, j, digits) if j < n else None
        if rest is not None and tokens[j].kind == WORD and int(rest[0]) < _CENTURY:
            value, j = value + int(rest[0]), rest[1]
        return (str(value), j) if _YEARS[0] <= value <= _YEARS[1] else None
    piece = piece_at(tokens, i, digits) if two_digits and tok.kind == WORD else None
    return (piece[0], piece[1]) if piece is not None and len(piece[0]) == len("80") else None  # "del ochenta"
