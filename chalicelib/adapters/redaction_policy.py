"""The redaction policy file (``chalicelib/data/redaction.json``) and each language's words for it
(``data/languages/<locale>/``: the digit words of ``rules.json``'s ``numbers``, the context
phrases of ``redaction.json``), validated by pydantic into the domain's ``RedactionPolicy``.
Read once per container (by ``bootstrap``), never during a turn."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.adapters.language_files import LANGUAGES, language_locales, language_words_at
from chalicelib.domain.language_words import fold_accents
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.redaction_policy import Action, CallLanguage, EntityKind, KindRule, RedactionPolicy
from chalicelib.domain.spoken_dates import DateWords
from chalicelib.domain.spoken_email import EmailWords
from chalicelib.errors import ConfigurationInvalidError

DATA = Path(__file__).resolve().parent.parent / "data"
LANGUAGE_CUES_FILE = "redaction.json"
_Phrase = Annotated[str, Field(min_length=1, pattern=r"\S")]
_Word = Annotated[str, Field(pattern=r"^[^\W\d_]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _CueWindowFile(_Strict):
    before_chars: int = Field(ge=0, le=200)
    after_chars: int = Field(ge=0, le=200)


class _KindFile(_Strict):
    kind: EntityKind
    action: Action
    label: str = Field(pattern=r"^[A-Z][A-Z_]*$")
    min_digits: int = Field(default=0, ge=0, le=32)
    max_digits: int = Field(default=0, ge=0, le=32)
    cues: list[str] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)
    excluded_by: list[str] = Field(default_factory=list)
    cue_groupings: list[list[int]] = Field(default_factory=list)
    remember: bool = True
    comment: str = Field(default="", alias="_comment")


class _PolicyFile(_Strict):
    comment: str = Field(default="", alias="_comment")
    language: str = Field(default="en-US", pattern=r"^[a-z]{2,3}-[A-Z]{2}$")  # the language of ``contexts``
    cue_window: _CueWindowFile
    contexts: dict[str, list[str]]
    kinds: list[_KindFile]


class _EmailFile(_Strict):
    at: list[_Word] = Field(min_length=1)
    dots: list[_Word] = Field(min_length=1)
    symbols: dict[_Word, Annotated[str, Field(pattern=r"^[._+-]$")]] = Field(default_factory=dict)
    not_local: list[_Word] = Field(default_factory=list)


class _DatesFile(_Strict):
    months: dict[_Word, Annotated[int, Field(ge=1, le=12)]] = Field(min_length=12)
    ordinals: dict[_Word, Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=dict)
    linkers: list[_Word] = Field(min_length=1)
    articles: list[_Word] = Field(default_factory=list)
    thousands: list[_Word] = Field(default_factory=list)
    hundreds: dict[_Word, Annotated[int, Field(ge=100, le=900, multiple_of=100)]] = Field(default_factory=dict)


class _LanguageCuesFile(_Strict):
    comment: str = Field(default="", alias="_comment")
    contexts: dict[str, list[_Phrase]]
    email: _EmailFile | None = None
    dates: _DatesFile | None = None


def load_call_language(locale: str, root: Path = LANGUAGES, *, cues: bool = True) -> CallLanguage:
    """How the redactor reads ``locale``: the digit words of ``<root>/<locale>/rules.json``
    (``numbers``, the same words tier 0 reads) and, with ``cues``, the context phrases of
    ``<root>/<locale>/redaction.json`` (the base language's are ``redaction.json``'s own).

    Raises:
        ConfigurationInvalidError: a file is missing or not valid, or a phrase is not lower case.
    """
    words = language_words_at(locale, root).rules  # the shipped ones: the same the turn's rules read
    if not cues:
        return CallLanguage(locale, words.numbers, {}, words.fold_accents)
    path = root / locale / LANGUAGE_CUES_FILE
    try:
        data = _LanguageCuesFile.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"languages/{locale}/{path.name}: {exc}") from exc
    said = [p for phrases in data.contexts.values() for p in phrases]
    if data.email is not None:
        e = data.email
        said += [*e.at, *e.dots, *e.symbols, *e.not_local]
    if data.dates is not None:
        d = data.dates
        said += [*d.months, *d.ordinals, *d.linkers, *d.articles, *d.thousands, *d.hundreds]
        if sorted(set(d.months.values())) != list(range(1, 13)):
            raise ConfigurationInvalidError(f"languages/{locale}/{path.name}: dates.months must name every month")
    upper = sorted(p for p in said if p != p.lower())
    if upper:  # the text is lower-cased: such a phrase would never match
        raise ConfigurationInvalidError(f"languages/{locale}/{path.name}: words must be lower case: {upper}")
    contexts = {name: tuple(phrases) for name, phrases in data.contexts.items()}
    email = None
    if data.email is not None:
        fold = fold_accents if words.fold_accents else str
        e, n = data.email, words.numbers
        email = EmailWords(frozenset(map(fold, e.at)), frozenset(map(fold, e.dots)),
                           {fold(w): c for w, c in e.symbols.items()}, frozenset(map(fold, e.not_local)),
                           n.fillers, n.units)  # fmt: skip
    dates = None
    if data.dates is not None:
        fold = fold_accents if words.fold_accents else str
        d = data.dates
        dates = DateWords({fold(w): m for w, m in d.months.items()}, {fold(w): v for w, v in d.ordinals.items()},
                          frozenset(map(fold, d.linkers)), frozenset(map(fold, d.articles)),
                          frozenset(map(fold, d.thousands)), {fold(w): v for w, v in d.hundreds.items()})  # fmt: skip
    return CallLanguage(locale, words.numbers, contexts, words.fold_accents, email, dates)


def load_redaction_policy(path: Path = DATA / "redaction.json", languages: Path | None = LANGUAGES) -> RedactionPolicy:
    """The redaction policy; every kind has one rule, and a security code is never stored. It
    reads every language with a folder under ``languages`` (None: English digit words only), the
    file's own ``language`` first (its ``contexts`` are that language's phrases).

    Example:
        >>> load_redaction_policy().rule(EntityKind.SECURITY_CODE).action
        <Action.REDACT: 'redact'>
        >>> load_redaction_policy().locales
        ('en-US', 'es-US')

    Raises:
        ConfigurationInvalidError: the file is not valid, a kind is missing or listed twice, a
            rule names an unknown context, the security code is anything but redacted, the base
            language has no folder, or a language's files are not valid or name unknown contexts.
    """
    try:
        data = _PolicyFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    rules = tuple(
        KindRule(k.kind, k.action, k.label, k.min_digits, k.max_digits, frozenset(k.cues), frozenset(k.requires),
                 frozenset(k.excluded_by), tuple(tuple(g) for g in k.cue_groupings), k.remember)
        for k in data.kinds
    )  # fmt: skip
    contexts = {name: tuple(words) for name, words in data.contexts.items()}
    langs: tuple[CallLanguage, ...] = ()
    if languages is not None:
        locales = language_locales(languages)
        if data.language not in locales:
            raise ConfigurationInvalidError(f"{path.name}: language {data.language} has no folder in languages/")
        others = tuple(load_call_language(locale, languages) for locale in locales if locale != data.language)
        langs = (load_call_language(data.language, languages, cues=False), *others)
    try:
        return RedactionPolicy(rules, contexts, data.cue_window.before_chars, data.cue_window.after_chars,
                               languages=langs)  # fmt: skip
    except ConfigurationInvalidError as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc


@functools.cache
def process_redactor() -> Redactor:
    """The shipped policy with a random key of this process, loaded once: for scrubbing (bare
    labels, no state: a log line, a tool's result, a segment) and for redaction whose tokens need
    not outlive the process (the transcriber's run). A redactor whose tokens must match across
    containers (the turn's) takes this one's policy with the deployment's key."""
    return Redactor(load_redaction_policy(), secrets.token_bytes(32))


__all__ = ["load_call_language", "load_redaction_policy", "process_redactor"]
