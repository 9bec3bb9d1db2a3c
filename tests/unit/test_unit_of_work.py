"""The one unit of work of every versioned writer: read, change, write on the version read,
re-read and re-apply on a conflict; what a missing item means and the retry budget are its
parameters."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.adapters.memory_store import InMemorySessionStore
from chalicelib.adapters.memory_transcript import InMemoryTranscriptStore
from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.domain.session import Session
from chalicelib.errors import SessionContentionError
from chalicelib.usecases.unit_of_work import IfMissing, TranscriptItems, update, update_session
from tests.fakes import ManualClock

LIB = Path(__file__).resolve().parents[2] / "chalicelib"


def test_a_missing_session_is_created_when_the_writer_says_so() -> None:
    store, clock = InMemorySessionStore(), ManualClock()
    done = update_session(store, clock, "c-1", lambda s: replace(s, categories=("x",)), if_missing=IfMissing.CREATE)
    assert done.written and done.item is not None and done.item.version == 1
    assert store.load("c-1", clock.now) == done.item


def test_a_missing_session_is_left_missing_and_nothing_is_written() -> None:
    store, clock = InMemorySessionStore(), ManualClock()
    done = update_session(store, clock, "c-1", lambda s: replace(s, categories=("x",)), if_missing=IfMissing.LEAVE)
    assert (done.item, done.written) == (None, False)
    assert store.load("c-1", clock.now) is None


def test_nothing_to_change_writes_nothing() -> None:
    store, clock = InMemorySessionStore(), ManualClock()
    stored = store.save_session(Session.new("c-1", clock.now), clock.now)
    for unchanged in (lambda s: None, lambda s: s):
        done = update_session(store, clock, "c-1", unchanged, if_missing=IfMissing.CREATE)
        assert (done.item, done.written) == (stored, False)


def test_a_conflicting_write_is_re_read_and_re_applied() -> None:
    store, clock = InMemorySessionStore(), ManualClock()
    store.save_session(Session.new("c-1", clock.now), clock.now)
    raced = []

    def add_category(session: Session) -> Session:
        if not raced:  # another writer gets in between this read and the write
            raced.append(1)
            other = store.load("c-1", clock.now)
            assert other is not None
            store.save_session(replace(other, negative_sentiment=True), clock.now)
        return replace(session, categories=(*session.categories, "billing"))

    done = update_session(store, clock, "c-1", add_category, if_missing=IfMissing.LEAVE)
    assert done.conflicts == 1 and done.item is not None
    assert (done.item.negative_sentiment, done.item.categories, done.item.version) == (True, ("billing",), 3)


def test_a_session_that_keeps_changing_is_contention_after_the_budget() -> None:
    store, clock = InMemorySessionStore(), ManualClock()
    store.save_session(Session.new("c-1", clock.now), clock.now)

    def always_raced(session: Session) -> Session:
        current = store.load("c-1", clock.now)
        assert current is not None
        store.save_session(replace(current, holds=current.holds + 1), clock.now)
        return replace(session, categories=("x",))

    with pytest.raises(SessionContentionError, match="after 3 attempt"):
        update_session(store, clock, "c-1", always_raced, if_missing=IfMissing.LEAVE, attempts=3)


def test_the_transcript_goes_through_the_same_unit_of_work() -> None:
    store, clock = InMemoryTranscriptStore(), ManualClock()
    items = TranscriptItems(store)
    first = update(items, clock, "c-1", lambda t: t, if_missing=IfMissing.CREATE)
    assert first.written and store.load("c-1", clock.now) == (LiveTranscript(), 1)
    again = update(items, clock, "c-1", lambda t: replace(t, speech_status="ended"), if_missing=IfMissing.CREATE)
    assert again.written and store.load("c-1", clock.now) == (LiveTranscript(speech_status="ended"), 2)


def test_no_other_module_retries_on_a_version_conflict() -> None:
    """One mechanism: ``unit_of_work.retry_on_conflict`` is the only place that catches a conflict."""
    catching = []
    for path in sorted(LIB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and "SessionVersionConflictError" in ast.unparse(node.type or node):
                catching.append(str(path.relative_to(LIB)))
    assert catching == []  # retry_on_conflict catches the conflicts it is given, by parameter
