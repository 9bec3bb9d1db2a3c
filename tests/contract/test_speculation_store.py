"""One speculation-store contract, two stores: in memory and DynamoDB (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from chalicelib.adapters.dynamodb_speculation import DynamoDbSpeculationStore
from chalicelib.adapters.memory_speculation import InMemorySpeculationStore
from chalicelib.domain.escalation import Attempt
from chalicelib.domain.model import ModelAnswer
from chalicelib.domain.model_replies import ModelRun
from chalicelib.domain.ports import SpeculationStore
from chalicelib.domain.speculation import Speculation, SpeculationState
from chalicelib.domain.usage import tokens

NOW = 1_790_000_000_000
PENDING = Speculation("c-9", 3, "What time do you close, um?", SpeculationState.PENDING, 1, NOW, expected_ms=900.0,
                      key="what time do you close")  # fmt: skip
ANSWER = ModelAnswer("gpt-6-luna", "We close at six.", (), "stop", 300, 12, 350.0, 600.0)


@pytest.fixture(params=["in_memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[SpeculationStore]:
    if request.param == "in_memory":
        yield InMemorySpeculationStore()
    else:
        yield DynamoDbSpeculationStore(request.getfixturevalue("moto_dynamodb"), "switchboard-dev-sessions", 900)


def test_the_first_start_owns_the_speculation_and_a_second_does_not(store: SpeculationStore) -> None:
    assert store.start(PENDING, NOW)
    assert not store.start(PENDING, NOW)
    assert store.get("c-9", 3, "what time do you close", NOW) == PENDING


def test_a_finished_speculation_comes_back_with_its_work_and_usage(store: SpeculationStore) -> None:
    store.start(PENDING, NOW)
    work = ModelRun(attempts=(Attempt(1, "ok", ANSWER, "routed"),), give_up_reason="")
    ready = replace(PENDING, state=SpeculationState.READY, work=work, usage=tokens("gpt-6-luna", 300, 12))
    store.finish(ready, NOW)
    assert store.get("c-9", 3, "what time do you close", NOW) == ready
    assert store.load_all("c-9", NOW) == (ready,)


def test_other_words_or_another_turn_find_nothing(store: SpeculationStore) -> None:
    store.start(PENDING, NOW)
    assert store.get("c-9", 3, "what time do you open", NOW) is None
    assert store.get("c-9", 4, "what time do you close", NOW) is None


def test_a_speculation_is_found_by_its_key_and_keeps_the_words_as_heard(store: SpeculationStore) -> None:
    store.start(PENDING, NOW)
    found = store.get("c-9", 3, "what time do you close", NOW)
    assert found is not None and found.transcript == "What time do you close, um?"
    assert store.get("c-9", 3, "What time do you close, um?", NOW) is None  # the words are no key


def test_other_words_with_the_same_key_do_not_start_a_second_speculation(store: SpeculationStore) -> None:
    assert store.start(PENDING, NOW)
    assert not store.start(replace(PENDING, transcript="what time do you close please"), NOW)
