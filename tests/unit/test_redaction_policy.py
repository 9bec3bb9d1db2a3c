"""The redaction policy file drives what each kind gets; the call's tokens live in a state that
holds no caller data and survives the session item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.redaction_policy import DATA, load_redaction_policy
from chalicelib.domain.redaction import RedactionContext, Redactor
from chalicelib.domain.redaction_policy import Action, EntityKind
from chalicelib.domain.redaction_state import RedactionState
from chalicelib.errors import ConfigurationInvalidError, StoreDataCorruptError

KEY = b"test-fingerprint-key-32-bytes-00"
CARD = "4111111111111111"
OTHER_CARD = "5500000000000004"


def policy_file(tmp_path: Path, **changes: dict[str, Any]) -> Path:
    data = json.loads((DATA / "redaction.json").read_text())
    for rule in data["kinds"]:
        rule.update(changes.get(rule["kind"], {}))
    path = tmp_path / "redaction.json"
    path.write_text(json.dumps(data))
    return path


def redactor(tmp_path: Path | None = None, **changes: dict[str, Any]) -> Redactor:
    policy = load_redaction_policy(policy_file(tmp_path, **changes)) if tmp_path else load_redaction_policy()
    return Redactor(policy, KEY)


def test_the_shipped_policy_tokenizes_what_a_tool_needs_and_redacts_the_rest() -> None:
    policy = load_redaction_policy()
    actions = {kind: policy.rule(kind).action for kind in EntityKind}  # type: ignore[union-attr]
    assert actions[EntityKind.CARD] is Action.TOKENIZE  # the payment tool
    assert actions[EntityKind.PHONE] is Action.TOKENIZE  # book_callback
    assert actions[EntityKind.SECURITY_CODE] is Action.REDACT  # PCI DSS: never stored
    assert actions[EntityKind.CUSTOMER_ACCOUNT] is Action.KEEP  # lookup_account
    assert "customer_account" in json.loads((DATA / "redaction.json").read_text())["_comment"]


def test_a_kind_switched_to_keep_stays_in_the_text(tmp_path: Path) -> None:
    result = redactor(tmp_path, card={"action": "keep"}).redact(f"my card is {CARD}", RedactionState())
    assert result.text == f"my card is {CARD}"
    assert [(e.kind, e.action, e.value) for e in result.entities] == [(EntityKind.CARD, Action.KEEP, CARD)]


def test_a_kind_switched_to_redact_is_replaced_and_its_value_not_returned(tmp_path: Path) -> None:
    result = redactor(tmp_path, card={"action": "redact"}).redact(f"my card is {CARD}", RedactionState())
    assert result.text == "my card is [CARD_1]"
    assert result.entities[0].value is None
    assert result.vault_items() == {}


def test_the_customer_account_rule_is_data(tmp_path: Path) -> None:
    text = "my account number is 4 4 7 1"
    assert redactor().redact(text, RedactionState()).text == text
    changed = redactor(tmp_path, customer_account={"action": "redact"})
    assert changed.redact(text, RedactionState()).text == "my account number is [ACCOUNT_1]"
    shorter = redactor(tmp_path, customer_account={"min_digits": 5})
    assert shorter.redact(text, RedactionState()).entities == ()


@pytest.mark.parametrize("change", [{"action": "tokenize"}, {"action": "keep"}, {"remember": True}])
def test_a_policy_that_would_store_a_security_code_is_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationInvalidError, match="PCI"):
        load_redaction_policy(policy_file(tmp_path, security_code=change))


def test_a_policy_missing_a_kind_is_refused(tmp_path: Path) -> None:
    data = json.loads((DATA / "redaction.json").read_text())
    data["kinds"] = [k for k in data["kinds"] if k["kind"] != "phone"]
    path = tmp_path / "redaction.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationInvalidError, match="phone"):
        load_redaction_policy(path)


@pytest.mark.parametrize(
    "change", [{"requires": ["no_such_context"]}, {"label": "card"}, {"action": "shred"}, {"colour": "red"}]
)
def test_a_malformed_rule_is_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationInvalidError, match=r"redaction\.json"):
        load_redaction_policy(policy_file(tmp_path, card=change))


def test_the_same_card_later_in_the_call_gets_the_same_token() -> None:
    r = redactor()
    turn1 = r.redact(f"my card number is {CARD}", RedactionState("contact-1"))
    turn2 = r.redact("yes use that card", turn1.state, RedactionContext("Shall I use the card ending 1111?"))
    turn3 = r.redact("four one one one " + "one one one one " * 3, turn2.state)
    turn4 = r.redact(f"no actually use {OTHER_CARD}", turn3.state)
    assert turn1.text == "my card number is [CARD_1]"
    assert turn2.text == "yes use that card"
    assert turn2.state == turn1.state
    assert turn2.state.latest_token("card") == "[CARD_1]"  # what "that card" is
    assert turn3.text.strip() == "[CARD_1]"
    assert turn4.text == "no actually use [CARD_2]"
    assert turn4.state.latest_token("card") == "[CARD_2]"


def test_each_kind_numbers_its_own_tokens() -> None:
    r = redactor()
    first = r.redact(f"card {CARD}, phone 212 555 0142", RedactionState())
    second = r.redact("and my other number is 646 555 0199", first.state)
    assert first.text == "card [CARD_1], phone [PHONE_1]"
    assert second.text == "and my other number is [PHONE_2]"


def test_the_state_round_trips_through_json_and_holds_no_caller_data() -> None:
    result = redactor().redact(f"card {CARD}, call me on 212 555 0142", RedactionState("contact-1"))
    stored = json.dumps(result.state.to_dict())
    assert CARD not in stored
    assert "2125550142" not in stored
    assert RedactionState.from_dict(json.loads(stored)) == result.state
    assert RedactionState.from_dict({}) == RedactionState()


@pytest.mark.parametrize(
    "data", [{"scope": 3}, {"counters": {"CARD": "one"}}, {"tokens": []}, {"counters": {"X": True}}]
)
def test_a_corrupt_state_is_a_named_error(data: dict[str, Any]) -> None:
    with pytest.raises(StoreDataCorruptError):
        RedactionState.from_dict(data)


def test_the_same_card_in_two_calls_has_unrelated_fingerprints() -> None:
    r = redactor()
    one = r.redact(CARD, RedactionState("contact-1")).state
    two = r.redact(CARD, RedactionState("contact-2")).state
    assert one.counters == two.counters
    assert one.tokens != two.tokens


def test_a_short_fingerprint_key_is_refused() -> None:
    with pytest.raises(ConfigurationInvalidError):
        Redactor(load_redaction_policy(), b"short")
