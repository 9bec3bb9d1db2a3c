"""The redactor on caller data as callers say it and ASR writes it, with the shipped policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.redaction_policy import DATA, load_redaction_policy
from chalicelib.domain.number_checks import aba_valid, card_valid, luhn_valid, nanp_number, ssn_valid
from chalicelib.domain.redaction import Redaction, RedactionContext, Redactor
from chalicelib.domain.redaction_policy import Action, EntityKind, RedactionPolicy
from chalicelib.domain.redaction_state import RedactionState

ROOT = Path(__file__).resolve().parents[2]
SENSITIVE = [json.loads(line) for line in (ROOT / "events" / "redaction" / "sensitive.jsonl").read_text().splitlines()]
KEY = b"test-fingerprint-key-32-bytes-00"
REDACTOR = Redactor(load_redaction_policy(), KEY)


def redact(text: str, prompt: str = "", previous: str = "", state: RedactionState | None = None) -> Redaction:
    return REDACTOR.redact(text, state or RedactionState("contact-1"), RedactionContext(prompt, previous))


def policy_with(tmp_path: Path, **changes: dict[str, Any]) -> RedactionPolicy:
    data = json.loads((DATA / "redaction.json").read_text())
    for rule in data["kinds"]:
        rule.update(changes.get(rule["kind"], {}))
    path = tmp_path / "redaction.json"
    path.write_text(json.dumps(data))
    return load_redaction_policy(path)


@pytest.mark.parametrize("row", SENSITIVE, ids=[row["utterance"][:40] for row in SENSITIVE])
def test_each_recorded_form_is_redacted_as_labelled(row: dict[str, Any]) -> None:
    result = redact(row["utterance"], row.get("prompt", ""), row.get("previous_utterance", ""))
    assert result.text == row["redacted"]
    assert [e.kind.value for e in result.entities] == row["kinds"]


@pytest.mark.parametrize(
    ("text", "card"),
    [
        ("my card number is 4111 1111 1111 1111", "4111111111111111"),
        ("five five double oh, oh oh oh oh, oh oh oh oh, triple oh four", "5500000000000004"),
        ("amex three seven eight two, eight two two four six three, one oh oh oh five", "378282246310005"),
        ("3782-822463-10005", "378282246310005"),
        ("the card is four two two two two two two two two two two two two", "4222222222222"),
        ("6011 0000 0000 0000 001", "6011000000000000001"),
        ("4111 1111 one one one one 1111, uh, 1111", "4111111111111111"),
    ],
)
def test_a_card_is_tokenized_with_its_digits_for_the_vault(text: str, card: str) -> None:
    result = redact(text)
    (entity,) = result.entities
    assert (entity.kind, entity.action, entity.token) == (EntityKind.CARD, Action.TOKENIZE, "[CARD_1]")
    assert entity.value == card
    assert result.vault_items() == {"[CARD_1]": card}


def test_the_span_is_where_the_number_was_said() -> None:
    text = "ok it's 4111-1111-1111-1111 thanks"
    (entity,) = redact(text).entities
    assert text[entity.start : entity.end] == "4111-1111-1111-1111"


def test_a_corrected_group_gives_the_meant_card_and_both_readings_are_redacted() -> None:
    text = "four one one one, one one one one, one one one three, four four three, no sorry, four four four four"
    result = redact(f"my card is {text}, thanks")
    assert result.text == "my card is [CARD_1], thanks"
    assert result.entities[0].value == "4111111111134444"


def test_a_restarted_reading_gives_the_second_number() -> None:
    result = redact(("four four seven one two, no wait, four one one one " + "one one one one " * 3).strip())
    assert result.text == "[CARD_1]"
    assert result.entities[0].value == "4111111111111111"


def test_a_luhn_invalid_sixteen_digit_number_is_no_card_but_is_still_redacted() -> None:
    result = redact("card number 4111 1111 1111 1112")
    (entity,) = result.entities
    assert (entity.kind, entity.token, entity.value) == (EntityKind.LONG_NUMBER, "[NUMBER_1]", None)
    assert result.vault_items() == {}


def test_a_security_code_needs_a_card_context() -> None:
    assert redact("the code is one two three").text == "the code is one two three"
    assert redact("one two three", prompt="And the security code on the back of the card?").text == "[CVV_1]"
    assert redact("it's 456", previous="my card is [CARD_1]", prompt="and the cvv?").text == "it's [CVV_1]"


def test_a_security_code_is_never_returned_nor_remembered() -> None:
    first = redact("the cvv on my card is 123")
    (entity,) = first.entities
    assert (entity.action, entity.value) == (Action.REDACT, None)
    assert first.state.tokens == ()
    again = redact("cvv 123", previous="my card is [CARD_1]", state=first.state)
    assert again.text == "cvv [CVV_2]"  # no fingerprint was kept to tell it is the same code


def test_a_number_that_may_be_the_code_or_the_expiry_is_taken_as_the_code() -> None:
    result = redact("one two three four", prompt="What are the expiry date and the security code on the card?")
    assert [e.kind for e in result.entities] == [EntityKind.SECURITY_CODE]


@pytest.mark.parametrize(
    ("text", "prompt"),
    [
        ("expires oh four twenty seven", "and your card number?"),
        ("04/27", "When does the card expire?"),
        ("it's April 2027", "What's the expiry date on the card?"),
        ("april twenty twenty-seven", "And when does the card expire?"),
        ("four twenty seven", "What's the expiration date on your card?"),
        ("oh four twenty twenty seven", "The card's expiry date, please?"),
    ],
)
def test_an_expiry_in_a_card_context_is_month_and_year(text: str, prompt: str) -> None:
    result = redact(text, prompt=prompt)
    assert [(e.kind, e.value) for e in result.entities] == [(EntityKind.EXPIRY, "04/27")]
    assert "[EXPIRY_1]" in result.text


def test_an_expiry_without_a_card_context_is_left_alone() -> None:
    assert redact("my subscription expires oh four twenty seven").text == "my subscription expires oh four twenty seven"


@pytest.mark.parametrize(
    "text",
    ["my social is one two three, four five, six seven eight nine", "SSN 123456789", "123-45-6789", "123 45 6789"],
)
def test_an_ssn_is_redacted_after_a_cue_or_when_grouped_three_two_four(text: str) -> None:
    result = redact(text)
    assert [e.kind for e in result.entities] == [EntityKind.SSN]
    assert "[SSN_1]" in result.text


@pytest.mark.parametrize("number", ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567",
                                    "123-45-0000"])  # fmt: skip
def test_an_ssn_that_was_never_issued_is_not_an_ssn(number: str) -> None:
    assert redact(f"my social is {number}").entities == ()
    assert not ssn_valid(number.replace("-", ""))


def test_a_bare_nine_digit_number_is_not_an_ssn() -> None:
    assert redact("it's uh nine eight seven, six five four, three two one").text.endswith("three two one")
    assert redact("one two three four five six seven eight nine").entities == ()


def test_routing_and_account_numbers_in_a_bank_context() -> None:
    result = redact("routing 021000021, and the checking account is 12345678")
    assert result.text == "routing [ROUTING_1], and the checking account is [BANK_ACCOUNT_1]"


def test_a_routing_number_with_a_wrong_checksum_is_bank_data_not_a_routing_number() -> None:
    result = redact("my routing number is 021000022")
    assert [e.kind for e in result.entities] == [EntityKind.BANK_ACCOUNT]
    assert aba_valid("021000021")
    assert not aba_valid("021000022")


def test_an_account_number_is_a_bank_account_when_the_bank_asked_for_it() -> None:
    result = redact("four four seven one two nine", prompt="And the account number at your bank?")
    assert result.text == "[BANK_ACCOUNT_1]"


@pytest.mark.parametrize(
    "text",
    ["my account number is 4 4 7 1", "uh it's double five oh nine one", "account five five zero nine one one",
     "my member number is 7 3 3 0 1 8 2", "account number two one two five five five oh one four two"],
)  # fmt: skip
def test_the_centres_own_account_numbers_are_kept_for_lookup_account(text: str) -> None:
    result = redact(text, prompt="What's your account number?")
    assert result.text == text
    assert [(e.kind, e.action, e.token) for e in result.entities] == [(EntityKind.CUSTOMER_ACCOUNT, Action.KEEP, "")]


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("my email is john dot smith at gmail dot com", "john.smith@gmail.com"),
        ("j smith at example dot co dot uk", "jsmith@example.co.uk"),
        ("my email is b l u e bird seven at example dot com", "bluebird7@example.com"),
        ("it's jane underscore doe dash two at example dot org", "jane_doe-2@example.org"),
        ("send it to J.Smith42@Example.com please", "j.smith42@example.com"),
        ("um it's john.smith at gmail.com", "john.smith@gmail.com"),
    ],
)
def test_an_email_address_written_or_spoken(tmp_path: Path, text: str, email: str) -> None:
    redactor = Redactor(policy_with(tmp_path, email={"action": "tokenize"}), KEY)
    result = redactor.redact(text, RedactionState())
    assert [(e.kind, e.value) for e in result.entities] == [(EntityKind.EMAIL, email)]
    assert "[EMAIL_1]" in result.text
    assert " at " not in f" {result.text} "


@pytest.mark.parametrize(
    "text", ["you can reach me at five five five oh one one nine", "meet me at the store dot", "i'm at home"]
)
def test_at_without_an_address_is_no_email(text: str) -> None:
    assert redact(text).text == text


@pytest.mark.parametrize(
    "text",
    ["two one two five five five oh one four two", "(212) 555-0142", "212-555-0142", "212.555.0142",
     "+1 212 555 0142", "1-212-555-0142", "2125550142", "one two one two, five five five, oh one four two"],
)  # fmt: skip
def test_a_us_phone_number_with_or_without_the_country_code(text: str) -> None:
    result = redact(f"call me on {text} please")
    assert result.text == "call me on [PHONE_1] please"
    assert result.vault_items() == {"[PHONE_1]": "+12125550142"}


def test_a_seven_digit_number_is_no_phone_number() -> None:
    text = "call me on five five five oh one seven three, evenings are best"
    assert redact(text).text == text
    assert nanp_number("1125550142") is None


@pytest.mark.parametrize(
    ("text", "born"),
    [
        ("my date of birth is March third nineteen eighty", "1980-03-03"),
        ("DOB 03/03/1980", "1980-03-03"),
        ("i was born on the 3rd of March 1980", "1980-03-03"),
        ("my birthday is the twenty-third of may two thousand and five", "2005-05-23"),
        ("born march 3, 1980", "1980-03-03"),
        ("oh three oh three nineteen eighty", "1980-03-03"),
    ],
)
def test_a_date_of_birth_in_a_birth_context(tmp_path: Path, text: str, born: str) -> None:
    redactor = Redactor(policy_with(tmp_path, dob={"action": "tokenize"}), KEY)
    result = redactor.redact(text, RedactionState(), RedactionContext(prompt="Can you confirm your date of birth?"))
    assert [(e.kind, e.value) for e in result.entities] == [(EntityKind.DOB, born)]


def test_a_date_without_a_birth_context_is_left_alone() -> None:
    text = "i want a refund for the sixty dollar charge from march second, i returned the item on the tenth"
    assert redact(text).text == text


def test_checks() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert not card_valid("0000000000000000")  # Luhn-valid, but no card starts with 0
    assert ssn_valid("123456789") and not ssn_valid("12345678")
    assert nanp_number("+12125550142".lstrip("+")) == "2125550142"
