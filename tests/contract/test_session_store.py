"""One contract, two stores: the in-memory fake and DynamoDB (moto) behave the same."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore, contact_pk
from chalicelib.adapters.language_files import load_languages
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.domain.conversation import Source, TurnRequest
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.ports import SessionStore
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.domain.session import Session
from chalicelib.errors import SessionVersionConflictError, TurnAlreadyRecordedError
from tests.languages import EN

NOW = 1_700_000_000_000
TTL_SECONDS = 3600
TABLE = "switchboard-dev-sessions"


@pytest.fixture(params=["in_memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[SessionStore]:
    if request.param == "in_memory":
        yield InMemorySessionStore(ttl_seconds=TTL_SECONDS)
    else:
        client = request.getfixturevalue("moto_dynamodb")
        yield DynamoDbSessionStore(client, TABLE, ttl_seconds=TTL_SECONDS)


def first_turn(
    words: str = "my account is 4 4 7 1", contact: str = "c-1", seq: int = 1, session: Session | None = None
) -> Any:
    req = TurnRequest(contact_id=contact, seq=seq, utterance=words, source=Source.CONNECT)
    return answer_with_rules(session, req, seq, NOW, DialoguePolicy(), words=EN.rules)


def test_nothing_stored_loads_as_none(store: SessionStore) -> None:
    assert store.load("nobody", NOW) is None
    assert store.load_turn("nobody", 1, NOW) is None


def test_committed_turn_and_session_read_back_equal(store: SessionStore) -> None:
    outcome = first_turn()
    stored = store.commit_turn(outcome.record, outcome.session, NOW)
    assert stored.version == 1
    assert store.load("c-1", NOW) == stored
    assert store.load_turn("c-1", 1, NOW) == outcome.record


def test_the_calls_language_is_stored_with_the_session_and_the_turn(store: SessionStore) -> None:
    req = TurnRequest(contact_id="c-es", seq=1, utterance="4 4 7 1", source=Source.CONNECT, language="es_US")
    outcome = answer_with_rules(None, req, 1, NOW, DialoguePolicy(languages=load_languages()))
    store.commit_turn(outcome.record, outcome.session, NOW)
    loaded, turn = store.load("c-es", NOW), store.load_turn("c-es", 1, NOW)
    assert loaded is not None and loaded.language == "es-US"
    assert turn is not None and turn.language == "es-US" and turn.reply.text.startswith("Le escuché ")


def test_second_commit_of_the_same_turn_is_refused(store: SessionStore) -> None:
    outcome = first_turn()
    store.commit_turn(outcome.record, outcome.session, NOW)
    with pytest.raises(TurnAlreadyRecordedError):
        store.commit_turn(outcome.record, outcome.session, NOW)


def test_commit_from_a_stale_version_is_refused_and_changes_nothing(store: SessionStore) -> None:
    outcome = first_turn()
    v1 = store.commit_turn(outcome.record, outcome.session, NOW)
    second = first_turn("yes", seq=2, session=v1)
    store.commit_turn(second.record, second.session, NOW)
    third = first_turn("no", seq=3, session=v1)  # computed from version 1, but 2 is stored
    with pytest.raises(SessionVersionConflictError):
        store.commit_turn(third.record, third.session, NOW)
    assert store.load_turn("c-1", 3, NOW) is None
    assert store.load("c-1", NOW).version == 2  # type: ignore[union-attr]


def test_creating_a_session_that_exists_is_a_conflict(store: SessionStore) -> None:
    a = first_turn("hi")
    store.commit_turn(a.record, a.session, NOW)
    b = first_turn("hello", seq=2)  # computed as if no session existed (version 0)
    with pytest.raises(SessionVersionConflictError):
        store.commit_turn(b.record, b.session, NOW)


def test_expired_items_are_ignored_on_read_and_free_for_writes(store: SessionStore) -> None:
    outcome = first_turn()
    store.commit_turn(outcome.record, outcome.session, NOW)
    later = NOW + (TTL_SECONDS + 1) * 1000
    assert store.load("c-1", later) is None
    assert store.load_turn("c-1", 1, later) is None
    again = first_turn()
    assert store.commit_turn(again.record, again.session, later).version == 1


def test_contacts_do_not_see_each_other(store: SessionStore) -> None:
    a = first_turn(contact="c-a")
    store.commit_turn(a.record, a.session, NOW)
    assert store.load("c-b", NOW) is None


def test_dynamodb_items_carry_the_ttl_and_keys_of_the_template(moto_dynamodb: Any) -> None:
    store = DynamoDbSessionStore(moto_dynamodb, TABLE, ttl_seconds=TTL_SECONDS)
    outcome = first_turn()
    store.commit_turn(outcome.record, outcome.session, NOW)
    items = moto_dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": contact_pk("c-1")}},
    )["Items"]
    assert sorted(i["sk"]["S"] for i in items) == ["SESSION", "TURN#000001"]
    assert {int(i["expires_at"]["N"]) for i in items} == {NOW // 1000 + TTL_SECONDS}


def test_save_session_is_conditional_on_the_version(store: SessionStore) -> None:
    outcome = first_turn()
    v1 = store.commit_turn(outcome.record, outcome.session, NOW)
    v2 = store.save_session(replace(v1, negative_sentiment=True), NOW)  # type: ignore[attr-defined]
    assert v2.version == 2 and store.load("c-1", NOW).negative_sentiment  # type: ignore[union-attr]
    with pytest.raises(SessionVersionConflictError):
        store.save_session(replace(v1, categories=("late",)), NOW)  # type: ignore[attr-defined]


def test_save_session_creates_a_session_that_does_not_exist_yet(store: SessionStore) -> None:
    created = store.save_session(Session.new("c-new", NOW), NOW)  # type: ignore[attr-defined]
    assert created.version == 1
    with pytest.raises(SessionVersionConflictError):
        store.save_session(Session.new("c-new", NOW), NOW)  # type: ignore[attr-defined]


def test_load_turns_returns_every_turn_in_order(store: SessionStore) -> None:
    one = first_turn("hi")
    v1 = store.commit_turn(one.record, one.session, NOW)
    two = first_turn("agent", seq=2, session=v1)
    store.commit_turn(two.record, two.session, NOW)
    assert [t.seq for t in store.load_turns("c-1", NOW)] == [1, 2]  # type: ignore[attr-defined]
