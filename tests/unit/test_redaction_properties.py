"""Properties of the redactor: any valid card in any spoken or written form leaves no trace,
redaction is idempotent, text without numbers or addresses is untouched; and what it does to the
project's recorded speech (events/router/labelled.jsonl, events/calls/*.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.number_checks import luhn_check_digit
from chalicelib.domain.redaction import Redaction, RedactionContext, Redactor
from chalicelib.domain.redaction_policy import EntityKind
from chalicelib.domain.redaction_state import RedactionState

ROOT = Path(__file__).resolve().parents[2]
REDACTOR = Redactor(load_redaction_policy(), b"test-fingerprint-key-32-bytes-00")
LABELLED = [json.loads(line)["utterance"] for line in (ROOT / "events/router/labelled.jsonl").read_text().splitlines()]
CALLS = sorted((ROOT / "events" / "calls").glob("*.json"))

DIGIT_WORDS = {"0": ("zero", "oh"), "1": ("one",), "2": ("two",), "3": ("three",), "4": ("four",), "5": ("five",),
               "6": ("six",), "7": ("seven",), "8": ("eight",), "9": ("nine",)}  # fmt: skip
# Numbers said in words, cardinal or ordinal: what "no digits" also rules out.
NUMBER_WORDS = {w for words in DIGIT_WORDS.values() for w in words} | {
    "o", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "first", "second", "third",
    "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth",
    "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth", "thirtieth",
}  # fmt: skip
TAG = re.compile(r"\[[A-Z_]+_[0-9]+\]")
WORD = re.compile(r"[^\W\d_]+")
FILLERS = ("uh", "um", "uh,", "um,")
VOCABULARY = (
    "my", "card", "number", "is", "the", "security", "code", "on", "back", "expires", "social", "routing",
    "bank", "account", "checking", "email", "dot", "com", "born", "march", "may", "phone", "please",
    "thanks", "uh", "um", "no", "sorry", "wait", "double", "triple", "and", "of", "cvv", "dob", "ssn",
    "agent", "balance", "bill", "pay", "yes", "okay", "i", "mean", "call", "me", "hundred", "dollars",
)  # fmt: skip


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    digits = draw(st.lists(st.sampled_from("0123456789"), min_size=length - 2, max_size=length - 2))
    body = draw(st.sampled_from("3456")) + "".join(digits)
    return body + luhn_check_digit(body)


def _groups(draw: st.DrawFn, card: str) -> list[str]:
    layout = draw(st.sampled_from(["whole", "fours", "amex", "random"]))
    if layout == "whole":
        return [card]
    if layout == "amex" and len(card) == 15:
        return [card[:4], card[4:10], card[10:]]
    if layout in ("fours", "amex"):
        return [card[i : i + 4] for i in range(0, len(card), 4)]
    cuts = sorted(draw(st.sets(st.integers(1, len(card) - 1), max_size=5)))
    return [card[a:b] for a, b in zip([0, *cuts], [*cuts, len(card)], strict=True)]


def _in_words(draw: st.DrawFn, group: str) -> str:
    units: list[str] = []
    i = 0
    while i < len(group):
        digit = group[i]
        same = len(group[i:]) - len(group[i:].lstrip(digit))
        word = draw(st.sampled_from(DIGIT_WORDS[digit]))
        if same >= 3 and draw(st.booleans()):
            units.append(f"triple {word}")
            i += 3
        elif same >= 2 and draw(st.booleans()):
            units.append(f"double {word}")
            i += 2
        else:
            units.append(word)
            i += 1
    return " ".join(f"{draw(st.sampled_from(FILLERS))} {u}" if draw(st.integers(0, 5)) == 0 else u for u in units)


@st.composite
def card_utterances(draw: st.DrawFn) -> tuple[str, str]:
    """A valid card number, and an utterance that reads it out in one of the ways callers and ASR do."""
    card = draw(card_numbers())
    parts = []
    for group in _groups(draw, card):
        style = draw(st.sampled_from(["digits", "spaced", "words"]))
        parts.append(group if style == "digits" else " ".join(group) if style == "spaced" else _in_words(draw, group))
    said = draw(st.sampled_from([" ", ", ", "-", " - ", ". ", ", uh, "])).join(parts)
    before = draw(st.sampled_from(["", "my card number is ", "it's ", "uh ok so ", "the card is ", "yeah "]))
    after = draw(st.sampled_from(["", " thanks", ", is that right?", " and that's it", "."]))
    return card, f"{before}{said}{after}"


def redact(text: str, state: RedactionState | None = None) -> Redaction:
    return REDACTOR.redact(text, state or RedactionState("contact-1"))


@settings(max_examples=300, deadline=None, database=None)
@given(card_utterances())
def test_a_valid_card_in_any_form_leaves_no_digit_and_no_digit_word(case: tuple[str, str]) -> None:
    card, text = case
    result = redact(text)
    left = TAG.sub(" ", result.text)
    assert not re.search(r"[0-9]", left), result.text
    assert not {w.lower() for w in WORD.findall(left)} & (NUMBER_WORDS | {"double", "triple"}), result.text
    assert [(e.kind, e.value) for e in result.entities] == [(EntityKind.CARD, card)], text


@settings(max_examples=200, deadline=None, database=None)
@given(card_utterances() | st.sampled_from(LABELLED).map(lambda u: ("", u)))
def test_redacting_redacted_text_changes_nothing(case: tuple[str, str]) -> None:
    once = redact(case[1])
    twice = redact(once.text, once.state)
    assert twice.text == once.text
    assert twice.state == once.state


def _free_of_numbers_and_addresses(text: str) -> bool:
    words = {w.lower() for w in WORD.findall(text)}
    return not re.search(r"[0-9@]", text) and not words & (NUMBER_WORDS | {"at"})


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.text().filter(_free_of_numbers_and_addresses) | st.lists(st.sampled_from(VOCABULARY), max_size=25).map(" ".join)
)
def test_text_without_numbers_or_addresses_is_unchanged(text: str) -> None:
    result = REDACTOR.redact(text, RedactionState(), RedactionContext("What's the card number and the code?"))
    assert result.text == text
    assert result.entities == ()


# Of the 369 labelled utterances, these three hold caller data (two spoken e-mail addresses and a
# phone number); every other one, amounts, times, zip codes and order numbers included, is unchanged.
LABELLED_CHANGES = {
    "my email is b l u e bird seven at example dot com": "my email is [EMAIL_1]",
    "the phone number on the account is two one two five five five oh one four two":
        "the phone number on the account is [PHONE_1]",
    "my email address is t dot rivers at example dot com, t as in tom": "my email address is [EMAIL_1], t as in tom",
}  # fmt: skip


def test_the_labelled_utterances_are_unchanged_except_the_three_with_caller_data() -> None:
    changed = {u: r.text for u in LABELLED if (r := redact(u)).text != u}
    assert len(LABELLED) == 369
    assert changed == LABELLED_CHANGES


def test_ordinary_speech_is_unchanged() -> None:
    for text in (
        "it's $42.50 a month",
        "can you call at nine thirty",
        "two things",
        "one moment please",
        "on the twenty eighth",
        "i've been on hold for forty five minutes",
        "i paid 120 dollars at 9:30",
        "the third one",
        "we moved in october",
        "that's one two three easy steps",
        "about twenty twenty",
    ):
        assert redact(text).text == text


def test_the_recorded_calls_keep_their_words_and_their_account_numbers() -> None:
    accounts = []
    for path in CALLS:
        state, previous = RedactionState(path.stem), ""
        call = json.loads(path.read_text())
        if call.get("sensitive"):
            continue  # a call that holds caller data on purpose (sim leaks): tests/sim/test_leaks.py
        for turn in call["turns"]:
            caller = turn.get("caller") or ""
            result = REDACTOR.redact(caller, state, RedactionContext(previous_utterance=previous))
            assert result.text == caller
            accounts += [e.value for e in result.entities if e.kind is EntityKind.CUSTOMER_ACCOUNT]
            state, previous = result.state, result.text
    assert "551209" in accounts
    assert "448129" in accounts
