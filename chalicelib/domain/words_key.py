"""The key of the caller's words: what a speculative turn is stored under and what the turn
looks it up by (``domain/speculation.py``), so that Transcribe's partial and Lex's final of the
same request find each other.

Two recognisers write the same words differently, and a caller who pauses often adds a word of
courtesy before Lex hands the turn over. The key keeps what the caller asked and drops the rest:

- case and punctuation ("What time do you close?" and "what time do you close");
- hesitations ("um", "uh" — the language's ``fillers``);
- how numbers are written: digits read out ("4 4 8", "four four eight", "448", "four four
  eight" with "oh" for zero inside it) are their digits, found by ``spoken_numbers``; an amount
  with a scale word ("a hundred and fifty") is its value; a currency amount ("$40.50") is its
  value in the currency's words ("40 dollars 50 cents"), as "forty dollars and fifty cents" is;
  an ordinal word ("first") is its numeral ("1st"); a clock time's colon goes ("9:30" is "930",
  as "nine thirty" is);
- one spelling per word (the language's ``synonyms``: "ok" is "okay");
- a courtesy or discourse word at the end ("please", "thank you", "okay" — ``trailing``), as
  long as a word is left.

Only the key is normalized: the transcript kept on a speculation and on a turn stays the words
as they were heard (redacted). Caller-data tokens ("[CARD_1]") are kept as they are: two tokens
are two values. Every word of every language comes from ``MatchVocabulary`` (data:
``chalicelib/data/match_vocabulary.json``); this module holds none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.spoken_numbers import NUM, OTHER, TAG, WORD, Token, find_digit_runs, tokenize

# A hyphen between two letters joins two words ("e-mail", "twenty-first"): two words of the key.
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_CURRENCY = re.compile(r"^(\D)([0-9][0-9,]*)(?:\.([0-9]+))?$")
_CLOCK = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_ORDINAL = re.compile(r"^([0-9]+)(\D+)$")
_MAX_PART_AFTER_SCALE = 999
_GROUP_SCALE = 1000


@dataclass(frozen=True)
class MatchVocabulary:
    """One language's words that do not change what the caller asked.

    Attributes:
        language: the locale the words are of ("en-US").
        fillers: hesitations, dropped wherever they are ("um").
        trailing: courtesy and discourse words or phrases dropped at the end, each a tuple of
            words in their ``synonyms`` spelling ("please", ("thank", "you")).
        synonyms: (variant, spelling) pairs: each variant is written one way ("ok" -> "okay").
        currencies: (symbol, unit word, hundredth word) ("$", "dollars", "cents").
        scales: (word, value) of the words that multiply a number ("hundred", 100).
        articles: words that count as one before a scale ("a" hundred).
        joiners: a word between the parts of one amount ("a hundred and fifty").
        ordinals: (word, numeral) ("first", "1st").
    """

    language: str = ""
    fillers: frozenset[str] = frozenset()
    trailing: tuple[tuple[str, ...], ...] = ()
    synonyms: tuple[tuple[str, str], ...] = ()
    currencies: tuple[tuple[str, str, str], ...] = ()
    scales: tuple[tuple[str, int], ...] = ()
    articles: frozenset[str] = frozenset()
    joiners: frozenset[str] = frozenset()
    ordinals: tuple[tuple[str, str], ...] = ()


NO_VOCABULARY = MatchVocabulary()  # case, punctuation and numbers only


def speculation_key(text: str, vocabulary: MatchVocabulary) -> str:
    """The key of ``text``: equal for the partial and the final of the same request.

    Example:
        >>> en = MatchVocabulary(fillers=frozenset({"um"}), trailing=(("please",),))
        >>> speculation_key("Um, account 4 4 8, please.", en) == speculation_key("account four four eight", en)
        True
    """
    tokens = [t for t in tokenize(_WORD_HYPHEN.sub(" ", text)) if t.text not in vocabulary.fillers]
    words = _words(tokens, vocabulary)
    synonyms = dict(vocabulary.synonyms)
    words = [synonyms.get(w, w) for w in words]
    words = _ordinals_joined(_amounts(words, vocabulary), vocabulary)
    return " ".join(_without_trailing(_digits_joined(words), vocabulary.trailing))


def _words(tokens: list[Token], vocabulary: MatchVocabulary) -> list[str]:
    """The words of ``tokens``: a digit run as its digits, punctuation dropped."""
    runs = {run.first: run for run in find_digit_runs(tokens, [False] * len(tokens))}
    currencies = {symbol: (unit, hundredth) for symbol, unit, hundredth in vocabulary.currencies}
    words: list[str] = []
    i = 0
    while i < len(tokens):
        run = runs.get(i)
        if run is not None:
            words.append("".join(group.digits for segment in run.segments for group in segment))
            i = run.last
            continue
        token = tokens[i]
        i += 1
        if token.kind == WORD:
            words.append(token.text.replace("’", "'"))
        elif token.kind in (NUM, TAG):
            words.append(token.text)
        elif token.kind == OTHER:
            words.extend(_written(token.text, currencies))
    return words


def _written(text: str, currencies: dict[str, tuple[str, str]]) -> list[str]:
    """A money amount, a clock time or an ordinal numeral as the words of its spoken form."""
    clock = _CLOCK.match(text)
    if clock:
        return [clock.group(1) + clock.group(2)]
    money = _CURRENCY.match(text)
    if money is None or money.group(1) not in currencies:
        return [text]
    unit, hundredth = currencies[money.group(1)]
    words = [str(int(money.group(2).replace(",", ""))), unit]
    cents = int((money.group(3) or "0").ljust(2, "0")[:2])
    return [*words, str(cents), hundredth] if cents else words


def _amounts(words: list[str], vocabulary: MatchVocabulary) -> list[str]:
    """Amounts said with a scale word as their value ("1 hundred and 50" is "150"), and a joiner
    between a currency's unit and its hundredths dropped ("40 dollars and 50 cents")."""
    scales = dict(vocabulary.scales)
    units = {unit for _, unit, _ in vocabulary.currencies}
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        if (word.isdigit() or word in vocabulary.articles) and i + 1 < n and words[i + 1] in scales:
            value, i = _amount_at(words, i, scales, vocabulary.joiners)
            out.append(str(value))
            continue
        joined = word in vocabulary.joiners and out and out[-1] in units and i + 1 < n and words[i + 1].isdigit()
        if not joined:
            out.append(word)
        i += 1
    return out


