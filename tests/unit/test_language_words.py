"""Each language's words for the rules and the router come from its folder under
``data/languages/``: the loader, adding a language by data alone, and properties that hold in
every language."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.language_files import LANGUAGES, language_locales, load_all_language_words, load_language_words
from chalicelib.domain import spoken_numbers
from chalicelib.domain.conversation import Source, TurnRequest
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.router import RouteContext, route
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.domain.rules import Intent, classify
from chalicelib.errors import ConfigurationInvalidError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "languages"
PACKS = load_all_language_words()


def test_every_shipped_language_loads_and_english_and_spanish_are_among_them() -> None:
    assert {"en-US", "es-US"} <= set(PACKS)
    assert all(pack.locale == locale for locale, pack in PACKS.items())


def test_the_english_digit_words_are_the_ones_the_redactor_reads() -> None:
    """The redactor's reader (``spoken_numbers``) keeps its English words; they must not drift
    from the English data file the rules read."""
    numbers = PACKS["en-US"].rules.numbers
    assert dict(numbers.units) == spoken_numbers.UNITS
    assert dict(numbers.teens) == spoken_numbers.TEENS
    assert dict(numbers.tens) == spoken_numbers.TENS
    assert dict(numbers.repeaters) == spoken_numbers.REPEATERS
    assert numbers == spoken_numbers.ENGLISH_DIGITS


def test_a_lex_locale_name_is_read_as_the_folder_name() -> None:
    assert load_language_words("es_US").locale == "es-US"


def test_a_language_without_a_folder_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationInvalidError, match="xx-XX"):
        load_language_words("xx-XX")


def test_a_locale_that_is_no_locale_is_refused_before_any_file_is_read() -> None:
    with pytest.raises(ConfigurationInvalidError, match="no locale"):
        load_language_words("../en-US")


def _copy_shipped(root: Path) -> None:
    for locale in language_locales(LANGUAGES):
        shutil.copytree(LANGUAGES / locale, root / locale)


def test_a_pattern_that_does_not_compile_is_refused_with_its_file_and_key(tmp_path: Path) -> None:
    _copy_shipped(tmp_path)
    path = tmp_path / "es-US" / "router.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["negative"] = "\\b(ridículo"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ConfigurationInvalidError, match=r"es-US/router\.json: negative"):
        load_language_words("es-US", tmp_path)


def test_a_missing_vocabulary_is_refused(tmp_path: Path) -> None:
    _copy_shipped(tmp_path)
    path = tmp_path / "en-US" / "rules.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["agent"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigurationInvalidError, match="agent"):
        load_language_words("en-US", tmp_path)


def test_an_assent_word_that_is_no_yes_word_is_refused(tmp_path: Path) -> None:
    _copy_shipped(tmp_path)
    path = tmp_path / "en-US" / "rules.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["assent_word"] = "maybe"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigurationInvalidError, match="assent_word"):
        load_language_words("en-US", tmp_path)


def test_a_yes_phrase_that_could_never_match_is_refused(tmp_path: Path) -> None:
    _copy_shipped(tmp_path)
    path = tmp_path / "en-US" / "rules.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["yes_phrases"] = [*data["yes_phrases"], "that's my account"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigurationInvalidError, match="yes_phrases"):
        load_language_words("en-US", tmp_path)


def test_a_third_language_is_added_by_its_folder_alone(tmp_path: Path) -> None:
    _copy_shipped(tmp_path)
    shutil.copytree(FIXTURES / "fr-CA", tmp_path / "fr-CA")
    packs = load_all_language_words(tmp_path)
    assert {"en-US", "es-US", "fr-CA"} <= set(packs)
    french = packs["fr-CA"]
    assert classify("je veux parler à un agent", french.rules).intent is Intent.AGENT
    complaint = route("c'est ridicule, vous m'avez chargé deux fois, je veux un remboursement", RouteContext(), french)
    assert complaint.tier == 2
    assert {"high_stakes_topic", "negative_words"} <= set(complaint.reasons)
    assert route("bonjour", RouteContext(), french).tier == 0
    heard = classify("mon numéro de compte c'est quatre quatre sept un deux", french.rules)
    assert (heard.intent, heard.digits) == (Intent.ACCOUNT_DIGITS, "44712")


@settings(max_examples=300, deadline=None)
@given(locale=st.sampled_from(sorted(PACKS)), text=st.text(max_size=80))
def test_classify_and_route_never_raise_on_any_text(locale: str, text: str) -> None:
    pack = PACKS[locale]
    heard = classify(text, pack.rules)
    assert isinstance(heard.intent, Intent)
    for context in (RouteContext(), RouteContext(pending="confirm_account"), RouteContext(pending="account_number")):
        assert route(text, context, pack).tier in (0, 1, 2)


def _digit_words(locale: str) -> dict[int, list[str]]:
    words: dict[int, list[str]] = {}
    for word, digit in PACKS[locale].rules.numbers.units.items():
        words.setdefault(digit, []).append(word)
    return words


@settings(max_examples=200, deadline=None)
@given(
    locale=st.sampled_from(["en-US", "es-US"]),
    digits=st.lists(st.integers(0, 9), min_size=4, max_size=12),
    data=st.data(),
)
def test_digits_read_out_one_by_one_come_back_in_order(locale: str, digits: list[int], data: st.DataObject) -> None:
    words = _digit_words(locale)
    said = " ".join(data.draw(st.sampled_from(words[d])) for d in digits)
    heard = classify(said, PACKS[locale].rules)
    assert (heard.intent, heard.digits) == (Intent.ACCOUNT_DIGITS, "".join(map(str, digits)))


def test_a_language_request_in_a_stage_without_that_language_is_answered_in_the_calls_own() -> None:
    """An English-only policy (no Spanish lines to switch to): the rules still take the request at
    tier 0 and say, in English, that the call goes on in English."""
    policy = DialoguePolicy()
    for locale, words in (("es-US", "¿habla español?"), ("en-US", "can we do this in spanish")):
        request = TurnRequest(contact_id="c-1", seq=1, utterance=words, source=Source.CONNECT)
        outcome = answer_with_rules(None, request, 1, 0, policy, words=PACKS[locale].rules)
        assert outcome.reply.text == policy.language("en-US").phrases.language_switched
        assert outcome.reply.reasons == ("tier0:language_request",)
        assert outcome.session.language == "en-US"
