from __future__ import annotations

from chalicelib.domain.conversation import SpeechPart
from chalicelib.domain.ssml import render_ssml


def test_text_is_escaped_inside_speak() -> None:
    ssml = render_ssml([SpeechPart('Tom & Jerry <said> "hi" it\'s')])
    assert ssml == "<speak>Tom &amp; Jerry &lt;said&gt; &quot;hi&quot; it&apos;s</speak>"


def test_digits_are_wrapped_in_say_as() -> None:
    ssml = render_ssml([SpeechPart("I heard "), SpeechPart("4471", say_as="digits")])
    assert ssml == '<speak>I heard <say-as interpret-as="digits">4471</say-as></speak>'


def test_unknown_say_as_is_spoken_plainly() -> None:
    assert render_ssml([SpeechPart("x", say_as='digits" onload="')]) == "<speak>x</speak>"
