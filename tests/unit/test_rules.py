"""Tier-0 rules on words as callers say them."""

from __future__ import annotations

import pytest

from chalicelib.domain.rules import Intent, classify, extract_digits, normalize
from tests.languages import EN, ES


@pytest.mark.parametrize(
    ("utterance", "intent"),
    [
        ("agent. AGENT!", Intent.AGENT),
        ("can I speak to a real person please", Intent.AGENT),
        ("no I want a representative", Intent.AGENT),
        ("um hi, yeah, hello", Intent.GREETING),
        ("Hello?", Intent.GREETING),
        ("good morning", Intent.GREETING),
        ("yes that's right", Intent.YES),
        ("uh huh", Intent.YES),
        ("Mm-hmm.", Intent.YES),
        ("yeah please", Intent.YES),
        ("nope", Intent.NO),
        ("no, that's not right", Intent.NO),
        ("sorry, what was that?", Intent.REPEAT),
        ("can you repeat that", Intent.REPEAT),
        ("no, that's all, bye", Intent.GOODBYE),
        ("that's it, have a good day", Intent.GOODBYE),
        ("okay thank you", Intent.THANKS),
        ("I need to change the address on my account", Intent.UNKNOWN),
        ("hi I need help with my bill", Intent.UNKNOWN),
        ("I was charged forty dollars twice", Intent.UNKNOWN),
    ],
)
def test_classify_recognises_intent(utterance: str, intent: Intent) -> None:
    assert classify(utterance, EN.rules).intent is intent


@pytest.mark.parametrize(
    ("utterance", "digits"),
    [
        ("my account number is 5 5 1 2 0 9", "551209"),
        ("four four seven one nine", "44719"),
        ("uh it's double five oh nine one", "55091"),
        ("triple seven two one", "777 21".replace(" ", "")),
        ("1234 5678", "12345678"),
    ],
)
def test_digits_read_out_are_collected_in_order(utterance: str, digits: str) -> None:
    heard = classify(utterance, EN.rules)
    assert heard.intent is Intent.ACCOUNT_DIGITS
    assert heard.digits == digits


def test_a_number_restated_in_full_after_a_correction_is_taken_from_the_restatement() -> None:
    heard = classify("sure it's four four seven, no sorry, four four eight one two nine", EN.rules)
    assert (heard.intent, heard.digits) == (Intent.ACCOUNT_DIGITS, "448129")


def test_a_partial_correction_of_a_number_is_left_to_a_model() -> None:
    assert classify("four four seven one, no wait, the last one is a two", EN.rules).intent is Intent.UNKNOWN


@pytest.mark.parametrize(
    "utterance", ["my zip code is nine four one oh three", "order number four four seven one nine two, where is it",
                  "you can reach me at five five five oh one one nine", "the last four are oh eight one five"],
)  # fmt: skip
def test_numbers_that_are_not_the_account_number_are_left_to_a_model(utterance: str) -> None:
    assert classify(utterance, EN.rules).intent is Intent.UNKNOWN


@pytest.mark.parametrize(
    "utterance", ["yes, and also send it by email", "yeah what's my due date", "no, the other one"]
)
def test_yes_or_no_with_more_content_is_not_a_bare_answer(utterance: str) -> None:
    assert classify(utterance, EN.rules).intent is Intent.UNKNOWN


def test_a_short_number_in_a_sentence_is_not_an_account_number() -> None:
    assert classify("I was charged 40 dollars on 3 bills", EN.rules).intent is Intent.UNKNOWN


def test_asking_for_an_agent_wins_over_digits() -> None:
    assert classify("4 4 7 1 just give me an agent", EN.rules).intent is Intent.AGENT


def test_normalize_drops_hesitations_and_punctuation() -> None:
    assert normalize("Um, uh... HELLO?!  there", EN.rules) == "hello there"


def test_correction_without_new_digits_keeps_the_first_ones() -> None:
    assert extract_digits("four four seven one sorry", EN.rules) == "4471"


def test_empty_words_are_unknown() -> None:
    assert classify("  ...  ", EN.rules).intent is Intent.UNKNOWN


