"""The speculation key: Transcribe's partial and Lex's final of the same request have one key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.data_files import DATA, load_match_vocabulary
from chalicelib.domain.words_key import NO_VOCABULARY, speculation_key
from chalicelib.errors import ConfigurationInvalidError

EN = load_match_vocabulary("en-US")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Words that are content whatever the language's vocabulary says: no filler, courtesy word,
# number, scale, currency or ordinal among them.
CONTENT = ("account", "balance", "bill", "close", "open", "card", "pay", "saturday", "my", "the", "is", "what", "time",
           "do", "you", "change", "address", "internet", "cancel", "why", "plan", "i", "need", "to")  # fmt: skip
content_words = st.lists(st.sampled_from(CONTENT), min_size=1, max_size=8)
digit_strings = st.text(alphabet="0123456789", min_size=2, max_size=10)
punctuation = st.sampled_from(["", ",", ".", "?", "!", " -", ";"])


def key(text: str) -> str:
    return speculation_key(text, EN)


def test_case_punctuation_hesitations_and_a_trailing_courtesy_word_do_not_count() -> None:
    assert key("Um, what time do you close? Thank you.") == key("what time do you close") == "what time do you close"
    assert key("yes please") == key("Yes.") == key("uh yes, okay then")


def test_digits_are_their_digits_however_they_were_written_or_read() -> None:
    assert key("my account is 4 4 8") == key("my account is four four eight") == key("my account is 448")
    assert key("it's five five oh nine") == key("it's 5509") == key("it's five five zero nine")
    assert key("4111-1111, 1111") == key("four one one one, one one one one one one one one")


def test_amounts_are_their_value_in_the_currencys_words() -> None:
    assert key("$40") == key("forty dollars") == key("40 dollars") == key("forty bucks")
    assert key("$42.50") == key("forty two dollars and fifty cents")
    assert key("a hundred and fifty on december first") == key("150 on December 1st")
    assert key("two thousand five hundred") == key("2,500")
    assert key("at 9:30") == key("at nine thirty")


def test_the_key_keeps_a_word_when_the_words_are_all_courtesy() -> None:
    assert key("thank you") == "thank you" and key("okay") == "okay"
    assert key("um") == ""  # nothing asked


def test_caller_data_tokens_are_kept_as_they_are() -> None:
    assert key("pay with [CARD_1]") != key("pay with [CARD_2]")


def test_without_a_vocabulary_only_case_punctuation_and_numbers_count() -> None:
    assert speculation_key("Um, account four four eight please", NO_VOCABULARY) == "um account 448 please"


@given(st.lists(st.one_of(st.sampled_from(CONTENT), st.sampled_from(DIGIT_WORDS), digit_strings,
                          st.sampled_from(sorted(EN.fillers)), st.sampled_from(["please", "thank you", "okay", "$40",
                                                                                "a hundred", "first", "9:30"])),
                min_size=1, max_size=12), st.lists(punctuation, min_size=12, max_size=12))  # fmt: skip
def test_the_key_of_a_key_is_itself(words: list[str], marks: list[str]) -> None:
    text = " ".join(f"{w}{m}" for w, m in zip(words, marks, strict=False))
    assert key(key(text)) == key(text)


@given(content_words, digit_strings, st.booleans())
def test_digits_said_as_words_or_numerals_have_one_key(before: list[str], digits: str, oh: bool) -> None:
    words = " ".join(("oh" if oh and d == "0" and 0 < i < len(digits) - 1 else DIGIT_WORDS[int(d)])
                     for i, d in enumerate(digits))  # fmt: skip
    spaced = " ".join(digits)
    lead = " ".join(before)
    assert key(f"{lead} {words}") == key(f"{lead} {digits}") == key(f"{lead} {spaced}")


@given(content_words, st.lists(st.sampled_from(sorted(EN.fillers)), max_size=3),
       st.sampled_from(["", " please", ", thank you", " okay", " thanks", " then", " now", " yeah"]))  # fmt: skip
def test_a_final_that_adds_only_hesitations_and_a_courtesy_word_has_the_partials_key(
    words: list[str], fillers: list[str], courtesy: str
) -> None:
    with_fillers = list(words)
    for i, filler in enumerate(fillers):
        with_fillers.insert((i * 3) % (len(with_fillers) + 1), filler)
    assert key(" ".join(with_fillers) + courtesy) == key(" ".join(words))


@given(content_words, st.data())
def test_another_content_word_is_another_key(words: list[str], data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(words) - 1))
    other = data.draw(st.sampled_from([w for w in CONTENT if w != words[at]]))
    changed = [*words[:at], other, *words[at + 1 :]]
    assert key(" ".join(changed)) != key(" ".join(words))


@given(content_words, digit_strings, st.data())
def test_another_digit_is_another_key(words: list[str], digits: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(digits) - 1))
    other = data.draw(st.sampled_from([d for d in "0123456789" if d != digits[at]]))
    lead = " ".join(words)
    assert key(f"{lead} {digits[:at]}{other}{digits[at + 1 :]}") != key(f"{lead} {digits}")


def test_the_shipped_vocabulary_is_keyed_by_language_and_a_missing_one_fails_at_start_up() -> None:
    assert load_match_vocabulary("en_US") == EN and EN.language == "en-US"
    with pytest.raises(ConfigurationInvalidError, match="no vocabulary for es-ES"):
        load_match_vocabulary("es-ES")


def test_the_spanish_vocabulary_drops_spanish_fillers_and_courtesy_but_keeps_este() -> None:
    es = load_match_vocabulary("es_US")
    assert es.language == "es-US"
    plain = speculation_key("quiero pagar la factura", es)
    assert speculation_key("Eh, quiero pagar la factura, por favor", es) == plain
    assert speculation_key("pues quiero pagar, gracias", es) == speculation_key("quiero pagar", es)
    assert speculation_key("quiero pagar este mes", es) != speculation_key("quiero pagar mes", es)  # "this month"
    assert speculation_key("quiero pagar 2 mil dólares", es) == speculation_key("quiero pagar $2000", es)


def test_a_vocabulary_whose_filler_is_also_a_trailing_word_is_refused(tmp_path: Path) -> None:
    data = json.loads((DATA / "match_vocabulary.json").read_text())
    data["languages"]["en-US"]["fillers"].append("please")
    bad = tmp_path / "match_vocabulary.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigurationInvalidError, match="please"):
        load_match_vocabulary("en-US", bad)
