"""Numbers as callers say them and as speech recognition writes them, with where they are.

The caller's text is cut once into tokens that keep their character spans, so a number found in
"uh it's four one one one, one one one one" can be replaced in place. A *digit run* is what a
caller reads out in one go: numerals ("4111", "4111-1111"), digit words ("four one one one"),
"oh" for zero, "double"/"triple" ("double five" is 55), tens and teens ("twenty twenty-seven" is
2027), with commas, dashes, slashes and hesitations ("uh", "um") between them, and
self-corrections ("four four three, no sorry, four four four four") that start a new reading.
Money ("$42.50"), clock times ("9:30") and ordinals ("3rd", "third") are not digit runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

NUM = "num"  # numerals: "4111"
WORD = "word"  # words, lower-cased: "four", "twenty-seven", "it's"
SEP = "sep"  # what may sit inside a written number or address: , . - / ( ) + @ _
STOP = "stop"  # sentence punctuation a number never runs across: ? ! ; : "
TAG = "tag"  # a token a redactor already put there: "[CARD_1]"
OTHER = "other"  # money, clock times, ordinal numerals: never part of a digit run

_TOKEN = re.compile(
    r"(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+)*)"
    r"|(?P<other>[$£€][0-9][0-9,]*(?:\.[0-9]+)?|[0-9]{1,2}:[0-9]{2}|[0-9]+(?:st|nd|rd|th)\b)"
    r"|(?P<num>[0-9]+)"
    r"|(?P<sep>[,./()+@_-])"
    r"|(?P<tag>\[[A-Za-z][A-Za-z_]*_[0-9]+\])"
    r"|(?P<stop>[?!;:\"])"
)

UNITS = {"zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9}  # fmt: skip
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}  # fmt: skip
REPEATERS = {"double": 2, "triple": 3}
FILLERS = frozenset({"uh", "um", "umm", "uhm", "uhh", "er", "erm", "ah", "hmm", "mm"})
# A number followed by one of these is an amount or a quantity, not an identifier.
UNIT_WORDS = frozenset({"dollars", "dollar", "bucks", "cents", "percent", "minutes", "minute", "hours", "hour",
                        "days", "day", "weeks", "week", "months", "month", "years", "year", "times", "o'clock",
                        "am", "pm", "items", "pounds", "euros"})  # fmt: skip
_GLUE_SEPS = frozenset(",.-/()+")
# What a caller says before reading a number again; the longest phrase is tried first.
_CORRECTIONS = (
    ("let", "me", "start", "again"), ("let", "me", "start", "over"), ("let", "me", "try", "again"),
    ("no", "sorry"), ("no", "wait"), ("no", "no"), ("i", "mean"), ("scratch", "that"), ("start", "again"),
    ("my", "bad"), ("hang", "on"), ("hold", "on"), ("i'm", "sorry"), ("or", "rather"), ("sorry",), ("wait",),
    ("no",), ("actually",), ("oops",), ("correction",),
)  # fmt: skip


def _by_start(corrections: tuple[tuple[str, ...], ...]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The correction phrases by their first word, the longest first."""
    ordered = sorted(corrections, key=lambda p: -len(p))
    return {w: tuple(p for p in ordered if p[0] == w) for w in {p[0] for p in ordered}}


NUMBER_WORDS = frozenset({*UNITS, *TEENS, *TENS, *REPEATERS})
_NOT_AFTER_TENS = frozenset({"zero", "oh", "o", *TEENS, *TENS, *REPEATERS, *FILLERS})


