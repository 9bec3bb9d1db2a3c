"""What to do with each kind of caller data, and the words that say which kind a number is.

The policy is data (``chalicelib/data/redaction.json``): per kind an action (``redact``: replaced,
the value never kept; ``tokenize``: replaced by a token whose value goes to the vault for a tool;
``keep``), the digit counts it may have, and the *contexts* that decide between kinds that look
alike (a 9-digit number is a routing number after "routing", an SSN after "social", the
customer's own account number otherwise). A context is a named list of phrases; it is *present*
when one of them is in the utterance or the previous turn, and *close* to a number when it is
said just before it (or just after). The kinds are listed in priority order: on a tie, the first
listed wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from chalicelib.errors import ConfigurationInvalidError


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
        >>> [h.context for h in policy.cues_in("my credit card is")]
        ['card']
    """

    rules: tuple[KindRule, ...]
    contexts: dict[str, tuple[str, ...]]
    before_chars: int = 48  # how far before a number a cue counts as close
    after_chars: int = 24  # and after it
    complete: bool = True  # every kind must have a rule (False only for small test policies)
    _by_kind: dict[EntityKind, KindRule] = field(init=False, repr=False, compare=False)
    _by_label: dict[str, KindRule] = field(init=False, repr=False, compare=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _phrase_contexts: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check()
        phrases: dict[str, set[str]] = {}
        for name, words in self.contexts.items():
            for phrase in words:
                phrases.setdefault(" ".join(phrase.lower().split()), set()).add(name)
        # The longest phrase is matched: "routing number" must also count for the contexts that
        # list "routing" alone, "credit card" for those that list "card".
        for phrase, names in phrases.items():
            for other, more in phrases.items():
                if other != phrase and f" {other} " in f" {phrase} ":
                    names.update(more)
        alternatives = "|".join(
            r"\s+".join(re.escape(w) for w in p.split()) for p in sorted(phrases, key=len, reverse=True)
        )
        pattern = rf"(?<![\w'])(?:{alternatives})(?!\w)|\[(?P<tag>[A-Z][A-Z_]*)_[0-9]+\]"
        object.__setattr__(self, "_by_kind", {r.kind: r for r in self.rules})
        object.__setattr__(self, "_by_label", {r.label: r for r in self.rules})
        object.__setattr__(self, "_pattern", re.compile(pattern, re.IGNORECASE))
        object.__setattr__(self, "_phrase_contexts", {p: tuple(sorted(n)) for p, n in phrases.items()})

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

    def rule(self, kind: EntityKind) -> KindRule | None:
        """The rule for ``kind``; None when this policy does not recognise it."""
        return self._by_kind.get(kind)

    def cues_in(self, text: str) -> list[CueHit]:
        """Each context phrase in ``text``, and each token already placed (a "[CARD_1]" said
        before is a card context), with where it is."""
        hits: list[CueHit] = []
        for m in self._pattern.finditer(text):
            tag = m.group("tag")
            if tag is not None:
                names: tuple[str, ...] = tuple(self._by_label[tag].cues) if tag in self._by_label else ()
            else:
                names = self._phrase_contexts.get(" ".join(m.group().lower().split()), ())
            hits.extend(CueHit(name, m.start(), m.end()) for name in names)
        return hits

    def contexts_in(self, *texts: str) -> frozenset[str]:
        """The contexts present in any of ``texts`` (the previous turn, for example)."""
        return frozenset(hit.context for text in texts if text for hit in self.cues_in(text))
