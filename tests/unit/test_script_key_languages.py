"""``sim.scripted_model.script_key`` on Spanish words: letters of any language kept (NFC,
case-folded), Spanish number, ordinal and month words left out as English ones are; English keys
as they were."""

from __future__ import annotations

import re
import unicodedata

import pytest

from sim.calls import call_files, load_call
from sim.scripted_model import _UNKEYED_BY_LANGUAGE, script_key
from tests.conftest import ROOT


def ascii_key(text: str) -> str:
    """The key as it was before it read other languages: ``[a-z']`` words, English numbers out."""
    words = re.sub(r"\[[a-z][a-z_]*\]", " ", re.sub(r"_\d+\]", "]", text.lower()))
    return " ".join(w for w in re.findall(r"[a-z']+", words) if w.strip("'") not in _UNKEYED_BY_LANGUAGE["en"])


def test_accented_words_stay_whole() -> None:
    assert script_key("¿Abren el sábado?") == "abren el sábado"
    assert script_key("el número de cuenta") == "el número de cuenta"
    assert script_key("mañana, por favor") == "mañana por favor"


def test_case_and_unicode_normalisation_do_not_change_the_key() -> None:
    decomposed = unicodedata.normalize("NFD", "SÁBADO número")
    assert decomposed != "SÁBADO número"
    assert script_key(decomposed) == script_key("sábado número") == "sábado número"


def test_a_missing_accent_is_another_word() -> None:
    # Transcribe drops accents at times; the recorded words are the key, as they are in English.
    assert script_key("cuanto debo") != script_key("cuánto debo")


@pytest.mark.parametrize(
    ("said", "key"),
    [
        ("mi cuenta es cuatro cuatro ocho uno dos nueve", "mi cuenta es"),
        ("cuarenta y cuatro, ochenta y uno, veintinueve", "y y"),
        ("dos cinco ocho o o uno tres seis", ""),
        ("pagué el quince de marzo, el dieciséis no", "pagué el de el no"),
        ("el dieciseis de julio", "el de"),
        ("me cobraron ciento diecinueve noventa y nueve", "me cobraron y"),
        ("doble dos, 4481", ""),
    ],
)
def test_spanish_numbers_are_left_out(said: str, key: str) -> None:
    assert script_key(said) == key


def test_a_spanish_number_that_is_an_english_word_stays() -> None:
    assert script_key("I called once already") == "i called once already"


def test_a_redacted_spanish_number_has_the_key_of_the_words() -> None:
    assert script_key("mi tarjeta es cuatro uno uno uno") == script_key("mi tarjeta es [CARD_1]")


def test_every_english_recorded_key_is_what_it_was() -> None:
    calls = [load_call(p) for p in call_files([str(ROOT / "events" / "calls")])]
    # The English calls' words (es-06 starts in English and switches to Spanish: not an English call).
    words = [t.caller for c in calls if c.language == "en-US" and not c.call.startswith("es-") for t in c.turns]
    assert len(words) > 50
    assert [script_key(w) for w in words] == [ascii_key(w) for w in words]
