"""What to do with each kind of caller data, and the words that say which kind a number is.

The policy is data (``chalicelib/data/redaction.json``): per kind an action (``redact``: replaced,
the value never kept; ``tokenize``: replaced by a token whose value goes to the vault for a tool;
``keep``), the digit counts it may have, and the *contexts* that decide between kinds that look
alike (a 9-digit number is a routing number after "routing", an SSN after "social", the
customer's own account number otherwise). A context is a named list of phrases; it is *present*
when one of them is in the utterance or the previous turn, and *close* to a number when it is
said just before it (or just after). The kinds are listed in priority order: on a tie, the first
listed wins.

The words are read in the call's language (``Reading``): each ``CallLanguage`` brings its digit
words (``languages/<locale>/rules.json``, ``numbers``) and its phrases for the contexts
(``languages/<locale>/redaction.json``). The first language is the base, whose phrases are the
policy's own ``contexts``: a call in another language reads its own words and the base's (callers
read digits in English too); a call in the base language reads only its own (English results are
as they were); a text of no known language (a log line) reads every language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from chalicelib.domain.language_words import fold_accents
from chalicelib.domain.spoken_dates import ORDINAL_WORDS, DateWords
from chalicelib.domain.spoken_email import ENGLISH_EMAIL, EmailWords
from chalicelib.domain.spoken_numbers import ENGLISH_DIGITS, TAG, DigitWords, Token, merge_digit_words, tokenize
from chalicelib.errors import ConfigurationInvalidError

ANY_LANGUAGE = ""  # the language of a text no call names (a log line): every language is read


class EntityKind(StrEnum):
    CARD = "card"
    SECURITY_CODE = "security_code"
    EXPIRY = "expiry"
    SSN = "ssn"
    ROUTING = "routing"
    BANK_ACCOUNT = "bank_account"
    EMAIL = "email"
    PHONE = "phone"
    DOB = "dob"
    CUSTOMER_ACCOUNT = "customer_account"  # the contact centre's own account number (lookup_account)
    LONG_NUMBER = "long_number"  # a long run of digits that is none of the above (a misread card)


class Action(StrEnum):
    REDACT = "redact"
    TOKENIZE = "tokenize"
    KEEP = "keep"


# PCI DSS 3.3: sensitive authentication data is never stored after authorisation, not even as a
# keyed hash (a 3-digit code is found from its hash in a thousand tries).
NEVER_STORED = frozenset({EntityKind.SECURITY_CODE})
_LABEL = re.compile(r"^[A-Z][A-Z_]*$")


@dataclass(frozen=True)
class KindRule:
    """How one kind is recognised among look-alikes, and what is done with it."""

    kind: EntityKind
    action: Action
    label: str  # the token's name: "CARD" gives "[CARD_1]"
    min_digits: int = 0  # 0: no lower bound
    max_digits: int = 0  # 0: no upper bound
    cues: frozenset[str] = frozenset()  # contexts that point at this kind when close to the number
    requires: frozenset[str] = frozenset()  # contexts that must all be present
    excluded_by: frozenset[str] = frozenset()  # contexts whose presence rules this kind out
    cue_groupings: tuple[tuple[int, ...], ...] = ()  # read in these groups (3-2-4): as good as a close cue
    remember: bool = True  # the same value gets the same token later in the call

    def fits_length(self, digits: int) -> bool:
        return digits >= self.min_digits and (not self.max_digits or digits <= self.max_digits)


@dataclass(frozen=True)
class CallLanguage:
    """One language the redactor reads: its digit words, its phrases for the policy's contexts,
    and whether its words are compared without accents ("código" and "codigo" alike)."""

    locale: str
    digits: DigitWords
    contexts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fold_accents: bool = False
    email: EmailWords | None = None  # its words for a spoken address ("arroba", "punto"); None: English's
    dates: DateWords | None = None  # how it says a date ("doce de marzo de 1980"); None: as English does


_Phrases = dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]  # first word -> (words, contexts)


@dataclass(frozen=True)
class Reading:
    """How one call's words are read: digit words, cue phrases, and accents folded or not."""

    digits: DigitWords
    phrases: _Phrases = field(repr=False)
    hints: frozenset[str] = field(repr=False)  # the words that may start an entity
    folds: bool = False
    email: EmailWords = field(default=ENGLISH_EMAIL, repr=False)
    dates: DateWords | None = field(default=None, repr=False)

    def tokens(self, text: str) -> list[Token]:
        """``text``'s tokens, their words without accents when this reading folds them (the
        spans are the original text's)."""
        tokens = tokenize(text)
        if not self.folds or text.isascii():
            return tokens
        return [t._replace(text=fold_accents(t.text)) if not t.text.isascii() else t for t in tokens]


