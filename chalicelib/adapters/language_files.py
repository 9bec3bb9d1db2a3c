"""The languages the stage speaks, one folder each under ``chalicelib/data/languages/<locale>/``,
validated by pydantic into one ``Language`` per folder: its lines (``phrases.json``), name, voice
and function words (``language.json``), the tier-0 rules' and the router's words (``rules.json``,
``router.json``) and the agent summary (``summary.json``). Adding a folder adds a language. Read
once per container (by ``bootstrap``), never during a turn."""

from __future__ import annotations

import functools
import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.domain.agent_summary import SUMMARY_PLACEHOLDERS, SUMMARY_REASONS, SUMMARY_SENTIMENTS, SummaryTemplate
from chalicelib.domain.handover import TOPIC_PATTERNS
from chalicelib.domain.language import Language, Languages
from chalicelib.domain.language_words import LanguageWords, RouterWords, RulesWords, fold_accents
from chalicelib.domain.phrases import Phrases
from chalicelib.domain.spoken_numbers import DigitWords
from chalicelib.errors import ConfigurationInvalidError

_LOCALE = r"^[a-z]{2,3}-[A-Z]{2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Line = Annotated[str, Field(min_length=1)]
_TOKEN_LABEL = r"^[A-Z][A-Z_]*$"  # noqa: S105 - a caller-data token's label, no secret


class _PhrasesFile(_Strict):
    comment: str = Field(default="", alias="_comment")
    greeting: _Line
    anything_else: _Line
    welcome: _Line
    handover: _Line
    goodbye: _Line
    cannot_help_yet: _Line
    not_understood_yes_no: _Line
    ask_account_again: _Line
    account_noted: _Line
    what_else: _Line
    say_account_digits: _Line
    heard_before: _Line
    heard_after: _Line
    fallback_say_again: _Line
    fallback_trouble: _Line
    fallback_model: _Line
    holding_line: _Line
    tool_refused: _Line
    language_switched: _Line
    tokens: dict[Annotated[str, Field(pattern=_TOKEN_LABEL)], _Line] = Field(min_length=1)
    asks_anything_else: list[_Line] = Field(min_length=1)


class _LanguageFile(_Strict):
    comment: str = Field(default="", alias="_comment")
    name: _Line
    voice: Annotated[str, Field(pattern=r"^[A-Z][A-Za-z-]+$")]
    engine: Literal["standard", "neural", "long-form", "generative"] = "neural"
    prompt_line: str = ""
    function_words: list[Annotated[str, Field(pattern=r"^[^\s\d]+$")]] = Field(min_length=3)


class _SummaryFile(_Strict):
    """``summary.json``: the words of the agent's summary (``domain/agent_summary.SummaryTemplate``)."""

    comment: str = Field(default="", alias="_comment")
    text: _Line
    name_unknown: _Line
    account: _Line
    nothing_asked: _Line
    turns: _Line
    one_turn: _Line | None = None
    tools: _Line
    no_tools: _Line
    model_trouble: _Line
    handed_over: _Line
    about_topic: _Line
    default_next_step: _Line
    reasons: dict[str, _Line]
    topics: dict[str, _Line]
    sentiments: dict[str, _Line]
    next_steps: dict[str, _Line]


LANGUAGES = Path(__file__).resolve().parent.parent / "data" / "languages"
LANGUAGE_FILE, PHRASES_FILE, SUMMARY_FILE = "language.json", "phrases.json", "summary.json"