def _amount_at(words: list[str], i: int, scales: dict[str, int], joiners: frozenset[str]) -> tuple[int, int]:
    """The value of the amount that starts at ``words[i]`` (a number or an article before a
    scale word) and the index after it: scale words, each followed by at most one smaller part
    ("two thousand five hundred and fifty")."""
    total = 0
    current = int(words[i]) if words[i].isdigit() else 1
    j, n = i + 1, len(words)
    after_scale = False
    while j < n:
        word = words[j]
        if word in scales:
            current = max(current, 1) * scales[word]
            if scales[word] >= _GROUP_SCALE:  # a thousand closes a group: "two thousand five hundred"
                total, current = total + current, 0
            after_scale = True
            j += 1
            continue
        k = j + 1 if word in joiners else j
        if not after_scale or k >= n or not words[k].isdigit() or int(words[k]) > _MAX_PART_AFTER_SCALE:
            break
        current += int(words[k])
        after_scale = False
        j = k + 1
    return total + current, j


def _ordinals_joined(words: list[str], vocabulary: MatchVocabulary) -> list[str]:
    """Ordinal words as numerals, and tens before one joined ("20 1st" is "21st")."""
    ordinals = dict(vocabulary.ordinals)
    out: list[str] = []
    for word in words:
        numeral = ordinals.get(word, word)
        ordinal = _ORDINAL.match(numeral)
        if ordinal and out and _tens(out[-1]) and len(ordinal.group(1)) == 1:
            out[-1] = f"{int(out[-1]) + int(ordinal.group(1))}{ordinal.group(2)}"
            continue
        out.append(numeral)
    return out


def _tens(word: str) -> bool:
    return word.isdigit() and len(word) == 2 and word[1] == "0" and word[0] != "0"  # "20" to "90"


def _digits_joined(words: list[str]) -> list[str]:
    """Digits next to each other are one number: however they were grouped, they were read together."""
    out: list[str] = []
    for word in words:
        if word.isdigit() and out and out[-1].isdigit():
            out[-1] += word
        else:
            out.append(word)
    return out


def _without_trailing(words: list[str], trailing: Sequence[tuple[str, ...]]) -> list[str]:
    """``words`` without the courtesy words at their end, keeping at least one word."""
    phrases = sorted(trailing, key=len, reverse=True)
    cut = True
    while cut:
        cut = False
        for phrase in phrases:
            if 0 < len(phrase) < len(words) and tuple(words[-len(phrase) :]) == phrase:
                words = words[: -len(phrase)]
                cut = True
                break
    return words
