"""SSML for Amazon Connect's text-to-speech (Amazon Polly): escaped text inside ``<speak>``.

Given the call's language, the text is inside ``<lang xml:lang="es-US">`` (Polly's ``<lang>``
tag, available with neural voices): the voice reads it as that language even when the flow's
voice is another's (a Lex session keeps the locale it started in), and caller-data tokens are
spoken in that language's words.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.domain.conversation import SpeechPart
from chalicelib.domain.language import Language
from chalicelib.domain.phrases import ENGLISH, say_tokens

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
_SAY_AS = frozenset({"digits", "characters", "telephone", "date", "cardinal", "ordinal", "spell-out"})


def escape(text: str) -> str:
    """Escape the five XML special characters, so caller- or model-made text cannot break out."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def render_ssml(parts: Iterable[SpeechPart], language: Language | None = None) -> str:
    """The reply as one ``<speak>`` document; unknown ``say_as`` values are spoken plainly, and
    a caller-data token as what it stands for (``phrases.say_tokens``).

    ``language``: the call's; its text is marked with it (``<lang xml:lang="es-US">``). None:
    unmarked, tokens in English.

    Example:
        >>> from chalicelib.domain.language import ENGLISH_US
        >>> render_ssml((SpeechPart("Hello"),), ENGLISH_US)
        '<speak><lang xml:lang="en-US">Hello</lang></speak>'
    """
    says = language.phrases if language is not None else ENGLISH
    body: list[str] = []
    for part in parts:
        if part.say_as in _SAY_AS:
            body.append(f'<say-as interpret-as="{part.say_as}">{escape(say_tokens(part.text, says))}</say-as>')
        else:
            body.append(escape(say_tokens(part.text, says)))
    text = "".join(body)
    if language is not None:
        text = f'<lang xml:lang="{escape(language.locale)}">{text}</lang>'
    return "<speak>" + text + "</speak>"
