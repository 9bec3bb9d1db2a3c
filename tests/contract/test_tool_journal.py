"""One journal contract, two journals: in memory and DynamoDB (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from chalicelib.adapters.dynamodb_journal import DynamoDbToolJournal
from chalicelib.adapters.memory_journal import InMemoryToolJournal
from chalicelib.domain.ports import ToolJournal
from chalicelib.domain.tools import JournalEntry, JournalState, arguments_hash, idempotency_key

NOW = 1_700_000_000_000
ARGS = '{"account_id": "acc-550911", "amount": 150, "pay_on": "2026-12-01"}'


@pytest.fixture(params=["in_memory", "dynamodb"])
def journal(request: pytest.FixtureRequest) -> Iterator[ToolJournal]:
    if request.param == "in_memory":
        yield InMemoryToolJournal()
    else:
        yield DynamoDbToolJournal(request.getfixturevalue("moto_dynamodb"), "switchboard-dev-sessions", 3600)


def entry(arguments: str = ARGS, index: int = 0) -> JournalEntry:
    return JournalEntry("c-1", 4, index, "create_payment_arrangement", arguments, arguments_hash(arguments),
                        idempotency_key("c-1", 4, index, "create_payment_arrangement"))  # fmt: skip


def test_a_new_call_is_journaled_pending(journal: ToolJournal) -> None:
    assert journal.begin(entry(), NOW) == entry()


def test_a_second_begin_returns_the_first_entry_whatever_its_arguments(journal: ToolJournal) -> None:
    journal.begin(entry(), NOW)
    other = entry('{"account_id": "acc-550911", "amount": 9999, "pay_on": "2026-12-24"}')
    existing = journal.begin(other, NOW)
    assert (existing.arguments_json, existing.idempotency_key, existing.state) == (ARGS, entry().idempotency_key,
                                                                                   JournalState.PENDING)  # fmt: skip


def test_a_finished_call_is_returned_done_with_its_result(journal: ToolJournal) -> None:
    first = journal.begin(entry(), NOW)
    journal.finish(replace(first, state=JournalState.DONE, result_json='{"arrangement_id": "arr-1"}'), NOW)
    again = journal.begin(entry(), NOW)
    assert (again.state, again.result_json) == (JournalState.DONE, '{"arrangement_id": "arr-1"}')


def test_calls_of_a_turn_are_journaled_separately(journal: ToolJournal) -> None:
    journal.begin(entry(index=0), NOW)
    second = journal.begin(entry(index=1), NOW)
    assert second.index == 1 and second.state is JournalState.PENDING


def test_keys_differ_by_turn_and_index_but_not_by_retry() -> None:
    assert idempotency_key("c", 1, 0, "t") == idempotency_key("c", 1, 0, "t")
    assert len({idempotency_key("c", 1, 0, "t"), idempotency_key("c", 2, 0, "t"), idempotency_key("c", 1, 1, "t")}) == 3
    assert arguments_hash('{"b": 1, "a": 2}') == arguments_hash('{"a":2,"b":1}')
