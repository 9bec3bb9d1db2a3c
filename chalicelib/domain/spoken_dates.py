"""Dates with a month name, as callers say them: "March third nineteen eighty", "the 3rd of
March 1980", "April twenty twenty-seven", "April of twenty seven".

Dates written or read as digits ("03/03/1980", "oh four twenty seven") are digit runs
(``spoken_numbers``); this module finds the ones that name the month. Whether a date is a date of
birth or a card's expiry is the redactor's call (it needs the words around it); here a date is a
month with, when said, a day and a year.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.domain.spoken_numbers import NUM, OTHER, TEENS, TENS, UNITS, WORD, Token, number_words_value

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
