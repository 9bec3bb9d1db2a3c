"""The contact's language: which one a turn is answered in, and when the call changes language.

A call's language is decided on its first turn from what the event says (the flow's
``switchboard_language`` attribute, else Connect's ``LanguageCode`` or Lex's ``localeId``): a
supported one is kept, a missing one gives the stage's default, an unsupported one gives the
default with a named reason; never an error. It is kept on the session from then on, and changes
only when the caller asks for another language (``requested``: the rules' language intent) or
plainly speaks one for a whole turn (``detect_language``). The event's language of a later turn is
not read again: Lex's locale cannot change mid-session, and Connect's changes only when the flow
follows what we answered.

The languages are data (``data/languages/<locale>/``, ``language_files.load_languages``): each one's
lines (``phrases.Phrases``), its Polly voice, the line that tells the model to answer in it, its
function words, and the words of the summary an agent reads on a handover
(``agent_summary.SummaryTemplate``). Everything here is pure.

Locales are written the BCP 47 way, ``es-US``: Lex says ``es_US``, Connect and Transcribe ``es-US``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from chalicelib.domain.agent_summary import SummaryTemplate
from chalicelib.domain.language_words import LanguageWords
from chalicelib.domain.phrases import ENGLISH, Phrases

FROM_EVENT = "language_from_event"
DEFAULT = "language_default"
KEPT = "language_kept"
UNSUPPORTED = "language_unsupported"  # + ":<code>"
SWITCH_REQUESTED = "language_switch:requested"  # + ":<locale>"
SWITCH_DETECTED = "language_switch:detected"  # + ":<locale>"

MIN_FUNCTION_WORDS = 3  # a turn with fewer known function words never switches
MIN_SHARE = 0.75  # of its known function words, the language's share

_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|\d{3}))?$")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def normalise_locale(value: object) -> str | None:
    """``value`` as a BCP 47 locale (``es-US``), a bare language (``es``), or None when it is no
    locale at all (missing, empty, ``"string"``, not text).

    Example:
        >>> [normalise_locale(v) for v in ("es_US", "es-US", "es-us", " ES_us ", "es", "", None, "string")]
        ['es-US', 'es-US', 'es-US', 'es-US', 'es', None, None, None]
    """
    if not isinstance(value, str):
        return None
    found = _LOCALE.match(value.strip())
    if found is None:
        return None
    language, region = found.group(1).lower(), found.group(2)
    return f"{language}-{region.upper()}" if region else language


def first_locale(*values: str | None) -> str | None:
    """The first of ``values`` that is a locale (the flow's attribute before the contact's
    language: an odd attribute does not hide a good ``LanguageCode``); else the first given.

    Example:
        >>> first_locale("spanish please", "es-US"), first_locale(None, "fr_FR"), first_locale("", None)
        ('es-US', 'fr_FR', None)
    """
    found = next((v for v in values if normalise_locale(v) is not None), None)
    return found if found is not None else next((v for v in values if v), None)


@dataclass(frozen=True)
class LanguageChoice:
    """The language a turn is answered in and why (one of the reasons above)."""

    locale: str
    reason: str

    @property
    def recorded(self) -> tuple[str, ...]:
        """The reasons the turn keeps: a switch or an unsupported language (a kept language,
        the event's or the default, leaves the turn's reasons as they were)."""
        return (self.reason,) if self.reason.startswith(("language_switch:", UNSUPPORTED)) else ()


def resolve_language(requested: object, supported: Iterable[str], default: str) -> LanguageChoice:
    """The language to answer in when the event asks for ``requested``.

    A supported locale is kept whatever its spelling; a bare language (``es``) is the first
    supported locale of it; a missing or shapeless value gives ``default``; an unsupported one
    gives ``default`` with the reason ``language_unsupported:<code>``.

    Example:
        >>> resolve_language("es_US", ("en-US", "es-US"), "en-US")
        LanguageChoice(locale='es-US', reason='language_from_event')
        >>> resolve_language("fr-FR", ("en-US", "es-US"), "en-US")
        LanguageChoice(locale='en-US', reason='language_unsupported:fr-FR')
    """
    known = tuple(supported)
    locale = normalise_locale(requested)
    if locale is None:
        return LanguageChoice(default, DEFAULT)
    if locale in known:
        return LanguageChoice(locale, FROM_EVENT)
    if "-" not in locale:
        same = next((k for k in known if k.split("-")[0] == locale), None)
        if same is not None:
            return LanguageChoice(same, FROM_EVENT)
    return LanguageChoice(default, f"{UNSUPPORTED}:{locale}")


def next_language(
    current: str, *, requested: object = None, detected: str | None = None, supported: Iterable[str]
) -> LanguageChoice:
    """The language of the call after this turn, now ``current``.

    ``requested``: the locale the caller asked for (the rules' language intent): a supported one
    switches (``language_switch:requested:<locale>``), an unsupported one keeps ``current``
    (``language_unsupported:<code>``). ``detected``: the language the caller spoke the whole
    turn in (``detect_language``): another supported one switches
    (``language_switch:detected:<locale>``). A request wins over a detection.

    Example:
        >>> next_language("en-US", detected="es-US", supported=("en-US", "es-US"))
        LanguageChoice(locale='es-US', reason='language_switch:detected:es-US')
    """
    known = tuple(supported)
    if requested is not None and normalise_locale(requested) is not None:
        asked = resolve_language(requested, known, current)
        if asked.reason != FROM_EVENT:
            return asked if asked.reason.startswith(UNSUPPORTED) else LanguageChoice(current, KEPT)
        if asked.locale != current:
            return LanguageChoice(asked.locale, f"{SWITCH_REQUESTED}:{asked.locale}")
        return LanguageChoice(current, KEPT)
    if detected is not None and detected != current and detected in known:
        return LanguageChoice(detected, f"{SWITCH_DETECTED}:{detected}")
    return LanguageChoice(current, KEPT)


@dataclass(frozen=True)
class LanguageProfile:
    """A language's very common function words ("the", "my", "is"), by which a turn's language
    is recognised; compared lower case and without accents ("cómo" is "como")."""

    locale: str
    function_words: frozenset[str]


def fold(word: str) -> str:
    """``word`` lower case and without accents: how function words are compared.

    Example:
        >>> fold("Cómo")
        'como'
    """
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def detect_language(
    text: str, profiles: Iterable[LanguageProfile], *, min_words: int = MIN_FUNCTION_WORDS, share: float = MIN_SHARE
) -> str | None:
    """The language ``text`` is plainly spoken in, or None.

    A word that is a function word of several languages ("no", "a") counts for none. The text is
    language X when it has at least ``min_words`` known function words and at least ``share`` of
    them are X's; otherwise None: short answers ("sí", "ok"), digits and names never count.

    Example:
        >>> en = LanguageProfile("en-US", frozenset({"i", "my", "to", "the", "want"}))
        >>> es = LanguageProfile("es-US", frozenset({"quiero", "mi", "la", "pagar", "de"}))
        >>> detect_language("Quiero pagar la factura de mi casa", (en, es))
        'es-US'
        >>> detect_language("sí", (en, es)) is None
        True
    """
    owners = _owners(tuple(profiles))
    counts: dict[str, int] = {}
    for word in _WORD.findall(text):
        locale = owners.get(fold(word))
        if locale is not None:
            counts[locale] = counts.get(locale, 0) + 1
    total = sum(counts.values())
    if total < max(min_words, 1):
        return None
    best = max(sorted(counts), key=lambda locale: counts[locale])
    return best if counts[best] >= share * total else None


@functools.lru_cache(maxsize=8)
def _owners(profiles: tuple[LanguageProfile, ...]) -> dict[str, str]:
    """Each folded function word and the one language it belongs to (a word several languages
    list belongs to none). Cached: the stage's profiles are the same every turn."""
    owners: dict[str, set[str]] = {}
    for profile in profiles:
        for word in profile.function_words:
            owners.setdefault(fold(word), set()).add(profile.locale)
    return {word: next(iter(locales)) for word, locales in owners.items() if len(locales) == 1}


@dataclass(frozen=True)
class Language:
    """One language of the call: its lines, voice and model instruction, from data.

    ``voice`` is the Amazon Polly voice id the flow sets (``Lupe``); ``engine`` its engine
    (``neural``); ``prompt_line`` is added to the system prompt ("Answer in Spanish.").
    """

    locale: str
    name: str
    voice: str
    phrases: Phrases
    engine: str = "neural"
    prompt_line: str = ""
    function_words: frozenset[str] = frozenset()
    # What the tier-0 rules and the router read in this language (``rules.json``, ``router.json``
    # of its folder). Every shipped language has them (``language_files.load_language``); None only
    # for a language made in code (tests), whose turns read the words ``HandleTurn`` was given.
    words: LanguageWords | None = field(default=None, hash=False, compare=False)
    # The words of the summary an agent reads when a call in this language is handed over
    # (``summary.json``). Every shipped language has them; None only for a language made in code.
    summary: SummaryTemplate | None = field(default=None, hash=False, compare=False)

    @property
    def profile(self) -> LanguageProfile:
        return LanguageProfile(self.locale, self.function_words)

    def system_prompt(self, base: str) -> str:
        """``base`` with this language's instruction as its last line."""
        return f"{base}\n\n{self.prompt_line}" if self.prompt_line else base


ENGLISH_US = Language(locale="en-US", name="English", voice="Joanna", phrases=ENGLISH)


@dataclass(frozen=True)
class Languages:
    """The languages a stage speaks, and its default (the language of a call that says none).

    Example:
        >>> ONLY_ENGLISH.get("es-US").locale
        'en-US'
    """

    default: str
    by_locale: Mapping[str, Language] = field(hash=False)

    def __post_init__(self) -> None:
        if self.default not in self.by_locale:
            raise ValueError(f"the default language {self.default} is not one of {sorted(self.by_locale)}")

    @property
    def supported(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_locale))

    @property
    def profiles(self) -> tuple[LanguageProfile, ...]:
        return tuple(self.by_locale[locale].profile for locale in self.supported)

    def get(self, locale: str | None) -> Language:
        """The language ``locale`` names (any spelling), or the default's."""
        found = normalise_locale(locale)
        return self.by_locale.get(found or "", self.by_locale[self.default])

    def resolve(self, requested: object) -> LanguageChoice:
        return resolve_language(requested, self.supported, self.default)


ONLY_ENGLISH = Languages(default="en-US", by_locale={"en-US": ENGLISH_US})


def turn_language(
    session_language: str | None,
    event_language: object,
    utterance: str,
    languages: Languages,
    *,
    requested: object = None,
) -> LanguageChoice:
    """The language turn's reply is in, and the call's from then on.

    ``session_language`` None (the call's first turn, or a session stored before languages):
    the event's language, resolved; then the caller's request or the turn's words may switch it.

    Example:
        >>> turn_language(None, "es_US", "sí", ONLY_ENGLISH)
        LanguageChoice(locale='en-US', reason='language_unsupported:es-US')
    """
    if session_language is not None and session_language in languages.by_locale:
        first = LanguageChoice(session_language, KEPT)
    else:
        first = languages.resolve(event_language)
    detected = detect_language(utterance, languages.profiles) if len(languages.by_locale) > 1 else None
    switched = next_language(first.locale, requested=requested, detected=detected, supported=languages.supported)
    return first if switched.reason == KEPT else switched