@dataclass(frozen=True)
class DigitWords:
    """How callers of one language read digits out (``data/languages/<locale>/rules.json``,
    ``numbers``), for ``piece_at`` and ``find_digit_runs``.

    ``units``: digit words and their digit ("four" 4, "oh" 0). ``zero_between``: words that are
    zero only between two digit words (Spanish "o" is also "or"). ``repeaters``: "double" 2.
    ``teens``: one-word numbers from 10 to 99 that are no tens ("twelve", "veintinueve");
    ``tens``: "forty"; ``joiners``: what may stand between tens and units ("cuarenta y cuatro").
    ``whole_numbers``: tier 0 reads teens and tens too (Spanish callers read numbers in pairs);
    otherwise tier 0 leaves them to a model. ``fillers``: hesitations a number is read across
    ("uh", "eh", "este"). ``corrections``: what a caller says before reading a number again
    ("no sorry", "perdón"), word by word.
    """

    units: Mapping[str, int]
    zero_between: frozenset[str]
    repeaters: Mapping[str, int]
    teens: Mapping[str, int]
    tens: Mapping[str, int]
    joiners: frozenset[str]
    whole_numbers: bool
    fillers: frozenset[str] = FILLERS
    corrections: tuple[tuple[str, ...], ...] = _CORRECTIONS
    _corrections_by_start: dict[str, tuple[tuple[str, ...], ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_corrections_by_start", _by_start(self.corrections))

    @property
    def words(self) -> frozenset[str]:
        """Every word that is (part of) a number."""
        return frozenset({*self.units, *self.zero_between, *self.repeaters, *self.teens, *self.tens})


def merge_digit_words(first: DigitWords, *others: DigitWords) -> DigitWords:
    """The digit words of several languages read at once; a word means what the first language
    that has it says (Spanish first: "o" is zero only between digits; English first: always).

    Example:
        >>> spanish = DigitWords({"uno": 1}, frozenset({"o"}), {}, {"once": 11}, {}, frozenset(), True)
        >>> both = merge_digit_words(spanish, ENGLISH_DIGITS)
        >>> both.units["uno"], both.units["one"], "o" in both.units, both.teens["once"]
        (1, 1, False, 11)
    """
    taken: set[str] = set()
    units: dict[str, int] = {}
    zero_between: set[str] = set()
    repeaters: dict[str, int] = {}
    teens: dict[str, int] = {}
    tens: dict[str, int] = {}
    for words in (first, *others):
        for into, source in ((units, words.units), (repeaters, words.repeaters), (teens, words.teens),
                             (tens, words.tens)):  # fmt: skip
            into.update((w, v) for w, v in source.items() if w not in taken)
        zero_between.update(w for w in words.zero_between if w not in taken)
        taken |= words.words
    return DigitWords(
        units, frozenset(zero_between), repeaters, teens, tens,
        frozenset().union(*(w.joiners for w in (first, *others))), first.whole_numbers,
        frozenset().union(*(w.fillers for w in (first, *others))),
        tuple(dict.fromkeys(p for w in (first, *others) for p in w.corrections)),
    )  # fmt: skip


# The English words of this module's own readers (the redactor's digit runs, dates, e-mails, by
# default). Tier 0 and the redactor read with the words of the call's language (``rules``,
# ``redaction_policy.Reading``); ``tests`` check the English data file says the same as these.
ENGLISH_DIGITS = DigitWords(UNITS, frozenset(), REPEATERS, TEENS, TENS, frozenset(), whole_numbers=False)


class Token(NamedTuple):
    kind: str
    text: str  # lower-cased
    start: int
    end: int


class Group(NamedTuple):
    """Digits read together: a numeral, or digit words between two pauses."""

    digits: str
    start: int
    end: int


class DigitRun(NamedTuple):
    """One reading out of digits. Each self-correction starts a new reading (segment)."""

    segments: tuple[tuple[Group, ...], ...]
    start: int
    end: int
    first: int  # index of the first token
    last: int  # index after the last token
    quantity: bool  # followed by a unit word ("twenty dollars", "forty five minutes")


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` with their spans; characters that are no token are skipped.

    Example:
        >>> [t.text for t in tokenize("It's 4111-1111, uh, OK?")]
        ["it's", '4111', '-', '1111', ',', 'uh', ',', 'ok', '?']
    """
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        kind, word, at = m.lastgroup or OTHER, m.group(), m.start()
        if kind != WORD or "-" not in word or not _split_hyphens(word.lower().split("-")):
            tokens.append(Token(kind, word.lower(), at, m.end()))
            continue
        for k, part in enumerate(word.split("-")):  # "four-one-one-one", "one-uh": words of a number
            if k:
                tokens.append(Token(SEP, "-", at, at + 1))
                at += 1
            tokens.append(Token(WORD, part.lower(), at, at + len(part)))
            at += len(part)
    return tokens


def _split_hyphens(parts: list[str]) -> bool:
    """Whether a hyphenated word is digits and pauses joined by dashes ("twenty-seven" is one number)."""
    if len(parts) == 2 and parts[0] in TENS and parts[1] not in _NOT_AFTER_TENS:
        return False
    return any(part in NUMBER_WORDS or part in FILLERS for part in parts)


def piece_at(tokens: list[Token], i: int, words: DigitWords = ENGLISH_DIGITS) -> tuple[str, int, bool] | None:
    """The digits that start at token ``i``: (digits, index after them, closes a group), or None.

    A numeral or a tens/teens word is a group of its own; digit words run on into one group.
    ``words``: the language's digit words (this module's readers use English).

    Example:
        >>> piece_at(tokenize("double five"), 0), piece_at(tokenize("twenty seven"), 0)
        (('55', 2, False), ('27', 2, True))
    """
    tok = tokens[i]
    if tok.kind == NUM:
        return tok.text, i + 1, True
    if tok.kind != WORD:
        return None
    word = tok.text
    units, tens = words.units, words.tens
    if word in units:
        return str(units[word]), i + 1, False
    if word in words.zero_between and between_digits(tokens, i, words):
        return "0", i + 1, False
    if word in words.teens:
        return str(words.teens[word]), i + 1, True
    if word in tens:
        j = i + 1
        if j + 1 < len(tokens) and tokens[j].kind == WORD and tokens[j].text in words.joiners:
            j += 1  # "cuarenta y cuatro"
        nxt = tokens[j] if j < len(tokens) else None
        if nxt is not None and nxt.kind == WORD and units.get(nxt.text, 0) > 0 and nxt.text != "o":
            return str(tens[word] + units[nxt.text]), j + 1, True
        return str(tens[word]), i + 1, True
    if "-" in word:
        ten, _, unit = word.partition("-")
        if ten in tens and units.get(unit, 0) > 0:  # "twenty-seven"
            return str(tens[ten] + units[unit]), i + 1, True
        return None
    if word in words.repeaters:
        j = _skip_fillers(tokens, i + 1, words.fillers)
        said = piece_at(tokens, j, words) if j < len(tokens) and tokens[j].text not in words.repeaters else None
        if said is not None and (tokens[j].kind == NUM or not said[2]):  # "double five", "double 5"
            return said[0][0] * words.repeaters[word] + said[0][1:], said[1], False
    return None


def between_digits(tokens: list[Token], i: int, words: DigitWords) -> bool:
    """Whether token ``i`` stands between two digits, past any other zero-only words ("dos o o uno")."""

    def digit(tok: Token) -> bool:
        return tok.kind == NUM or (tok.kind == WORD and tok.text in words.units)

    before, after = i - 1, i + 1
    while before >= 0 and tokens[before].kind == WORD and tokens[before].text in words.zero_between:
        before -= 1
    while after < len(tokens) and tokens[after].kind == WORD and tokens[after].text in words.zero_between:
        after += 1
    return before >= 0 and after < len(tokens) and digit(tokens[before]) and digit(tokens[after])


def _skip_fillers(tokens: list[Token], j: int, fillers: frozenset[str] = FILLERS) -> int:
    while j < len(tokens) and tokens[j].kind == WORD and tokens[j].text in fillers:
        j += 1
    return j


def _skip_glue(tokens: list[Token], j: int, fillers: frozenset[str] = FILLERS) -> tuple[int, bool]:
    """The index after any separators and fillers from ``j``, and whether there were any."""
    start = j
    while j < len(tokens):
        tok = tokens[j]
        if (tok.kind == SEP and tok.text in _GLUE_SEPS) or (tok.kind == WORD and tok.text in fillers):
            j += 1
        else:
            break
    return j, j > start


def _after_corrections(tokens: list[Token], j: int, words: DigitWords = ENGLISH_DIGITS) -> int | None:
    """The index after one or more correction phrases (and the pauses around them), or None."""
    matched = False
    by_start = words._corrections_by_start
    while j < len(tokens) and tokens[j].kind == WORD and tokens[j].text in by_start:
        for phrase in by_start[tokens[j].text]:
            end = j + len(phrase)
            if end <= len(tokens) and all(tokens[j + k].text == w for k, w in enumerate(phrase)):
                j, _ = _skip_glue(tokens, end, words.fillers)
                matched = True
                break
        else:
            break
    return j if matched else None


def find_digit_runs(tokens: list[Token], blocked: list[bool], words: DigitWords = ENGLISH_DIGITS) -> list[DigitRun]:
    """Every digit run in ``tokens``, skipping the tokens already claimed (``blocked``), read with
    ``words`` (the call's languages: ``redaction_policy.Reading``).

    Example:
        >>> toks = tokenize("it's four four three, no sorry, four four four four")
        >>> [[g.digits for g in seg] for seg in find_digit_runs(toks, [False] * len(toks))[0].segments]
        [['443'], ['4444']]
    """
    n = len(tokens)
    pieces = [None if blocked[i] else piece_at(tokens, i, words) for i in range(n)]
    runs: list[DigitRun] = []
    i = 0
    while i < n:
        if pieces[i] is None:
            i += 1
            continue
        segments, last = _read_run(tokens, pieces, i, words)
        nxt = tokens[last] if last < n else None
        quantity = nxt is not None and nxt.kind == WORD and nxt.text in UNIT_WORDS
        runs.append(DigitRun(segments, _lead_start(tokens, i, last), tokens[last - 1].end, i, last, quantity))
        i = last
    return runs


class _Reading:
    """The groups and segments of the run being read."""

    def __init__(self) -> None:
        self.segments: list[tuple[Group, ...]] = []
        self.groups: list[Group] = []
        self.digits = ""
        self.start = self.end = -1

    def add(self, digits: str, start: int, end: int, *, own_group: bool) -> None:
        if own_group:
            self.close()
        if not self.digits:
            self.start = start
        self.digits += digits
        self.end = end
        if own_group:
            self.close()

    def close(self) -> None:
        if self.digits:
            self.groups.append(Group(self.digits, self.start, self.end))
            self.digits = ""

    def next_segment(self) -> None:
        self.close()
        self.segments.append(tuple(self.groups))
        self.groups = []


def _read_run(
    tokens: list[Token], pieces: list[tuple[str, int, bool] | None], i: int, words: DigitWords
) -> tuple[tuple[tuple[Group, ...], ...], int]:
    """The segments of the run that starts at token ``i``, and the index after its last token."""
    n = len(tokens)
    reading = _Reading()
    j = last = i
    while True:
        piece = pieces[j] if j < n else None
        if piece is not None:
            digits, after, own_group = piece
            reading.add(digits, tokens[j].start, tokens[after - 1].end, own_group=own_group)
            j = last = after
            continue
        k, paused = _skip_glue(tokens, j, words.fillers)
        corrected = _after_corrections(tokens, k, words)
        if corrected is not None and corrected < n and pieces[corrected] is not None:
            reading.next_segment()
            j = corrected
        elif paused and k < n and pieces[k] is not None:
            reading.close()
            j = k
        else:
            break
    reading.next_segment()
    return tuple(reading.segments), last


def _lead_start(tokens: list[Token], first: int, last: int) -> int:
    """Where the run starts, taking in a "+" or "(" written against it ("+1 212", "(212) 555")."""
    start = tokens[first].start
    if first > 0 and tokens[first - 1].kind == SEP and tokens[first - 1].end == start:
        lead = tokens[first - 1].text
        if lead == "+" or (lead == "(" and any(t.text == ")" for t in tokens[first:last])):
            return tokens[first - 1].start
    return start


def number_words_value(tokens: list[Token], i: int, *, max_value: int = 99) -> tuple[int, int] | None:
    """A number from 0 to 99 said in words or written at token ``i``: (value, index after).

    Example:
        >>> number_words_value(tokenize("twenty seven"), 0)
        (27, 2)
    """
    if i >= len(tokens):
        return None
    tok = tokens[i]
    value: int | None = None
    after = i + 1
    if tok.kind == NUM and len(tok.text) <= 2:
        value = int(tok.text)
    elif tok.kind == WORD and tok.text not in ("oh", "o"):
        piece = piece_at(tokens, i)
        if piece is not None and tok.text not in REPEATERS:
            value, after = int(piece[0]), piece[1]
    if value is None or value > max_value:
        return None
    return value, after
