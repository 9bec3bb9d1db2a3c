"""SSML for Amazon Connect's text-to-speech (Amazon Polly): escaped text inside ``<speak>``."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.domain.conversation import SpeechPart
from chalicelib.domain.phrases import say_tokens

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
_SAY_AS = frozenset({"digits", "characters", "telephone", "date", "cardinal", "ordinal", "spell-out"})


def escape(text: str) -> str:
    """Escape the five XML special characters, so caller- or model-made text cannot break out."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def render_ssml(parts: Iterable[SpeechPart]) -> str:
    """The reply as one ``<speak>`` document; unknown ``say_as`` values are spoken plainly, and
    a caller-data token as what it stands for (``phrases.say_tokens``)."""
    body: list[str] = []
    for part in parts:
        if part.say_as in _SAY_AS:
            body.append(f'<say-as interpret-as="{part.say_as}">{escape(say_tokens(part.text))}</say-as>')
        else:
            body.append(escape(say_tokens(part.text)))
    return "<speak>" + "".join(body) + "</speak>"
