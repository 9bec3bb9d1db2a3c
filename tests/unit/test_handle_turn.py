"""The turn use case on the in-memory store: idempotency, races, deadlines."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from chalicelib.adapters.data_files import load_envelope
from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.domain.conversation import Action, Source, TurnRequest
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.rule_replies import answer_with_rules
from chalicelib.errors import SessionContentionError
from chalicelib.usecases.handle_turn import HandleTurn
from tests.fakes import BarrierSessionStore, ManualClock, RecordingSessionStore
from tests.languages import EN

POLICY = DialoguePolicy()
ENVELOPE = load_envelope()


def request(words: str, seq: int = 1, contact: str = "c-1") -> TurnRequest:
    return TurnRequest(contact_id=contact, seq=seq, utterance=words, source=Source.CONNECT)


def deadline(clock: ManualClock, hard_ms: float = 2_500) -> Deadline:
    return Deadline(started_at_ms=clock.monotonic_ms(), hard_ms=hard_ms)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> RecordingSessionStore:
    return RecordingSessionStore(InMemorySessionStore())


def test_new_turn_is_one_load_and_one_commit(store: RecordingSessionStore, clock: ManualClock) -> None:
    result = HandleTurn(store, clock, POLICY, ENVELOPE, words=EN)(request("hello"), deadline(clock))
    assert store.calls == ["load", "commit_turn"]
    assert (result.seq, result.next_seq, result.duplicate) == (1, 2, False)
    stored = store.inner.load("c-1", clock.now)
    assert stored is not None and stored.version == 1 and stored.last_seq == 1


def test_duplicate_delivery_returns_the_stored_reply_with_one_load(
    store: RecordingSessionStore, clock: ManualClock
) -> None:
    handle = HandleTurn(store, clock, POLICY, ENVELOPE, words=EN)
    first = handle(request("my account is 4 4 7 1"), deadline(clock))
    store.calls.clear()
    clock.advance(1_500)
    again = handle(request("my account is 4 4 7 1"), deadline(clock))
    assert store.calls == ["load"]
    assert again.duplicate and again.reply == first.reply and again.next_seq == 2
    assert store.inner.load("c-1", clock.now).version == 1  # type: ignore[union-attr]


def test_version_race_rereads_and_reapplies_on_fresh_state(store: RecordingSessionStore, clock: ManualClock) -> None:
    handle = HandleTurn(store, clock, POLICY, ENVELOPE, words=EN)
    handle(request("my account is 4 4 7 1 9"), deadline(clock))

    def another_writer() -> None:  # e.g. the segments consumer, between our read and our write
        current = store.inner.load("c-1", clock.now)
        assert current is not None
        store.inner.commit_turn(
            answer_with_rules(current, request("hello", 9, "c-1"), 9, clock.now, POLICY, words=EN.rules).record,
            replace(current, misunderstandings=0),
            clock.now,
        )

    store.before_commit = another_writer
    result = handle(request("yes", 2), deadline(clock))
    assert store.calls[-4:] == ["load", "commit_turn", "load", "commit_turn"]
    assert result.attempts == 2 and not result.duplicate
    final = store.inner.load("c-1", clock.now)
    assert final is not None and final.version == 3 and final.account_number == "44719"


def test_concurrent_duplicates_all_answer_with_the_one_stored_reply(clock: ManualClock) -> None:
    inner = InMemorySessionStore()
    parties = 3
    handle = HandleTurn(
        BarrierSessionStore(inner, threading.Barrier(parties, timeout=10)), clock, POLICY, ENVELOPE, words=EN
    )
    results = []
    lock = threading.Lock()

    def deliver() -> None:
        result = handle(request("my account is 5 5 1 2"), deadline(clock))
        with lock:
            results.append(result)

    threads = [threading.Thread(target=deliver) for _ in range(parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == parties
    assert len({r.reply for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert inner.load("c-1", clock.now).version == 1  # type: ignore[union-attr]


def test_contention_beyond_the_attempts_raises_a_named_error(store: RecordingSessionStore, clock: ManualClock) -> None:
    handle = HandleTurn(store, clock, POLICY, ENVELOPE, words=EN, commit_attempts=2)
    handle(request("hi"), deadline(clock))

    def bump() -> None:
        current = store.inner.load("c-1", clock.now)
        assert current is not None
        store.inner.commit_turn(answer_with_rules(current, request("x", 50 + len(store.calls)), 50 + len(store.calls),
                                            clock.now, POLICY, words=EN.rules).record, current, clock.now)  # fmt: skip
        store.before_commit = bump

    store.before_commit = bump
    with pytest.raises(SessionContentionError):
        handle(request("hello", 2), deadline(clock))


def test_no_second_attempt_when_the_deadline_has_no_room(store: RecordingSessionStore, clock: ManualClock) -> None:
    handle = HandleTurn(store, clock, POLICY, ENVELOPE, words=EN, commit_attempts=5)
    handle(request("hi"), deadline(clock))
    turn_deadline = deadline(clock, hard_ms=1_000)

    def slow_other_writer() -> None:
        clock.advance(900)
        current = store.inner.load("c-1", clock.now)
        assert current is not None
        store.inner.commit_turn(
            answer_with_rules(current, request("x", 7), 7, clock.now, POLICY, words=EN.rules).record, current, clock.now
        )

    store.before_commit = slow_other_writer
    with pytest.raises(SessionContentionError):
        handle(request("hello", 2), turn_deadline)
    assert store.calls.count("commit_turn") == 2  # the first turn's commit and one attempt


def test_stale_sequence_with_new_words_is_processed_as_the_next_turn(
    store: RecordingSessionStore, clock: ManualClock
) -> None:
    handle = HandleTurn(store, clock, POLICY, ENVELOPE, words=EN)
    handle(request("hi"), deadline(clock))
    result = handle(request("agent please", 1), deadline(clock))
    assert (result.seq, result.reply.action, result.duplicate) == (2, Action.HANDOVER, False)


def test_expired_session_is_ignored_and_replaced(clock: ManualClock) -> None:
    inner = InMemorySessionStore()
    handle = HandleTurn(inner, clock, POLICY, ENVELOPE, words=EN)
    handle(request("my account is 4 4 7 1"), deadline(clock))
    inner.expire_all()
    result = handle(request("my account is 4 4 7 1"), deadline(clock))
    assert not result.duplicate
    assert inner.load("c-1", clock.now).version == 1  # type: ignore[union-attr]
