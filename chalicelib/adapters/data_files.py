"""The shipped configuration files in ``chalicelib/data/``, validated by pydantic into domain
objects. Read once per container (by ``bootstrap``), never during a turn."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.domain.end_of_turn import EndOfTurnPolicy, Listening, ListeningCues, phrase
from chalicelib.domain.envelope import Envelope
from chalicelib.domain.ledger import ModelPrice, PriceBook
from chalicelib.domain.tiers import LatencyPrior, TierSpec, TierTable
from chalicelib.domain.tools import ToolDef, ToolGraph, ToolKind
from chalicelib.domain.words_key import MatchVocabulary
from chalicelib.errors import ConfigurationInvalidError, PriceMissingError

DATA = Path(__file__).resolve().parent.parent / "data"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _LatencyPriorFile(_Strict):
    first_token_ms: float = Field(gt=0)
    tokens_per_second: float = Field(gt=0)


class _TierFile(_Strict):
    tier: int = Field(ge=0, le=2)
    name: str
    model: str | None = None
    base_url: str | None = None
    max_output_tokens: int = Field(default=0, ge=0)
    temperature: float = Field(default=0.2, ge=0, le=2)
    first_token_timeout_ms: float = Field(default=0, ge=0)
    total_timeout_ms: float = Field(default=0, ge=0)
    max_retries: int = Field(default=0, ge=0, le=3)
    latency_prior: _LatencyPriorFile | None = None


class _ContextFile(_Strict):
    max_history_messages: int = Field(ge=0)
    max_message_chars: int = Field(gt=0)


class _TiersFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # "_comment" keys are documentation
    tiers: list[_TierFile]
    context: _ContextFile


class _Priced(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    price: Decimal = Field(ge=0)
    source: str = Field(min_length=1)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class _ModelPriced(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    input_per_million_tokens: Decimal = Field(ge=0)
    output_per_million_tokens: Decimal = Field(ge=0)
    source: str = Field(min_length=1)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class _PricesFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    currency: str
    services: dict[str, _Priced]
    models: dict[str, _ModelPriced]
    self_hosting: dict[str, _Priced] = Field(default_factory=dict)


def load_tiers(path: Path = DATA / "tiers.json") -> TierTable:
    """The tier table; a model tier must have a model, a latency prior and timeouts.

    Raises:
        ConfigurationInvalidError: the file is not valid or a tier is incomplete.
    """
    try:
        data = _TiersFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    specs = []
    for t in data.tiers:
        if t.model is not None and (t.latency_prior is None or not t.total_timeout_ms or not t.max_output_tokens):
            raise ConfigurationInvalidError(f"{path.name}: tier {t.tier} needs latency_prior, timeouts, max tokens")
        prior = (
            LatencyPrior(t.latency_prior.first_token_ms, t.latency_prior.tokens_per_second) if t.latency_prior else None
        )
        specs.append(TierSpec(t.tier, t.name, t.model, t.base_url, t.max_output_tokens, t.temperature,
                              t.first_token_timeout_ms, t.total_timeout_ms, t.max_retries, prior))  # fmt: skip
    if sorted(s.tier for s in specs) != [0, 1, 2]:
        raise ConfigurationInvalidError(f"{path.name}: tiers 0, 1 and 2 must each be declared once")
    return TierTable(tuple(specs), data.context.max_history_messages, data.context.max_message_chars)


def load_prices(path: Path = DATA / "prices.json", lambda_architecture: str = "arm64") -> PriceBook:
    """The price book; every price has a source and a date.

    Raises:
        ConfigurationInvalidError: the file is not valid.
    """
    try:
        data = _PricesFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    services = {k: v.price for k, v in data.services.items()}
    services.update({k: v.price for k, v in data.self_hosting.items()})
    models = {k: ModelPrice(v.input_per_million_tokens, v.output_per_million_tokens) for k, v in data.models.items()}
    return PriceBook(services, models, lambda_architecture)


def check_prices_cover(tiers: TierTable, prices: PriceBook) -> None:
    """Raise ``PriceMissingError`` at start-up if a configured model has no price."""
    for spec in tiers.model_tiers:
        prices.model(str(spec.model))


class _EnvelopeFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    hard_deadline_ms: float = Field(gt=0, lt=8000)  # Connect's synchronous Lambda limit is 8 s
    soft_deadline_ms: float = Field(gt=0)
    cold_start_ms: float = Field(gt=0)
    components: dict[str, float]
    stages: dict[str, dict[str, object]] = Field(default_factory=dict)


def load_envelope(path: Path = DATA / "envelope.json", stage: str | None = None) -> Envelope:
    """The latency envelope for ``stage`` (its overrides applied), validated.

    Raises:
        EnvelopeInvalidError: a path does not fit the hard deadline (the message names it).
        ConfigurationInvalidError: the file is not valid.
    """
    try:
        raw = _EnvelopeFile.model_validate_json(path.read_text()).model_dump()
        overrides = raw.pop("stages").get(stage or "", {})
        components = {**raw.pop("components"), **overrides.pop("components", {})}
        data = _EnvelopeFile.model_validate({**raw, **overrides, "components": components})
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    return Envelope(data.hard_deadline_ms, data.soft_deadline_ms, data.cold_start_ms, dict(data.components)).validate()


class _HttpRoute(_Strict):
    method: str = Field(pattern="^(GET|POST|PUT)$")
    path: str = Field(pattern="^/")


class _ToolFile(_Strict):
    name: str = Field(pattern="^[a-z][a-z0-9_]{2,63}$")
    description: str = Field(min_length=1)
    kind: ToolKind
    transport: str = Field(pattern="^(mcp|http)$")
    timeout_ms: float = Field(gt=0)
    latency_prior_ms: float = Field(gt=0)
    parameters: dict[str, object]
    next: list[str] = Field(default_factory=list)
    http: _HttpRoute | None = None


class _ToolsFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    max_calls_per_turn: int = Field(ge=1, le=10)
    start: list[str]
    tools: list[_ToolFile]


def load_tools(path: Path = DATA / "tools.json") -> tuple[ToolGraph, dict[str, tuple[str, str]]]:
    """The tool-call graph, and the HTTP route (method, path) of each HTTP tool.

    Raises:
        ConfigurationInvalidError: the file is not valid, or the graph names a tool that is not
            declared, or an HTTP tool has no route.
    """
    try:
        data = _ToolsFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    names = {t.name for t in data.tools}
    dangling = sorted({*data.start, *(n for t in data.tools for n in t.next)} - names)
    if dangling:
        raise ConfigurationInvalidError(f"{path.name}: the graph names undeclared tools: {', '.join(dangling)}")
    routes: dict[str, tuple[str, str]] = {}
    for t in data.tools:
        if t.transport == "http":
            if t.http is None:
                raise ConfigurationInvalidError(f"{path.name}: HTTP tool {t.name} has no route")
            routes[t.name] = (t.http.method, t.http.path)
    tools = tuple(
        ToolDef(t.name, t.description, t.kind, t.transport, t.timeout_ms, t.latency_prior_ms,
                json.dumps(t.parameters, sort_keys=True), tuple(t.next))
        for t in data.tools
    )  # fmt: skip
    return ToolGraph(tools, tuple(data.start), data.max_calls_per_turn), routes


# Lex takes an end timeout of any length, but one under a fluent pause cuts every answer and one
# past Lex's longest utterance (max-length-ms, 15 s) never ends a turn.
_MIN_END_TIMEOUT_MS, _MAX_END_TIMEOUT_MS = 200, 15_000
_Phrases = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class _CuesFile(_Strict):
    confirmations: _Phrases
    yes_no_openers: _Phrases
    lead_ins: list[Annotated[str, Field(pattern=r"^[^\s]+$")]]
    alternatives: list[Annotated[str, Field(min_length=1)]]
    invitations: _Phrases
    digits: _Phrases
    long_number: _Phrases


class _EndOfTurnFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    comment: str = Field(default="", alias="_comment")
    default_language: str = Field(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")
    timeouts_ms: dict[Listening, int]
    languages: dict[Annotated[str, Field(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")], _CuesFile] = Field(min_length=1)


def load_end_of_turn(path: Path = DATA / "end_of_turn.json") -> EndOfTurnPolicy:
    """The end timeout per kind of answer and each language's cue phrases (``domain/end_of_turn``).

    Example:
        >>> load_end_of_turn().timeouts_ms[Listening.OPEN]
        600

    Raises:
        ConfigurationInvalidError: the file is not valid; a kind of answer has no timeout, or one
            outside 200 to 15000 ms; a short answer (yes/no, digits) waits longer than an open
            one, or a long number less; the default language has no cues; a cue is no word.
    """
    try:
        data = _EndOfTurnFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    timeouts = data.timeouts_ms
    missing = [kind.value for kind in Listening if kind not in timeouts]
    if missing:
        raise ConfigurationInvalidError(f"{path.name}: timeouts_ms has no {', '.join(missing)}")
    outside = {k.value: v for k, v in timeouts.items() if not _MIN_END_TIMEOUT_MS <= v <= _MAX_END_TIMEOUT_MS}
    if outside:
        raise ConfigurationInvalidError(
            f"{path.name}: timeouts_ms {outside} outside {_MIN_END_TIMEOUT_MS} to {_MAX_END_TIMEOUT_MS} ms"
        )
    open_ms = timeouts[Listening.OPEN]
    short_ms = max(timeouts[Listening.YES_NO], timeouts[Listening.DIGITS])
    if short_ms > open_ms or timeouts[Listening.LONG_NUMBER] < open_ms:
        raise ConfigurationInvalidError(
            f"{path.name}: yes_no and digits must wait no longer than open ({open_ms} ms), long_number no less"
        )
    if data.default_language not in data.languages:
        raise ConfigurationInvalidError(f"{path.name}: the default language {data.default_language} has no cues")
    cues = {}
    for language, file in data.languages.items():
        lists = {name: tuple(dict.fromkeys(phrase(p) for p in phrases)) for name, phrases in file.model_dump().items()}
        empty = sorted(name for name, phrases in lists.items() if "" in phrases)
        if empty:
            raise ConfigurationInvalidError(f"{path.name}: {language} {', '.join(empty)}: a cue with no word")
        cues[language] = ListeningCues(**lists)
    return EndOfTurnPolicy(dict(timeouts), cues, data.default_language)


@functools.cache
def shipped_end_of_turn() -> EndOfTurnPolicy:
    """The shipped ``end_of_turn.json``, loaded once per process: every answer carries its end
    timeout, the safe answer of a container that failed to start among them.

    Raises:
        ConfigurationInvalidError: the shipped file is not valid (not cached: asked again, read again).
    """
    return load_end_of_turn()


class _TranscribeLanguagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    comment: str = Field(default="", alias="_comment")
    source: str = Field(min_length=1)
    checked: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    streaming: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")]] = Field(min_length=1)


def load_streaming_languages(path: Path = DATA / "transcribe_languages.json") -> frozenset[str]:
    """The language codes Amazon Transcribe streaming takes (``transcribe_languages.json``).

    Example:
        >>> "es-US" in load_streaming_languages()
        True

    Raises:
        ConfigurationInvalidError: the file is not valid, or lists a code twice.
    """
    try:
        data = _TranscribeLanguagesFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    if len(set(data.streaming)) != len(data.streaming):
        raise ConfigurationInvalidError(f"{path.name}: a language is listed twice")
    return frozenset(data.streaming)


_LOCALE = r"^[a-z]{2,3}-[A-Z]{2}$"
_Word = Annotated[str, Field(pattern=r"^[^\s\d]+$")]


class _VocabularyFile(_Strict):
    fillers: list[_Word]
    trailing: list[Annotated[str, Field(min_length=1)]]
    synonyms: dict[_Word, _Word] = Field(default_factory=dict)
    currencies: dict[Annotated[str, Field(pattern=r"^[$£€]$")], tuple[_Word, _Word]] = Field(default_factory=dict)
    scales: dict[_Word, int] = Field(default_factory=dict)
    articles: list[_Word] = Field(default_factory=list)
    joiners: list[_Word] = Field(default_factory=list)
    ordinals: dict[_Word, Annotated[str, Field(pattern=r"^[0-9]+[^\s\d]+$")]] = Field(default_factory=dict)


class _MatchVocabularyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    comment: str = Field(default="", alias="_comment")
    default_language: str = Field(pattern=_LOCALE)
    languages: dict[Annotated[str, Field(pattern=_LOCALE)], _VocabularyFile] = Field(min_length=1)


def load_match_vocabulary(language: str = "en-US", path: Path = DATA / "match_vocabulary.json") -> MatchVocabulary:
    """The words of ``language`` that do not change what the caller asked: the speculation key's
    (``domain/words_key``). Lex's ``en_US`` is ``en-US``.

    Example:
        >>> "um" in load_match_vocabulary("en-US").fillers
        True

    Raises:
        ConfigurationInvalidError: the file is not valid; the language has no vocabulary; a word is
            not lower case, a filler is also a trailing word, or a scale is below 10.
    """
    try:
        data = _MatchVocabularyFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    locale = language.replace("_", "-")
    file = data.languages.get(locale)
    if file is None:
        raise ConfigurationInvalidError(f"{path.name}: no vocabulary for {locale}")
    synonyms = dict(file.synonyms)
    trailing = tuple(dict.fromkeys(tuple(synonyms.get(w, w) for w in p.split()) for p in file.trailing))
    currency_words = [w for pair in file.currencies.values() for w in pair]
    words = [*file.fillers, *(w for p in trailing for w in p), *synonyms, *synonyms.values(), *file.scales,
             *file.articles, *file.joiners, *file.ordinals, *currency_words]  # fmt: skip
    upper = sorted({w for w in words if w != w.lower()})
    if upper:
        raise ConfigurationInvalidError(f"{path.name}: {locale}: words must be lower case: {', '.join(upper)}")
    both = sorted(set(file.fillers) & {w for p in trailing for w in p})
    if both:
        raise ConfigurationInvalidError(f"{path.name}: {locale}: fillers that are trailing too: {', '.join(both)}")
    small = sorted(w for w, value in file.scales.items() if value < 10)  # a scale multiplies by 10 or more
    if small:
        raise ConfigurationInvalidError(f"{path.name}: {locale}: scales below 10: {', '.join(small)}")
    return MatchVocabulary(
        language=locale,
        fillers=frozenset(file.fillers),
        trailing=trailing,
        synonyms=tuple(synonyms.items()),
        currencies=tuple((symbol, unit, hundredth) for symbol, (unit, hundredth) in file.currencies.items()),
        scales=tuple(file.scales.items()),
        articles=frozenset(file.articles),
        joiners=frozenset(file.joiners),
        ordinals=tuple(file.ordinals.items()),
    )


@functools.cache
def shipped_match_vocabulary(language: str = "en-US") -> MatchVocabulary:
    """The shipped ``match_vocabulary.json`` for ``language``, loaded once per process (the turn
    and the transcriber's speculation key their words with it).

    Raises:
        ConfigurationInvalidError: the shipped file is not valid or has no such language.
    """
    return load_match_vocabulary(language)


def load_prompt(name: str) -> str:
    try:
        return (DATA / "prompts" / f"{name}.txt").read_text().strip()
    except OSError as exc:
        raise ConfigurationInvalidError(f"prompt {name}: {exc}") from exc


__all__ = [
    "PriceMissingError",
    "check_prices_cover",
    "load_end_of_turn",
    "load_envelope",
    "load_match_vocabulary",
    "load_prices",
    "load_prompt",
    "load_tiers",
    "shipped_end_of_turn",
    "shipped_match_vocabulary",
]
