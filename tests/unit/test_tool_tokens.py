"""Tools that take caller data by token: the runner swaps the model's ``[CARD_1]`` for the
vault's value just before the call, checks the schema on the real values, journals only the
tokens, and scrubs the result before the model, the session and the journal see it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters.data_files import load_envelope, load_tools
from chalicelib.adapters.memory_journal import InMemoryToolJournal
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.handover import CALLER_NUMBER_TOKEN
from chalicelib.domain.model import ToolCall
from chalicelib.domain.redaction import Redactor
from chalicelib.domain.tools import arguments_hash, idempotency_key, scrubbed_result, vault_tokens, with_vault_values
from chalicelib.errors import VaultUnavailableError, VaultValueMissingError
from chalicelib.usecases.run_tools import RunTools
from tests.fakes import FakeToolBackend, InMemoryVault, ManualClock, SimulatedCrash

GRAPH, _ = load_tools()
ENVELOPE = load_envelope()
REDACTOR = Redactor(load_redaction_policy(), b"k" * 32)
CARD, EXPIRY = "4111111111111111", "04/27"
PAYMENT = {"account_id": "acc-448129", "amount": 120, "card_number": "[CARD_1]", "expiry": "[EXPIRY_1]"}
APPROVED = {"payment_id": "cp-0001", "status": "approved", "card_last4": "1111"}


class Runner:
    def __init__(self, results: dict[str, Any] | None = None, redactor: Redactor | None = REDACTOR) -> None:
        self.clock = ManualClock()
        self.vault = InMemoryVault()
        self.journal = InMemoryToolJournal()
        self.backend = FakeToolBackend(results or {"take_card_payment": APPROVED})
        self.run = RunTools(GRAPH, self.backend, self.journal, self.clock, ENVELOPE, InvocationMeter(),
                            vault=self.vault, redactor=redactor)  # fmt: skip

    def pay(self, arguments: dict[str, Any] | None = None, seq: int = 1) -> Any:
        call = ToolCall("c0", "take_card_payment", json.dumps(arguments or PAYMENT))
        return self.run("c-1", seq, (call,), last_tool="get_balance", calls_made=0,
                        deadline=Deadline(self.clock.monotonic_ms(), 2500), follow_up_ms=0.0)  # fmt: skip


def test_the_tool_gets_the_real_values_read_once_just_before_the_call() -> None:
    r = Runner()
    r.vault.put("c-1", {"[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY}, r.clock.now)
    done = r.pay()
    assert [c.outcome for c in done.records] == ["ok"]
    [(_, arguments, key, _)] = r.backend.calls
    assert (arguments["card_number"], arguments["expiry"]) == (CARD, EXPIRY)
    assert key == idempotency_key("c-1", 1, 0, "take_card_payment")
    assert r.vault.gets == [("c-1", frozenset({"[CARD_1]", "[EXPIRY_1]"}))]  # one read, every token


def test_the_journal_keeps_the_tokens_the_model_gave_and_their_hash() -> None:
    r = Runner()
    r.vault.put("c-1", {"[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY}, r.clock.now)
    r.pay()
    [entry] = r.journal.entries.values()
    assert json.loads(entry.arguments_json) == PAYMENT
    assert entry.args_hash == arguments_hash(json.dumps(PAYMENT))
    assert CARD not in repr(entry) and EXPIRY not in repr(entry)


def test_a_retry_after_a_crash_reuses_the_key_and_the_journaled_tokens() -> None:
    r = Runner()
    r.vault.put("c-1", {"[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY}, r.clock.now)
    r.backend.crash_after_effect = True
    with pytest.raises(SimulatedCrash):
        r.pay()
    retried = r.pay()
    assert [c.outcome for c in retried.records] == ["ok"]
    keys = {key for _, _, key, _ in r.backend.calls}
    assert len(r.backend.calls) == 2 and len(keys) == 1 and r.backend.side_effects == 1
    assert all(a["card_number"] == CARD for _, a, _, _ in r.backend.calls)


def test_the_schema_is_checked_on_the_real_values() -> None:
    r = Runner()
    r.vault.put("c-1", {"[CARD_1]": "12345", "[EXPIRY_1]": EXPIRY}, r.clock.now)  # not a card number
    done = r.pay()
    assert done.refused == "schema:$.card_number does not match its pattern"
    assert r.backend.calls == [] and r.journal.entries == {}


def test_digits_the_model_wrote_itself_pass_the_schema_without_the_vault() -> None:
    r = Runner()
    done = r.pay({**PAYMENT, "card_number": CARD, "expiry": EXPIRY})
    assert [c.outcome for c in done.records] == ["ok"] and r.vault.gets == []


def test_a_token_the_vault_lacks_is_a_named_refusal_and_nothing_is_called() -> None:
    r = Runner()
    r.vault.put("c-1", {"[CARD_1]": CARD}, r.clock.now)  # no [EXPIRY_1]
    done = r.pay()
    assert done.refused == "vault_value_missing"
    assert [c.outcome for c in done.records] == ["refused:vault_value_missing"]
    assert r.backend.calls == [] and r.journal.entries == {}


def test_without_a_vault_a_tokenized_call_is_refused() -> None:
    r = Runner()
    r.run = RunTools(GRAPH, r.backend, r.journal, r.clock, ENVELOPE, InvocationMeter())
    assert r.pay().refused == "vault_value_missing" and r.backend.calls == []


def test_a_vault_that_cannot_be_read_holds_the_call_for_the_next_turn() -> None:
    r = Runner()
    r.vault.fail = VaultUnavailableError("DynamoDB GetItem failed: ProvisionedThroughputExceededException")
    done = r.pay()
    assert [c.outcome for c in done.records] == ["vault_unavailable"]
    assert done.hold_reason == "vault_unavailable:take_card_payment"
    assert [p.name for p in done.held] == ["take_card_payment"] and json.loads(done.held[0].arguments_json) == PAYMENT


def test_the_result_is_scrubbed_before_the_model_the_session_and_the_journal() -> None:
    leaky = {"payment_id": "cp-0001", "status": "approved", "card": CARD, "note": f"charged card {CARD}"}
    r = Runner({"take_card_payment": leaky})
    r.vault.put("c-1", {"[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY}, r.clock.now)
    done = r.pay()
    [entry] = r.journal.entries.values()
    for text in (done.messages[0].content, done.facts[0].result_json, entry.result_json or ""):
        assert CARD not in text and "[CARD]" in text, text
    assert json.loads(done.facts[0].result_json)["payment_id"] == "cp-0001"


def test_a_result_without_caller_data_is_passed_on_as_it_is() -> None:
    r = Runner()
    r.vault.put("c-1", {"[CARD_1]": CARD, "[EXPIRY_1]": EXPIRY}, r.clock.now)
    assert json.loads(r.pay().facts[0].result_json) == APPROVED


def test_a_number_the_scrubber_replaces_becomes_its_label_and_the_json_stays_an_object() -> None:
    assert scrubbed_result({"card": int(CARD), "amount": 120}, REDACTOR.scrub) == {"card": "[CARD]", "amount": 120}


@pytest.mark.parametrize(
    ("arguments", "tokens"),
    [
        ({"card_number": "[CARD_1]", "expiry": "[EXPIRY_12]"}, {"[CARD_1]", "[EXPIRY_12]"}),
        ({"note": "call me on [PHONE_1] or [PHONE_2]", "n": [1, "[ACCOUNT_NUMBER_3]"]},
         {"[PHONE_1]", "[PHONE_2]", "[ACCOUNT_NUMBER_3]"}),
        ({"phone": CALLER_NUMBER_TOKEN}, {CALLER_NUMBER_TOKEN}),
        ({"label": "[CARD]", "lower": "[card_1]", "[CARD_1]": "a key is a name"}, set()),  # bare labels: not tokens
    ],
)  # fmt: skip
def test_vault_tokens_are_the_redactors_and_the_caller_number(arguments: dict[str, Any], tokens: set[str]) -> None:
    assert vault_tokens(arguments) == tokens


def test_a_token_inside_a_string_is_replaced_in_place_and_a_missing_one_is_named() -> None:
    values = {"[PHONE_1]": "+12125550142"}
    assert with_vault_values({"note": "on [PHONE_1], mornings"}, values) == {"note": "on +12125550142, mornings"}
    with pytest.raises(VaultValueMissingError, match=r"\[PHONE_2\]"):
        with_vault_values({"a": "[PHONE_1]", "b": "[PHONE_2]"}, values)