def _phrase_index(contexts: Mapping[str, tuple[str, ...]], *, fold: bool) -> _Phrases:
    phrases: dict[str, set[str]] = {}
    for name, words in contexts.items():
        for phrase in words:
            said = " ".join(phrase.lower().split())
            phrases.setdefault(fold_accents(said) if fold else said, set()).add(name)
    # The longest phrase is matched: "routing number" must also count for the contexts that
    # list "routing" alone, "credit card" for those that list "card".
    own = {phrase: frozenset(names) for phrase, names in phrases.items()}
    for phrase, names in phrases.items():
        parts = phrase.split()
        for a in range(len(parts)):
            for b in range(a + 1, len(parts) + 1):
                names.update(own.get(" ".join(parts[a:b]), ()))
    by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for phrase, names in sorted(phrases.items(), key=lambda item: -len(item[0])):
        words = tuple(t.text for t in tokenize(phrase))
        if words:
            by_first.setdefault(words[0], []).append((words, tuple(sorted(names))))
    return {w: tuple(p) for w, p in by_first.items()}


def _reading(contexts: Mapping[str, tuple[str, ...]], languages: tuple[CallLanguage, ...]) -> Reading:
    merged: dict[str, tuple[str, ...]] = {name: tuple(words) for name, words in contexts.items()}
    for language in languages:
        for name, words in language.contexts.items():
            merged[name] = (*merged.get(name, ()), *words)
    digits = merge_digit_words(*(lang.digits for lang in languages)) if languages else ENGLISH_DIGITS
    fold = any(lang.fold_accents for lang in languages)
    spoken = [lang.email for lang in languages if lang.email is not None]
    email = ENGLISH_EMAIL.merged(*spoken) if spoken else ENGLISH_EMAIL
    said = [lang.dates for lang in languages if lang.dates is not None]
    dates = said[0].merged(*said[1:]) if said else None
    hints = digits.words | ORDINAL_WORDS | email.at | (frozenset(dates.ordinals) if dates else frozenset())
    return Reading(digits, _phrase_index(merged, fold=fold), hints, fold, email, dates)


class CueHit(NamedTuple):
    context: str
    start: int
    end: int


