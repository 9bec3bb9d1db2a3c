"""E-mail addresses, written ("john.smith@gmail.com") or spoken ("john dot smith at gmail dot
com", "j smith at example dot co dot uk", "b l u e bird seven at example dot com").

A spoken address is anchored on "at" followed by a domain that ends in a known top-level domain
("… at the store dot" is not an address); its local part is the words just before "at", back to
the first word that is clearly not part of it ("my e-mail is", "send it to"). Spelled letters
and digit words are joined ("b l u e bird seven" is "bluebird7"); "dot", "underscore", "dash"
and "plus" are the characters they name. Other languages' words for them ("arroba", "punto") are
data (``EmailWords``, from ``languages/<locale>/redaction.json``); these are the English ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from chalicelib.domain.spoken_numbers import FILLERS, NUM, SEP, UNITS, WORD, Token

_SYMBOL_WORDS = {"dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-", "plus": "+"}
_SYMBOL_SEPS = frozenset("._-+")
# Words that end a spoken local part (read backwards from "at").
_NOT_LOCAL = frozenset({
    "is", "was", "my", "email", "e-mail", "mail", "address", "it's", "its", "it", "me", "to", "send", "use", "at",
    "the", "and", "or", "please", "that's", "thats", "yes", "yeah", "sure", "okay", "ok", "so", "try", "under",
    "on", "by", "from", "with", "via", "say", "said", "be", "should", "would", "could", "can", "you", "your", "our",
    "i", "i'm", "that", "this", "new", "old", "account", "one", "reach", "contact", "write", "of", "as", "in", "for",
    "emails", "mine", "his", "her", "their", "change", "update", "set", "put", "have", "got", "has",
})  # fmt: skip
_TLDS = frozenset({"com", "net", "org", "edu", "gov", "mil", "io", "co", "uk", "us", "ca", "info", "biz", "me",
                   "ai", "de", "fr", "au", "nz", "ie", "in", "tv", "app", "dev", "email"})  # fmt: skip
_MAX_LOCAL_TOKENS = 10


@dataclass(frozen=True)
class EmailWords:
    """How an address is spoken in the languages read: the words for "@" and for each symbol
    ("dot", "punto"), the words that end a local part read backwards, the hesitations and digit
    words a local part may hold."""

    at: frozenset[str]
    dots: frozenset[str]  # the words for the dots of a domain ("dot", "punto")
    symbols: Mapping[str, str]  # word -> the character it names in a local part ("punto" -> ".")
    not_local: frozenset[str]
    fillers: frozenset[str]
    units: Mapping[str, int]

    def merged(self, *others: EmailWords) -> EmailWords:
        """These words and ``others``' (a word keeps what the first that has it says)."""
        symbols = dict(self.symbols)
        units = dict(self.units)
        for other in others:
            symbols.update((w, c) for w, c in other.symbols.items() if w not in symbols)
            units.update((w, d) for w, d in other.units.items() if w not in units)
        every = (self, *others)
        return EmailWords(
            frozenset().union(*(w.at for w in every)),
            frozenset().union(*(w.dots for w in every)),
            symbols,
            frozenset().union(*(w.not_local for w in every)),
            frozenset().union(*(w.fillers for w in every)),
            units,
        )


ENGLISH_EMAIL = EmailWords(frozenset({"at"}), frozenset({"dot"}), _SYMBOL_WORDS, _NOT_LOCAL, FILLERS, UNITS)


class EmailMention(NamedTuple):
    value: str  # lower-cased: "john.smith@gmail.com"
    start: int
    end: int
    first: int  # index of the first token
    last: int  # index after the last token


def find_emails(tokens: list[Token], words: EmailWords = ENGLISH_EMAIL) -> list[EmailMention]:
    """Every e-mail address in ``tokens``, written or spoken (in ``words``).

    Example:
        >>> from chalicelib.domain.spoken_numbers import tokenize
        >>> [m.value for m in find_emails(tokenize("it's john dot smith at gmail dot com, thanks"))]
        ['john.smith@gmail.com']
    """
    found: list[EmailMention] = []
    for a, tok in enumerate(tokens):
        written = tok.kind == SEP and tok.text == "@"
        if not (written or (tok.kind == WORD and tok.text in words.at)) or (found and a < found[-1].last):
            continue
        domain = _domain_after(tokens, a, words, written=written)
        if domain is None:
            continue
        labels, last = domain
        local = _local_before(tokens, a, words, written=written, floor=found[-1].last if found else 0)
        if local is None:
            continue
        text, first = local
        value = f"{text}@{'.'.join(labels)}"
        found.append(EmailMention(value, tokens[first].start, tokens[last - 1].end, first, last))
    return found


def _adjacent(tokens: list[Token], i: int, j: int) -> bool:
    return tokens[i].end == tokens[j].start


def _label_at(tokens: list[Token], j: int, words: EmailWords) -> str | None:
    tok = tokens[j] if j < len(tokens) else None
    if tok is None or tok.kind not in (WORD, NUM) or tok.text in words.symbols or tok.text in words.fillers:
        return None
    return tok.text


def _domain_after(tokens: list[Token], a: int, words: EmailWords, *, written: bool) -> tuple[list[str], int] | None:
    """The domain's labels after the anchor at ``a``, and the index after its last token."""
    j = a + 1
    if written and not (j < len(tokens) and _adjacent(tokens, a, j)):
        return None
    first = _label_at(tokens, j, words)
    if first is None:
        return None
    labels, ends = [first], [j + 1]
    j += 1
    while j + 1 < len(tokens):
        dot = tokens[j]
        is_dot = (dot.kind == SEP and dot.text == ".") or (not written and dot.kind == WORD and dot.text in words.dots)
        if not is_dot or (written and not (_adjacent(tokens, j - 1, j) and _adjacent(tokens, j, j + 1))):
            break
        label = _label_at(tokens, j + 1, words)
        if label is None:
            break
        labels.append(label)
        ends.append(j + 2)
        j += 2
    if not written:
        while len(labels) > 1 and labels[-1] not in _TLDS:
            labels.pop()
            ends.pop()
    if len(labels) < 2 or not labels[-1].isalpha() or len(labels[-1]) < 2:
        return None
    return labels, ends[-1]


def _local_before(
    tokens: list[Token], a: int, words: EmailWords, *, written: bool, floor: int
) -> tuple[str, int] | None:
    """The local part before the anchor at ``a`` (as text) and the index of its first token."""
    parts: list[str] = []
    first = a
    j = a - 1
    while j >= floor and a - j <= _MAX_LOCAL_TOKENS:
        tok = tokens[j]
        if written and not _adjacent(tokens, j, j + 1):
            break
        if (tok.kind == SEP and tok.text in _SYMBOL_SEPS) or tok.kind == NUM:
            part = tok.text
        elif tok.kind == WORD and not written and tok.text in words.symbols:
            part = words.symbols[tok.text]
        elif tok.kind == WORD and (written or (tok.text not in words.not_local and tok.text not in words.fillers)):
            units = words.units
            part = str(units[tok.text]) if not written and tok.text in units and tok.text != "o" else tok.text
        else:
            break
        parts.append(part)
        first = j
        j -= 1
    while parts and parts[-1] in _SYMBOL_SEPS:  # a local part starts with a letter or a digit
        parts.pop()
        first += 1
    if not parts or parts[0] in _SYMBOL_SEPS:
        return None
    return "".join(reversed(parts)).replace("'", ""), first
