"""Finding raw caller data in text: the scanner behind ``sim leaks`` and ``sim load``'s
``pii_leaks``.

It looks for each value a recorded call lists as ``sensitive`` in the forms a leak would take,
independently of the redactor it checks (it shares no code with ``chalicelib``):

- digits, with or without separators between them (space, dash, comma, dot, slash,
  parentheses): ``4111111111111111``, ``4111 1111 1111 1111``, ``4111-1111-…``, ``(555) 555-0188``;
- digit words as a caller says them, any case, with punctuation between them: "four one one
  one", "oh" and "zero", "double five", "triple one", "twenty eight", "nineteen eighty", "four
  hundred eleven"; a reading corrected part-way ("four four three, no sorry, four four four
  four") counts as the number meant (the last group replaced, or the reading restarted);
- dates: an expiry as "09/28", "0928", "9/28", "oh nine twenty eight", "september twenty eight",
  "sept 2028"; a date of
  birth as "1980-03-03", "03/03/1980", "march third nineteen eighty", "the 3rd of march, 1980";
- e-mail addresses written ("jane.doe@example.com", any case) or spoken ("jane dot doe at
  example dot com"), spelled letter by letter too.

A number is only a match where it stands on its own: not inside a longer run of digits (a card
inside a 20-digit run, a code inside a timestamp), not glued to letters (``737f`` in an id,
``acc-550911``), and a short value (a security code, an expiry) only when it is the whole of a
number, never a decimal (``13.0``), a JSON number (``"tokens": 737``) or the whole string of a
field that is not text (``"sequence": "737"``). Tokens such as ``[CARD_1]`` are never matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

SHORT_DIGITS = 7  # below this, a value must be a whole number on its own

_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}  # fmt: skip
_TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
          "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}  # fmt: skip
_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8",
         "ninety": "9"}  # fmt: skip
_REPEATS = {"double": 2, "triple": 3}
_NUMBER_WORDS = (*_DIGIT_WORDS, *_TEENS, *_TENS, *_REPEATS, "hundred")
# A numeral not glued to letters or to an underscore ("737f", "card_1"), or a number word.
_UNIT = re.compile(r"(?<![a-z0-9_])\d+(?![a-z0-9_])|\b(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
                   + r")\b")  # fmt: skip
_JOIN = re.compile(r"[\s,.\-/()+]{1,3}")  # what may stand between two parts of one number
_PAUSE = re.compile(r"[,.\-/()]")  # a group boundary between spoken digits
_CORRECTION = re.compile(
    r"[\s,.\-]*(?:(?:no|sorry|i mean|wait|actually|scratch that|oops|um|uh|er|hang on|let me start again|"
    r"start again)[\s,.\-]+){1,4}"
)
# JSON fields whose string is caller text or may quote it (a whole "737" there is a match).
_TEXT_KEYS = frozenset({"caller", "text", "content", "utterance", "message", "summary", "prompt", "reply",
                        "speech", "transcript", "inputtranscript", "s", "detail", "value", "arguments", "input",
                        "output"})  # fmt: skip
_LETTER_CHUNK_END = re.compile(r"[a-z0-9]*[a-z][a-z0-9]*$")
_LETTER_CHUNK_START = re.compile(r"[a-z0-9]*[a-z]")

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")  # fmt: skip
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
             "eighteenth", "nineteenth")  # fmt: skip
_ONES = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Watched:
    """One raw value to look for: its kind (``card``, ``expiry``, ``email``...), its normalised
    value (digits, "MM/YY", "+1…", "YYYY-MM-DD", an e-mail) and the call that holds it."""

    kind: str
    value: str
    call: str = ""


@dataclass(frozen=True)
class Hit:
    """A raw value found in a text: which one, where, and in what form."""

    watched: Watched
    start: int
    end: int
    form: str  # "digits" (numerals and/or digit words), "date" or "email"


@dataclass(frozen=True)
class _Piece:
    digits: str
    start: int
    end: int
    group: int  # pieces read without a pause between them share a group
    numeral: bool
    decimal: bool = False  # joined to the numeral before by a bare "." or "," ("13.0", "1,250")


class _Digits:
    """The digit strings one value may take, and whether it must be a whole number."""

    def __init__(self, watched: Watched, strings: Iterable[str]) -> None:
        self.watched = watched
        self.strings = tuple(dict.fromkeys(s for s in strings if s))


class LeakScanner:
    """Find the ``watched`` values in texts.

    Example:
        >>> scanner = LeakScanner([Watched("card", "4111111111111111")])
        >>> [h.form for h in scanner.find("my card is four one one one, 4111 1111 1111, one one one one")]
        ['digits']
        >>> scanner.find("my card is [CARD_1]")
        []
    """

    def __init__(self, watched: Iterable[Watched]) -> None:
        self.watched = tuple(dict.fromkeys(watched))
        self._digits = [_Digits(w, _digit_forms(w)) for w in self.watched if w.kind != "email"]
        self._patterns = [(w, p, cue) for w in self.watched for p, cue in _text_patterns(w)]

    def find(self, text: str) -> list[Hit]:
        """Every watched value in ``text``: one hit per place (overlapping forms merged)."""
        lowered = text.lower()
        hits: list[Hit] = []
        if self._digits:
            for candidate in _candidates(_runs(lowered)):
                hits.extend(self._digit_hits(lowered, candidate))
        for watched, pattern, cue in self._patterns:
            if cue in lowered:
                hits.extend(Hit(watched, m.start(), m.end(), "date" if watched.kind != "email" else "email")
                            for m in pattern.finditer(lowered))  # fmt: skip
        return _merged(hits)

    def count(self, text: str) -> int:
        return len(self.find(text))

    def _digit_hits(self, text: str, run: list[_Piece]) -> Iterator[Hit]:
        joined = "".join(p.digits for p in run)
        edges: dict[int, int] = {}  # offset in joined -> piece index starting there
        at = 0
        for i, piece in enumerate(run):
            edges[at] = i
            at += len(piece.digits)
        ends = {0, *(o + len(run[i].digits) for o, i in edges.items())}
        for forms in self._digits:
            for digits in forms.strings:
                if len(digits) < SHORT_DIGITS:
                    if joined == digits and not _json_number(text, run) and not any(p.decimal for p in run):
                        yield Hit(forms.watched, run[0].start, run[-1].end, "digits")
                    continue
                found = joined.find(digits)
                while found >= 0:
                    end = found + len(digits)
                    if found in edges and end in ends:
                        last = max(i for o, i in edges.items() if o < end)
                        yield Hit(forms.watched, run[edges[found]].start, run[last].end, "digits")
                    found = joined.find(digits, found + 1)


def _json_number(text: str, run: list[_Piece]) -> bool:
    """A lone numeral that is a JSON number (``"tokens": 737,``) or the whole string of a field
    that is not text (``"sequence": "737"``, DynamoDB's ``{"N": "737"}``): a count or an id, not
    caller data. The whole string of a text field (``"text": "737"``) is still a match."""
    if len(run) != 1 or not run[0].numeral:
        return False
    before = text[max(0, run[0].start - 40) : run[0].start]
    after = text[run[0].end : run[0].end + 8]
    if re.search(r"[:\[]\s*$", before) and re.match(r"\s*(?:[,}\]]|$)", after):
        return True
    quoted = re.search(r'(?:"(\w+)\\*"\s*:|[\[,])\s*\\*"$', before)
    if quoted is None or not re.match(r'\\*"\s*(?:[,}\]]|$)', after):
        return False
    return (quoted.group(1) or "").lower() not in _TEXT_KEYS


# --- digit runs ------------------------------------------------------------------------------------------------


@dataclass
class _Run:
    pieces: list[_Piece]
    corrects_previous: bool = False  # a correction ("no sorry") stood between it and the run before


def _runs(text: str) -> list[_Run]:
    """The numbers in ``text``: runs of numerals and digit words with at most a few separator
    characters between them."""
    runs: list[_Run] = []
    units = [(m.group(), m.start(), m.end()) for m in _UNIT.finditer(text)]
    pieces: list[_Piece] = []
    group = 0
    i = 0
    previous_end = -1
    corrects = False
    while i < len(units):
        word, start, end = units[i]
        if word.isdigit() and _glued(text, start, end):
            i += 1
            continue
        gap = text[previous_end:start] if previous_end >= 0 else ""
        if pieces and not _JOIN.fullmatch(gap):
            runs.append(_Run(pieces, corrects))
            corrects = bool(_CORRECTION.fullmatch(gap))
            pieces, group = [], group + 1
        elif pieces and (word.isdigit() or pieces[-1].numeral or _PAUSE.search(gap)):
            group += 1
        decimal = bool(pieces) and pieces[-1].numeral and word.isdigit() and gap in (".", ",")
        digits, end, i = _read(text, units, i)
        if digits:
            pieces.append(_Piece(digits, start, end, group, word.isdigit(), decimal))
            previous_end = end
    if pieces:
        runs.append(_Run(pieces, corrects))
    return runs


def _read(text: str, units: list[tuple[str, int, int]], i: int) -> tuple[str, int, int]:
    """The digits of the unit at ``i`` (with the words it takes along: "double five", "twenty
    eight", "four hundred eleven"); its end and the next unit's index."""
    word, _, end = units[i]

    def next_word(kinds: dict[str, str]) -> str | None:
        if i + 1 < len(units) and units[i + 1][0] in kinds and re.fullmatch(r"[\s-]{1,2}", text[end : units[i + 1][1]]):
            return units[i + 1][0]
        return None

    if word.isdigit():
        return word, end, i + 1
    if word in _DIGIT_WORDS:
        return _DIGIT_WORDS[word], end, i + 1
    if word in _TEENS:
        return _TEENS[word], end, i + 1
    if word in _TENS:
        unit = next_word({k: v for k, v in _DIGIT_WORDS.items() if v != "0"})
        if unit is not None:
            return _TENS[word] + _DIGIT_WORDS[unit], units[i + 1][2], i + 2
        return _TENS[word] + "0", end, i + 1
    if word in _REPEATS:
        digit = next_word(_DIGIT_WORDS)
        if digit is not None:
            return _DIGIT_WORDS[digit] * _REPEATS[word], units[i + 1][2], i + 2
        return "", end, i + 1
    # "hundred": "four hundred" is 400, "four hundred eleven" 411, "four hundred five" 405.
    if next_word({**_TEENS, **_TENS}) is not None:
        return "", end, i + 1
    if next_word({k: v for k, v in _DIGIT_WORDS.items() if v != "0"}) is not None:
        return "0", end, i + 1
    return "00", end, i + 1


def _glued(text: str, start: int, end: int) -> bool:
    """A numeral that is part of an identifier: joined by a dash or underscore to letters."""
    if start >= 2 and text[start - 1] in "-_" and _LETTER_CHUNK_END.search(text, max(0, start - 41), start - 1):
        return True
    return end + 1 < len(text) and text[end] in "-_" and bool(_LETTER_CHUNK_START.match(text, end + 1))


def _candidates(runs: list[_Run]) -> Iterator[list[_Piece]]:
    """Each run, and each reading a correction makes of a run and the one after it: the last
    group replaced, or both kept (the restart is the later run itself)."""
    readings: list[list[_Piece]] = []
    for run in runs:
        if run.corrects_previous and readings:
            base = readings[:4]
            readings = [run.pieces]
            for before in base:
                last = before[-1].group
                readings += [[p for p in before if p.group != last] + run.pieces, before + run.pieces]
        else:
            readings = [run.pieces]
        yield from (r for r in readings if r)


def _merged(hits: list[Hit]) -> list[Hit]:
    """One hit per value and place: overlapping hits of one value count once."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.watched.kind, h.watched.value, h.start, -h.end)):
        last = kept[-1] if kept else None
        if last is not None and last.watched == hit.watched and hit.start < last.end:
            continue
        kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


# --- the forms of each value -----------------------------------------------------------------------------------


def _digit_forms(watched: Watched) -> list[str]:
    value = watched.value
    if watched.kind == "expiry":
        month, _, year = value.partition("/")
        return [month + year, f"{month}20{year}"]
    if watched.kind == "dob":
        year, month, day = value.split("-")
        m, d = month.lstrip("0"), day.lstrip("0")
        return [year + month + day, month + day + year, day + month + year, m + d + year, d + m + year]
    digits = re.sub(r"\D", "", value)
    if watched.kind == "phone" and len(digits) == 11 and digits.startswith("1"):
        return [digits, digits[1:]]
    return [digits]


def _text_patterns(watched: Watched) -> list[tuple[re.Pattern[str], str]]:
    """Patterns for the forms that are not digits alone, each with a word that must be present."""
    if watched.kind == "email":
        return [(_email_pattern(watched.value.lower()), watched.value.lower().rsplit("@", 1)[-1].split(".")[0][:3])]
    if watched.kind == "expiry":
        month, _, year = watched.value.partition("/")
        name = MONTHS[int(month) - 1]
        years = _alternatives([year, f"20{year}", f"'{year}", *_year_words(2000 + int(year)), *_two_digit_words(year)])
        written = rf"(?<![\d/.]){int(month)}/(?:20)?{year}(?![\d/])"  # 9/28, 9/2028 (09/28 is digits)
        spoken = rf"\b{_month(name)}\W{{1,3}}(?:of\W{{1,3}})?{years}\b"
        return [(re.compile(spoken), name[:3]), (re.compile(written), "/")]
    if watched.kind == "dob":
        year, month, day = watched.value.split("-")
        name = MONTHS[int(month) - 1]
        days = _alternatives(_day_forms(int(day)))
        years = _alternatives([year, *_year_words(int(year))])
        sep = r"\W{1,3}"
        return [
            (re.compile(rf"\b{_month(name)}{sep}(?:the{sep})?{days}{sep}(?:of{sep})?{years}\b"), name[:3]),
            (re.compile(rf"\b{days}{sep}(?:of{sep})?{_month(name)}{sep}(?:of{sep})?{years}\b"), name[:3]),
        ]
    return []


def _month(name: str) -> str:
    short = [name[:3], "sept"] if name == "september" else [name[:3]]
    return "(?:" + "|".join([name, *(rf"{s}\.?" for s in short)]) + ")"


def _alternatives(forms: Iterable[str]) -> str:
    spelled = sorted({re.escape(f).replace(r"\ ", r"[\s-]+") for f in forms if f}, key=len, reverse=True)
    return "(?:" + "|".join(spelled) + ")"


def _two_digit_words(number: str) -> list[str]:
    """ "28" as "twenty eight", "05" as "oh five", "10" as "ten"."""
    n = int(number)
    if n < 10:
        return [f"oh {_ONES[n]}", f"zero {_ONES[n]}"] if n else ["hundred"]
    if n < 20:
        return [list(_TEENS)[n - 10]]
    tens = list(_TENS)[n // 10 - 2]
    return [f"{tens} {_ONES[n % 10]}" if n % 10 else tens]


def _year_words(year: int) -> list[str]:
    century, rest = divmod(year, 100)
    words = [f"{list(_TEENS)[century - 10] if century >= 10 else _ONES[century]} {w}"
             for w in _two_digit_words(f"{rest:02d}")] if 10 <= century < 20 else []  # fmt: skip
    if century == 20:
        words += [f"twenty {w}" for w in _two_digit_words(f"{rest:02d}") if rest]
        tail = " ".join(_number_words(rest)) if rest else ""
        words += [f"two thousand {tail}".strip(), f"two thousand and {tail}".strip()]
    return words


def _number_words(n: int) -> list[str]:
    if n < 10:
        return [_ONES[n]]
    if n < 20:
        return [list(_TEENS)[n - 10]]
    tens = list(_TENS)[n // 10 - 2]
    return [tens, _ONES[n % 10]] if n % 10 else [tens]


def _day_forms(day: int) -> list[str]:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    words = " ".join(_number_words(day))
    if day < 20:
        ordinal = _ORDINALS[day - 1]
    elif day % 10 == 0:
        ordinal = {20: "twentieth", 30: "thirtieth"}[day]
    else:
        ordinal = f"{list(_TENS)[day // 10 - 2]} {_ORDINALS[day % 10 - 1]}"
    return [str(day), f"{day:02d}", f"{day}{suffix}", words, ordinal]


def _email_pattern(address: str) -> re.Pattern[str]:
    """``jane.doe@example.com`` written, spoken ("jane dot doe at example dot com") or spelled
    ("j a n e dot doe …"), any case, with punctuation around the spoken symbols."""
    parts = re.split(r"([.@_\-+])", address)
    symbols = {".": r"(?:\.|\bdot\b|\bperiod\b|\bpoint\b)", "@": r"(?:@|%40|\bat\b)", "_": r"(?:_|\bunderscore\b)",
               "-": r"(?:-|\bdash\b|\bhyphen\b)", "+": r"(?:\+|\bplus\b)"}  # fmt: skip
    pattern = []
    for part in parts:
        if part in symbols:
            pattern.append(rf"[\s,]*{symbols[part]}[\s,]*")
        else:
            pattern.append(r"[\s,\-]?".join(_spoken_char(c) for c in part))
    return re.compile(r"(?<![a-z0-9])" + "".join(pattern) + r"(?![a-z0-9])")


def _spoken_char(char: str) -> str:
    if char.isdigit():
        return rf"(?:{char}|{next(k for k, v in _DIGIT_WORDS.items() if v == char and k != 'o')}\b)"
    return re.escape(char)