@dataclass(frozen=True)
class RedactionPolicy:
    """The kinds in priority order and the phrases of each context, checked when built.

    Example:
        >>> rule = KindRule(EntityKind.CARD, Action.TOKENIZE, "CARD", 13, 19, frozenset({"card"}))
        >>> policy = RedactionPolicy((rule,), {"card": ("card", "credit card")}, complete=False)
        >>> [h.context for h in policy.cues_in(tokenize("my credit card is"))]
        ['card']
    """

    rules: tuple[KindRule, ...]
    contexts: dict[str, tuple[str, ...]]
    before_chars: int = 48  # how far before a number a cue counts as close
    after_chars: int = 24  # and after it
    complete: bool = True  # every kind must have a rule (False only for small test policies)
    languages: tuple[CallLanguage, ...] = ()  # the base (``contexts``' language) first; none: English digits
    _by_kind: dict[EntityKind, KindRule] = field(init=False, repr=False, compare=False)
    _by_label: dict[str, KindRule] = field(init=False, repr=False, compare=False)
    _readings: dict[str, Reading] = field(init=False, repr=False, compare=False)  # by locale; "": any

    def __post_init__(self) -> None:
        self._check()
        base, others = self.languages[:1], self.languages[1:]
        readings = {lang.locale: _reading(self.contexts, (lang, *base)) for lang in others}
        readings.update({lang.locale: _reading(self.contexts, (lang,)) for lang in base})
        readings[ANY_LANGUAGE] = _reading(self.contexts, self.languages)
        object.__setattr__(self, "_by_kind", {r.kind: r for r in self.rules})
        object.__setattr__(self, "_by_label", {r.label: r for r in self.rules})
        object.__setattr__(self, "_readings", readings)

    @property
    def locales(self) -> tuple[str, ...]:
        """The languages this policy reads, the base first."""
        return tuple(lang.locale for lang in self.languages)

    def reading(self, language: str = ANY_LANGUAGE) -> Reading:
        """How a text in ``language`` (``es-US``; Lex's ``es_US`` too) is read; a language this
        policy does not know, or none (``ANY_LANGUAGE``), reads every language.

        Example:
            >>> from chalicelib.adapters.redaction_policy import load_redaction_policy
            >>> policy = load_redaction_policy()
            >>> "uno" in policy.reading("es-US").digits.units, "uno" in policy.reading("en-US").digits.units
            (True, False)
        """
        readings = self._readings
        return readings.get(language) or readings.get(language.replace("_", "-")) or readings[ANY_LANGUAGE]

    def _check(self) -> None:
        kinds = [r.kind for r in self.rules]
        if len(set(kinds)) != len(kinds):
            raise ConfigurationInvalidError("redaction policy: a kind is listed twice")
        if self.complete and (missing := sorted(set(EntityKind) - set(kinds))):
            raise ConfigurationInvalidError(f"redaction policy: no rule for {', '.join(missing)}")
        for rule in self.rules:
            if not _LABEL.match(rule.label) or sum(r.label == rule.label for r in self.rules) > 1:
                raise ConfigurationInvalidError(f"redaction policy: {rule.kind} needs its own label (A-Z, _)")
            unknown = sorted((rule.cues | rule.requires | rule.excluded_by) - set(self.contexts))
            if unknown:
                raise ConfigurationInvalidError(f"redaction policy: {rule.kind} names unknown contexts {unknown}")
            if rule.max_digits and rule.min_digits > rule.max_digits:
                raise ConfigurationInvalidError(f"redaction policy: {rule.kind} has min_digits above max_digits")
            if rule.kind in NEVER_STORED and (rule.action is not Action.REDACT or rule.remember):
                raise ConfigurationInvalidError(
                    f"redaction policy: {rule.kind} must be redacted and never remembered (PCI DSS 3.3)"
                )
        locales = [lang.locale for lang in self.languages]
        if len(set(locales)) != len(locales):
            raise ConfigurationInvalidError("redaction policy: a language is listed twice")
        for lang in self.languages:
            if unknown := sorted(set(lang.contexts) - set(self.contexts)):
                raise ConfigurationInvalidError(f"redaction policy: {lang.locale} names unknown contexts {unknown}")

    def rule(self, kind: EntityKind) -> KindRule | None:
        """The rule for ``kind``; None when this policy does not recognise it."""
        return self._by_kind.get(kind)

    def cues_in(self, tokens: list[Token], reading: Reading | None = None) -> list[CueHit]:
        """Each context phrase in ``tokens``, and each token already placed (a "[CARD_1]" said
        before is a card context), with where it is; the longest phrase at a place wins.
        ``reading``: the call's (``reading(language)``; None: every language's phrases)."""
        phrases = (reading or self._readings[ANY_LANGUAGE]).phrases
        hits: list[CueHit] = []
        i, n = 0, len(tokens)
        while i < n:
            tok = tokens[i]
            i += 1
            if tok.kind == TAG:
                rule = self._by_label.get(tok.text[1 : tok.text.rindex("_")].upper())
                hits.extend(CueHit(name, tok.start, tok.end) for name in (rule.cues if rule else ()))
                continue
            word = tok.text[:-2] if tok.text.endswith(("'s", "’s")) else tok.text  # "the card's"
            for words, names in phrases.get(word, ()):
                end = i - 1 + len(words)
                if end <= n and all(tokens[i + k].text == w for k, w in enumerate(words[1:])):
                    hits.extend(CueHit(name, tok.start, tokens[end - 1].end) for name in names)
                    i = end
                    break
        return hits

    def contexts_in(self, *texts: str, language: str = ANY_LANGUAGE) -> frozenset[str]:
        """The contexts present in any of ``texts`` (the previous turn, for example), read in
        ``language`` (none: every language).

        Example:
            >>> from chalicelib.adapters.redaction_policy import load_redaction_policy
            >>> sorted(load_redaction_policy().contexts_in("What's your bank's routing number?"))
            ['bank', 'routing']
        """
        reading = self.reading(language)
        return frozenset(hit.context for text in texts if text for hit in self.cues_in(reading.tokens(text), reading))