def _summary_template(where: str, file: _SummaryFile) -> SummaryTemplate:
    """``file`` as the domain's template, checked: every line names the placeholders it must
    and no other, and every reason, topic and sentiment the domain names has its words.

    Raises:
        ConfigurationInvalidError: a line has a placeholder it may not have, lacks one it must
            have, or is no template (an unpaired brace); a reason, topic, sentiment or next step
            is missing or is not one the domain names.
    """
    for name, (required, optional) in SUMMARY_PLACEHOLDERS.items():
        line = getattr(file, name)
        if line is None:
            continue
        try:
            parsed = [(field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(line)
                      if field is not None]  # fmt: skip
        except ValueError as exc:
            raise ConfigurationInvalidError(f"{where}: {name}: {exc}") from exc
        named = {field for field, _, _ in parsed}
        if any(spec or conversion for _, spec, conversion in parsed):
            raise ConfigurationInvalidError(f"{where}: {name}: a placeholder is a bare {{name}}, no format or !")
        unknown = named - required - optional
        if unknown:
            raise ConfigurationInvalidError(f"{where}: {name}: unknown placeholders {sorted(unknown)} "
                                            f"(it may name {sorted(required | optional)})")  # fmt: skip
        if required - named:
            raise ConfigurationInvalidError(f"{where}: {name}: missing placeholders {sorted(required - named)}")
    keyed = {"reasons": set(SUMMARY_REASONS), "topics": set(TOPIC_PATTERNS), "sentiments": set(SUMMARY_SENTIMENTS),
             "next_steps": set(SUMMARY_REASONS) | set(TOPIC_PATTERNS)}  # fmt: skip
    for name, wanted in keyed.items():
        given = set(getattr(file, name))
        if wanted - given:
            raise ConfigurationInvalidError(f"{where}: {name}: missing {', '.join(sorted(wanted - given))}")
        if given - wanted:
            raise ConfigurationInvalidError(f"{where}: {name}: not one the domain names: "
                                            f"{', '.join(sorted(given - wanted))}")  # fmt: skip
    values: dict[str, Any] = file.model_dump(exclude={"comment", *keyed})
    values.update({name: tuple(sorted(getattr(file, name).items())) for name in keyed})
    return SummaryTemplate(**values)


def load_language(folder: Path) -> Language:
    """One language from its folder (``data/languages/es-US/``): ``language.json`` (name, Polly
    voice, the model's instruction, function words), ``phrases.json`` (every line the
    assistant says itself, and how each caller-data token is spoken), ``summary.json`` (the
    words of the summary an agent reads on a handover), ``rules.json`` and ``router.json``.

    Raises:
        ConfigurationInvalidError: the folder is no locale (``es-US``), a file is missing or not
            valid, a line is missing or empty, a function word is not lower case, or the
            summary's template is not valid (``_summary_template``).
    """
    locale = folder.name
    if not re.fullmatch(_LOCALE, locale):
        raise ConfigurationInvalidError(f"languages/{locale}: the folder is not named as a locale (es-US)")
    try:
        about = _LanguageFile.model_validate_json((folder / LANGUAGE_FILE).read_text(encoding="utf-8"))
        lines = _PhrasesFile.model_validate_json((folder / PHRASES_FILE).read_text(encoding="utf-8"))
        summary_file = _SummaryFile.model_validate_json((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"languages/{locale}: {exc}") from exc
    summary = _summary_template(f"languages/{locale}/{SUMMARY_FILE}", summary_file)
    upper = sorted(w for w in about.function_words if w != w.lower())
    if upper:
        raise ConfigurationInvalidError(f"languages/{locale}: function words must be lower case: {', '.join(upper)}")
    fields = lines.model_dump(exclude={"comment", "tokens", "asks_anything_else"})
    phrases = Phrases(**fields, tokens=tuple(sorted(lines.tokens.items())),
                      asks_anything_else=tuple(lines.asks_anything_else))  # fmt: skip
    words = language_words_at(locale, folder.parent)
    return Language(locale=locale, name=about.name, voice=about.voice, phrases=phrases, engine=about.engine,
                    prompt_line=about.prompt_line, function_words=frozenset(about.function_words),
                    words=words, summary=summary)  # fmt: skip


def load_languages(root: Path = LANGUAGES, default: str = "en-US") -> Languages:
    """Every language the stage speaks: each folder under ``root`` is one (adding ``fr-CA`` is
    adding ``data/languages/fr-CA/``, no code).

    Example:
        >>> load_languages().get("es_US").voice
        'Lupe'

    Raises:
        ConfigurationInvalidError: a language is not valid (``load_language``), ``default`` is not
            one of them, or a language does not say every caller-data token the default says.
    """
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError as exc:
        raise ConfigurationInvalidError(f"languages: {exc}") from exc
    languages = {language.locale: language for language in map(load_language, folders)}
    if default not in languages:
        raise ConfigurationInvalidError(f"languages: the default language {default} has no folder in {root.name}/")
    wanted = {label for label, _ in languages[default].phrases.tokens}
    for locale, language in sorted(languages.items()):
        missing = sorted(wanted - {label for label, _ in language.phrases.tokens})
        if missing:
            raise ConfigurationInvalidError(f"languages/{locale}: tokens {', '.join(missing)} are not spoken")
    return Languages(default=default, by_locale=languages)


@functools.cache
def shipped_languages(default: str = "en-US") -> Languages:
    """The shipped ``data/languages/``, loaded once per process (the turn's lines, and the safe
    answer's when the turn failed).

    Raises:
        ConfigurationInvalidError: a shipped language is not valid (not cached: read again).
    """
    return load_languages(LANGUAGES, default)


# A pattern is one string, or a list of strings joined end to end (long patterns read better in lines).
_PatternText = (
    Annotated[str, Field(min_length=1)] | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
)
_Words = list[Annotated[str, Field(pattern=r"^[^\s\d]+(?: [^\s\d]+)*$")]]
_DigitWord = Annotated[str, Field(pattern=r"^[^\W\d_]+$")]


class _NumbersFile(_Strict):
    units: dict[_DigitWord, Annotated[int, Field(ge=0, le=9)]] = Field(min_length=10)
    zero_between: list[_DigitWord] = Field(default_factory=list)
    repeaters: dict[_DigitWord, Annotated[int, Field(ge=2, le=4)]] = Field(default_factory=dict)
    teens: dict[_DigitWord, Annotated[int, Field(ge=10, le=99)]] = Field(default_factory=dict)
    tens: dict[_DigitWord, Annotated[int, Field(ge=20, le=90, multiple_of=10)]] = Field(default_factory=dict)
    joiners: list[_DigitWord] = Field(default_factory=list)
    whole_numbers: bool = False
    fillers: list[_DigitWord] = Field(default_factory=list)
    corrections: _Words = Field(default_factory=list)  # "no sorry": before a number read again


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    comment: str = Field(default="", alias="_comment")
    fold_accents: bool = False
    fillers: _PatternText
    correction: _PatternText
    agent: _PatternText
    goodbye: _PatternText
    repeat: _PatternText
    yes_words: _Words = Field(min_length=1)
    no_words: _Words = Field(min_length=1)
    answer_filler: _Words
    yes_phrases: _Words = Field(default_factory=list)
    no_phrase: _PatternText
    greeting_cues: _Words = Field(min_length=1)
    greeting_words: _Words
    line_check: _PatternText
    assent_sounds: _PatternText
    assent_word: str = Field(min_length=1)
    thanks: _PatternText
    polite_tail: _PatternText
    account_cues: _Words
    other_numbers: _PatternText
    language_requests: dict[Annotated[str, Field(pattern=_LOCALE)], _PatternText] = Field(min_length=1)
    numbers: _NumbersFile


class _RouterFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    comment: str = Field(default="", alias="_comment")
    high_stakes: _PatternText
    negative: _PatternText
    problem: _PatternText
    correction: _PatternText
    multi: _PatternText
    request_cues: _PatternText
    amount_or_date: _PatternText
    question_words: _PatternText
    denials: _Words = Field(min_length=1)


_RULES_PATTERNS = ("fillers", "correction", "agent", "goodbye", "repeat", "no_phrase", "line_check", "assent_sounds",
                   "thanks", "polite_tail", "other_numbers")  # fmt: skip
_RULES_WORD_LISTS = ("yes_words", "no_words", "answer_filler", "yes_phrases", "greeting_cues", "greeting_words",
                     "account_cues")  # fmt: skip
_ROUTER_PATTERNS = ("high_stakes", "negative", "problem", "correction", "multi", "request_cues", "amount_or_date",
                    "question_words")  # fmt: skip


def _compiled(where: str, name: str, text: str | list[str], *, fold: bool) -> re.Pattern[str]:
    pattern = text if isinstance(text, str) else "".join(text)
    if fold:  # the text is compared without accents: so is the pattern ("adiós" finds "adios")
        pattern = fold_accents(pattern)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigurationInvalidError(f"{where}: {name}: {exc}") from exc


def _rules_words(where: str, file: _RulesFile) -> RulesWords:
    fold = file.fold_accents
    patterns = {name: _compiled(where, name, getattr(file, name), fold=fold) for name in _RULES_PATTERNS}
    lists = {name: frozenset(_folded(getattr(file, name), fold)) for name in _RULES_WORD_LISTS}
    upper = sorted({w for words in lists.values() for w in words if w != w.lower()})
    if upper:  # the text is lower-cased: such a word would never match
        raise ConfigurationInvalidError(f"{where}: words must be lower case: {', '.join(upper)}")
    assent_word = _folded([file.assent_word], fold)[0]
    if assent_word not in lists["yes_words"]:
        raise ConfigurationInvalidError(f"{where}: assent_word {file.assent_word!r} is not one of yes_words")
    answers = lists["yes_words"] | lists["no_words"] | lists["answer_filler"]
    unreachable = sorted(p for p in lists["yes_phrases"] if not set(p.split()) <= answers)
    if unreachable:  # a yes or no answer is made only of those words (``rules.classify``)
        raise ConfigurationInvalidError(f"{where}: yes_phrases with a word that is no answer word: {unreachable}")
    n = file.numbers
    if sorted(set(n.units.values())) != list(range(10)):
        raise ConfigurationInvalidError(f"{where}: numbers.units must name every digit 0 to 9")
    numbers = DigitWords(units=_folded_keys(n.units, fold), zero_between=frozenset(_folded(n.zero_between, fold)),
                         repeaters=_folded_keys(n.repeaters, fold), teens=_folded_keys(n.teens, fold),
                         tens=_folded_keys(n.tens, fold), joiners=frozenset(_folded(n.joiners, fold)),
                         whole_numbers=n.whole_numbers, fillers=frozenset(_folded(n.fillers, fold)),
                         corrections=tuple(tuple(p.split()) for p in _folded(n.corrections, fold)))  # fmt: skip
    requests = tuple((locale, _compiled(where, f"language_requests.{locale}", text, fold=fold))
                     for locale, text in file.language_requests.items())  # fmt: skip
    named: dict[str, Any] = {**patterns, **lists}  # one mapping: mypy cannot tell each ** from the other
    return RulesWords(fold_accents=fold, assent_word=assent_word, language_requests=requests,
                      numbers=numbers, **named)  # fmt: skip


def _router_words(where: str, file: _RouterFile, *, fold: bool) -> RouterWords:
    patterns = {name: _compiled(where, name, getattr(file, name), fold=fold) for name in _ROUTER_PATTERNS}
    return RouterWords(denials=frozenset(_folded(file.denials, fold)), **patterns)


def _folded(words: list[str], fold: bool) -> list[str]:
    return [fold_accents(w) for w in words] if fold else list(words)


def _folded_keys(values: dict[str, int], fold: bool) -> dict[str, int]:
    return {fold_accents(w) if fold else w: v for w, v in values.items()}


def load_language_words(locale: str, root: Path = LANGUAGES) -> LanguageWords:
    """The words of ``locale`` the tier-0 rules and the router read: ``<root>/<locale>/rules.json``
    and ``router.json``. Lex's ``es_US`` is ``es-US``.

    Example:
        >>> load_language_words("en-US").rules.agent.search("agent please") is not None
        True

    Raises:
        ConfigurationInvalidError: ``locale`` is no locale or has no folder, a file is missing or
            not valid, a pattern does not compile, a word is not lower case, the assent word is no
            yes word, a yes phrase holds a word that is no answer word, a digit has no word.
    """
    code = locale.replace("_", "-")
    if not re.match(_LOCALE, code):
        raise ConfigurationInvalidError(f"languages: {locale!r} is no locale (like en-US)")
    folder = root / code
    try:
        rules = _RulesFile.model_validate_json((folder / "rules.json").read_text(encoding="utf-8"))
        router = _RouterFile.model_validate_json((folder / "router.json").read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"languages/{code}: {exc}") from exc
    # The router reads the rules' normalized text: it folds accents when the rules do.
    fold = rules.fold_accents
    return LanguageWords(code, _rules_words(f"{code}/rules.json", rules),
                         _router_words(f"{code}/router.json", router, fold=fold))  # fmt: skip


def language_locales(root: Path = LANGUAGES) -> tuple[str, ...]:
    """The locales that have a folder under ``root`` (each folder is a language), sorted."""
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and re.match(_LOCALE, p.name)))


def load_all_language_words(root: Path = LANGUAGES) -> dict[str, LanguageWords]:
    """Every language under ``root``, by locale: adding a folder adds a language.

    Raises:
        ConfigurationInvalidError: as ``load_language_words``, for any of them.
    """
    return {locale: load_language_words(locale, root) for locale in language_locales(root)}


@functools.cache
def shipped_language_words(locale: str = "en-US") -> LanguageWords:
    """The shipped words of ``locale``, loaded once per process (the turn's and the speculation's).

    Raises:
        ConfigurationInvalidError: the shipped files are not valid or the language has none.
    """
    return load_language_words(locale, LANGUAGES)


def language_words_at(locale: str, root: Path) -> LanguageWords:
    """The words of ``locale`` under ``root``: the shipped ones are compiled once per process
    (the turn's languages and the redactor read the same files), any other root's afresh."""
    return shipped_language_words(locale) if root == LANGUAGES else load_language_words(locale, root)


__all__ = [
    "LANGUAGES",
    "language_locales",
    "language_words_at",
    "load_all_language_words",
    "load_language",
    "load_language_words",
    "load_languages",
    "shipped_language_words",
    "shipped_languages",
]
