"""Caller data taken out of a turn's words before any sink: the turn item, the history, the
model's prompt, the digest; the raw value of a tokenized entity goes to the vault only."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping

import pytest

from chalicelib.adapters.data_files import load_envelope, load_tiers
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.conversation import Source, TurnRequest, utterance_digest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.model import ModelAnswer
from chalicelib.domain.redaction import Redactor
from chalicelib.errors import VaultUnavailableError
from chalicelib.observability import ScrubbingFormatter
from chalicelib.usecases.handle_turn import HandleTurn
from tests.fakes import ManualClock, ScriptedModelClient
from tests.languages import EN

TIERS = load_tiers()
ENVELOPE = load_envelope()
POLICY = DialoguePolicy(misunderstandings_before_handover=2)
REDACTOR = Redactor(load_redaction_policy(), b"k" * 32)
CARD = "4111111111111111"
CARD_SPOKEN = "four one one one one one one one one one one one one one one one"
ASK_CODE = "Thanks. And the three digit security code on the back of the card?"


class _Vault:
    """The vault port, in memory, counting its writes."""

    def __init__(self, fail: bool = False) -> None:
        self.values: dict[str, dict[str, str]] = {}
        self.puts = 0
        self.fail = fail

    def put(self, contact_id: str, values: Mapping[str, str], now_ms: int) -> None:
        if self.fail:
            raise VaultUnavailableError("KMSInternalException")
        self.puts += 1
        kept = self.values.setdefault(contact_id, {})
        for token, value in values.items():
            kept.setdefault(token, value)

    def get(self, contact_id: str, tokens: Collection[str], now_ms: int) -> dict[str, str]:
        kept = self.values.get(contact_id, {})
        return {t: kept[t] for t in tokens if t in kept}

    def delete(self, contact_id: str) -> None:
        self.values.pop(contact_id, None)


def answer(text: str) -> ModelAnswer:
    return ModelAnswer(model="gpt-6-luna", text=text, finish_reason="stop", input_tokens=300, output_tokens=20,
                       first_token_ms=300, total_ms=500)  # fmt: skip


def request(words: str, seq: int) -> TurnRequest:
    return TurnRequest(contact_id="c-1", seq=seq, utterance=words, source=Source.CONNECT, caller_number="+15555550107")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def turn(store: InMemorySessionStore, models: ScriptedModelClient, vault: _Vault, clock: ManualClock,
         redactor: Redactor | None = REDACTOR) -> HandleTurn:  # fmt: skip
    return HandleTurn(
        store, clock, POLICY, ENVELOPE, words=EN, models=models, tiers=TIERS, redactor=redactor, vault=vault
    )


def stored_text(store: InMemorySessionStore) -> str:
    """Everything the store holds for the contact, as one string."""
    session = store.load("c-1", 0)
    turns = [store.load_turn("c-1", seq, 0) for seq in range(1, 6)]
    return repr(session) + "".join(repr(t) for t in turns if t is not None)


def sent_to_model(models: ScriptedModelClient) -> str:
    return json.dumps([[m.content for m in messages] for messages in models.messages])


def test_a_card_read_out_is_a_token_everywhere_and_its_value_is_in_the_vault(clock: ManualClock) -> None:
    store, vault = InMemorySessionStore(), _Vault()
    models = ScriptedModelClient([answer("Thanks, I have [CARD_1]. " + ASK_CODE)])
    result = turn(store, models, vault, clock)(request(f"I want to pay my bill, my card number is {CARD_SPOKEN}", 1),
                                               Deadline(clock.monotonic_ms(), 2500))  # fmt: skip
    assert result.record is not None and result.record.caller.endswith("my card number is [CARD_1]")
    assert CARD_SPOKEN not in stored_text(store) and CARD not in stored_text(store)
    assert "[CARD_1]" in sent_to_model(models) and "four one one one" not in sent_to_model(models)
    assert vault.values == {"c-1": {"[CARD_1]": CARD}}
    assert result.record.digest != utterance_digest(f"I want to pay my bill, my card number is {CARD_SPOKEN}")


def test_the_same_card_in_a_later_turn_is_the_same_token_and_a_code_is_never_kept(clock: ManualClock) -> None:
    store, vault = InMemorySessionStore(), _Vault()
    models = ScriptedModelClient([answer(ASK_CODE), answer("Thanks. Shall I take the payment from [CARD_1]?"),
                                  answer("Done.")])  # fmt: skip
    handle = turn(store, models, vault, clock)
    handle(request(f"pay with my visa {CARD}", 1), Deadline(clock.monotonic_ms(), 2500))
    second = handle(request("seven three seven", 2), Deadline(clock.monotonic_ms(), 2500))
    third = handle(request(f"yes, the card is {' '.join([CARD[i:i + 4] for i in range(0, 16, 4)])}", 3),
                   Deadline(clock.monotonic_ms(), 2500))  # fmt: skip
    assert second.record is not None and second.record.caller == "[CVV_1]"
    assert third.record is not None and third.record.caller == "yes, the card is [CARD_1]"
    assert vault.values == {"c-1": {"[CARD_1]": CARD}}  # the code is nowhere
    assert "737" not in stored_text(store) and "seven three seven" not in stored_text(store)
    assert "seven three seven" not in sent_to_model(models)


def test_a_redelivered_code_is_recognised_as_the_same_turn(clock: ManualClock) -> None:
    store, vault = InMemorySessionStore(), _Vault()
    models = ScriptedModelClient([answer(ASK_CODE), answer("Thanks, that's all I need.")])
    handle = turn(store, models, vault, clock)
    handle(request(f"pay with my visa {CARD}", 1), Deadline(clock.monotonic_ms(), 2500))
    first = handle(request("it's seven three seven", 2), Deadline(clock.monotonic_ms(), 2500))
    again = handle(request("it's seven three seven", 2), Deadline(clock.monotonic_ms(), 2500))
    assert again.duplicate and again.reply == first.reply
    assert len(models.calls) == 2


def test_a_vault_that_fails_costs_the_tools_only(clock: ManualClock) -> None:
    store = InMemorySessionStore()
    models = ScriptedModelClient([answer(ASK_CODE)])
    result = turn(store, models, _Vault(fail=True), clock)(request(f"my card is {CARD}", 1),
                                                          Deadline(clock.monotonic_ms(), 2500))  # fmt: skip
    assert result.record is not None and result.record.caller == "my card is [CARD_1]"
    assert CARD not in stored_text(store)


def test_without_a_redactor_the_words_are_kept_as_said(clock: ManualClock) -> None:
    """The redactor-off build ``sim/breakages.py`` uses: the leak scan must see the difference."""
    store = InMemorySessionStore()
    models = ScriptedModelClient([answer(ASK_CODE)])
    turn(store, models, _Vault(), clock, redactor=None)(request(f"my card is {CARD}", 1),
                                                        Deadline(clock.monotonic_ms(), 2500))  # fmt: skip
    assert CARD in stored_text(store)


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.ERROR])
def test_log_lines_are_scrubbed_at_every_level(level: int) -> None:
    try:
        raise ValueError(f"input_value='my card is {CARD}'")
    except ValueError as exc:
        record = logging.LogRecord("switchboard", level, __file__, 1, f"card {CARD} ssn 123-45-6789 social", (),
                                   (type(exc), exc, exc.__traceback__))  # fmt: skip
    record.detail = f"call me on 212 555 0142, card {CARD}"
    line = ScrubbingFormatter().format(record)
    assert CARD not in line and "123-45-6789" not in line and "555 0142" not in line
    assert "[CARD]" in line and "[SSN]" in line


def test_a_handover_names_the_callers_number_by_token_and_the_vault_holds_it(clock: ManualClock) -> None:
    from chalicelib.domain.handover import CALLER_NUMBER_TOKEN
    from tests.unit.test_handover import POLICY as HANDOVER_POLICY
    from tests.unit.test_handover import RecordingHandoverWorkflow

    workflow, vault = RecordingHandoverWorkflow(), _Vault()
    handle = HandleTurn(InMemorySessionStore(), clock, HANDOVER_POLICY, ENVELOPE, words=EN, handover=workflow,
                        redactor=REDACTOR, vault=vault)  # fmt: skip
    handle(request("agent please", 1), Deadline(clock.monotonic_ms(), 2500))
    (given,) = workflow.executions.values()
    assert given["callback_ref"] == CALLER_NUMBER_TOKEN
    assert "+15555550107" not in json.dumps(given)
    assert vault.values["c-1"] == {CALLER_NUMBER_TOKEN: "+15555550107"}


def test_without_a_vault_the_handover_has_no_number_to_call_back(clock: ManualClock) -> None:
    from tests.unit.test_handover import POLICY as HANDOVER_POLICY
    from tests.unit.test_handover import RecordingHandoverWorkflow

    workflow = RecordingHandoverWorkflow()
    handle = HandleTurn(InMemorySessionStore(), clock, HANDOVER_POLICY, ENVELOPE, words=EN, handover=workflow,
                        redactor=REDACTOR, vault=_Vault(fail=True))  # fmt: skip
    handle(request("agent please", 1), Deadline(clock.monotonic_ms(), 2500))
    (given,) = workflow.executions.values()
    assert given["callback_ref"] is None


def test_a_code_said_after_the_expiry_is_redacted_even_when_the_prompt_between_asked_nothing(
    clock: ManualClock,
) -> None:
    """A fault answered the expiry with a fallback line; the caller goes on with the code."""
    store, vault = InMemorySessionStore(), _Vault()
    models = ScriptedModelClient([answer("When does the card expire?"),
                                  answer("Sorry, I am having trouble with that. Could you say it another way?"),
                                  answer("Thank you.")])  # fmt: skip
    handle = turn(store, models, vault, clock)
    handle(request("the card number is 3782 822463 10005", 1), Deadline(clock.monotonic_ms(), 2500))
    handle(request("it runs out twelve twenty seven", 2), Deadline(clock.monotonic_ms(), 2500))
    third = handle(request("sure it's four eight two one", 3), Deadline(clock.monotonic_ms(), 2500))
    assert third.record is not None and third.record.caller == "sure it's [CVV_1]"
    assert "four eight two one" not in stored_text(store)