def test_a_number_said_in_tens_is_left_to_a_model_and_a_word_with_digits_is_no_number() -> None:
    assert classify("my account number is forty four seventy one", EN.rules).intent is Intent.UNKNOWN
    assert extract_digits("forty four seventy one", EN.rules) == "41"  # only the digits said one by one
    assert extract_digits("order ab1234 please", EN.rules) == ""


@pytest.mark.parametrize(
    ("utterance", "intent"),
    [
        ("agente", Intent.AGENT),
        ("pásame con alguien, por favor", Intent.AGENT),
        ("¿me comunica con un representante?", Intent.AGENT),
        ("alguien abrió una línea a mi nombre", Intent.UNKNOWN),  # "alguien" only after "con"
        ("quiero hablar del cobro de más", Intent.UNKNOWN),  # "hablar con" is the cue, not "hablar"
        ("hola", Intent.GREETING),
        ("¿bueno?", Intent.GREETING),
        ("aló, ¿me escucha?", Intent.GREETING),
        ("sí", Intent.YES),
        ("si", Intent.YES),  # Transcribe drops the accent
        ("así es", Intent.YES),
        ("ajá", Intent.YES),
        ("no, no es", Intent.NO),  # an ordinary denial, not a correction
        ("no, ese no es", Intent.NO),
        ("¿me lo repite?", Intent.REPEAT),
        ("¿cómo?", Intent.REPEAT),
        ("¿cómo agrego a alguien a mi plan?", Intent.UNKNOWN),
        ("eso es todo, gracias", Intent.GOODBYE),
        ("no, nada más", Intent.GOODBYE),
        ("sí soy yo, nada más quiero saber mi balance", Intent.UNKNOWN),  # "nada más" is "just" here
        ("muy amable, gracias", Intent.THANKS),
        ("si no me lo arreglan hoy voy a llamar a mi abogado", Intent.UNKNOWN),  # "si" is "if"
    ],
)
def test_spanish_intents(utterance: str, intent: Intent) -> None:
    assert classify(utterance, ES.rules).intent is intent


@pytest.mark.parametrize(
    ("utterance", "digits"),
    [
        ("cuatro cuatro ocho uno dos nueve", "448129"),
        ("número de cliente cinco uno cinco doble dos ocho", "515228"),
        ("dos cinco ocho o o uno tres seis", "25800136"),  # "o" is zero between digit words
        ("cinco cinco siete, no, perdón, cinco cinco seis uno dos ocho", "556128"),
        ("este, seis uno nueve, nueve cuatro cero, cero dos", "61994002"),
        ("cuarenta y cuatro, ochenta y uno, veintinueve", "448129"),  # read in pairs
    ],
)
def test_spanish_digits_read_out(utterance: str, digits: str) -> None:
    heard = classify(utterance, ES.rules)
    assert (heard.intent, heard.digits) == (Intent.ACCOUNT_DIGITS, digits)


@pytest.mark.parametrize(
    "utterance",
    [
        "¿mi pago vence el quince o el veinte?",
        "¿están abiertos hasta las ocho o hasta las siete?",
        "mi nuevo código postal es seis cero seis uno cuatro",
        "cinco cinco siete, no, perdón, el último es ocho",  # a partial correction: a model's
    ],
)
def test_spanish_numbers_that_are_no_account_number_are_left_to_a_model(utterance: str) -> None:
    assert classify(utterance, ES.rules).intent is Intent.UNKNOWN


@pytest.mark.parametrize(
    ("pack", "utterance", "locale"),
    [
        ("en", "um can we do this in spanish?", "es-US"),
        ("en", "español por favor", "es-US"),
        ("es", "¿habla español?", "es-US"),
        ("es", "¿hay alguien que hable español?", "es-US"),
        ("es", "¿me puede atender en inglés?", "en-US"),
        ("es", "in english please", "en-US"),
    ],
)
def test_a_request_for_a_language_names_its_locale(pack: str, utterance: str, locale: str) -> None:
    heard = classify(utterance, (EN if pack == "en" else ES).rules)
    assert (heard.intent, heard.language, heard.rule) == (Intent.LANGUAGE, locale, "language_request")


def test_spanish_accents_do_not_matter() -> None:
    assert normalize("¿Adiós, SEÑORA?", ES.rules) == "adios senora"
    assert normalize("¿Adiós?", EN.rules) == "adiós"  # English keeps them
