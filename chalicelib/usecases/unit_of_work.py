"""One unit of work for every writer of a versioned item (invariant 3: no lost update).

Read the item, apply the change, write it on condition of the version read; when another writer
changed it in between, read again and re-apply. ``retry_on_conflict`` is that loop, the only one:
the session's writers (the stream consumers, the handover tasks) and the transcriber's live
transcript reach it through ``update``, the turn's commit directly (its read also decides whether
the delivery is a duplicate, and its write is the turn's transaction). What differs between the
writers is a parameter: what a missing item means (``IfMissing``) and the retry budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.domain.ports import Clock, SessionRepository, TranscriptStore
from chalicelib.domain.session import Session
from chalicelib.errors import SessionContentionError, SessionVersionConflictError

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

WRITE_ATTEMPTS = 5


class IfMissing(StrEnum):
    """What a writer does when the contact has no item yet."""

    CREATE = "create"  # start from a new one and write it (the call may not have reached the bot yet)
    LEAVE = "leave"  # write nothing: ``Updated.item`` is None, the writer decides what that means


@dataclass(frozen=True)
class Versioned(Generic[T]):
    item: T
    version: int  # 0: not stored yet


@dataclass(frozen=True)
class Updated(Generic[T]):
    """What ``update`` did: the item as stored (or as read, when there was nothing to write;
    None when it was missing and left so), whether it wrote, and the conflicts it re-applied."""

    item: T | None
    written: bool
    conflicts: int


@dataclass(frozen=True)
class Attempted(Generic[R]):
    result: R
    writes: int  # writes tried (0: settled by the first read)


class VersionedItems(Protocol[T]):
    """One versioned item per contact, as the unit of work reads and writes it."""

    def read(self, contact_id: str, now_ms: int) -> Versioned[T] | None: ...

    def create(self, contact_id: str, now_ms: int) -> T: ...

    def write(self, contact_id: str, item: T, version: int, now_ms: int) -> T:
        """Store ``item`` if the stored one still has ``version``.

        Raises:
            SessionVersionConflictError: another writer changed it since.
        """
        ...


def retry_on_conflict(
    read: Callable[[], S],
    settled: Callable[[S], R | None],
    write: Callable[[S], R],
    *,
    attempts: int,
    what: str,
    conflicts: tuple[type[Exception], ...] = (SessionVersionConflictError,),
    may_retry: Callable[[], bool] = lambda: True,
) -> Attempted[R]:
    """Read; unless ``settled`` answers from what was read, ``write`` it. A write refused with one
    of ``conflicts`` (another writer got there first) is read again and re-applied, up to
    ``attempts`` writes, a retry only while ``may_retry()``.

    Raises:
        SessionContentionError: the item kept changing until the attempts or the time ran out.
    """
    writes = 0
    while True:
        state = read()
        done = settled(state)
        if done is not None:
            return Attempted(done, writes)
        if writes >= attempts or (writes > 0 and not may_retry()):
            raise SessionContentionError(f"{what} not written after {writes} attempt(s)")
        writes += 1
        try:
            return Attempted(write(state), writes)
        except conflicts:
            continue


def update(
    items: VersionedItems[T],
    clock: Clock,
    contact_id: str,
    change: Callable[[T], T | None],
    *,
    if_missing: IfMissing,
    attempts: int = WRITE_ATTEMPTS,
    what: str = "item",
) -> Updated[T]:
    """Apply ``change`` to the contact's item and write it under its version. ``change`` returns
    None (or the item unchanged) when there is nothing to write; a new item is written anyway.

    Raises:
        SessionContentionError: the item kept changing for ``attempts`` writes.
        StoreUnavailableError: the store failed.
    """

    def read() -> tuple[Versioned[T] | None, T | None, int]:
        now = clock.now_ms()
        current = items.read(contact_id, now)
        if current is None and if_missing is IfMissing.CREATE:
            current = Versioned(items.create(contact_id, now), 0)
        return current, (change(current.item) if current is not None else None), now

    def settled(state: tuple[Versioned[T] | None, T | None, int]) -> Updated[T] | None:
        current, changed, _ = state
        if current is None:
            return Updated(None, written=False, conflicts=0)
        if current.version > 0 and (changed is None or changed == current.item):
            return Updated(current.item, written=False, conflicts=0)
        return None

    def write(state: tuple[Versioned[T] | None, T | None, int]) -> Updated[T]:
        current, changed, now = state
        assert current is not None  # noqa: S101 - settled otherwise
        written = items.write(contact_id, changed if changed is not None else current.item, current.version, now)
        return Updated(written, written=True, conflicts=0)

    done = retry_on_conflict(read, settled, write, attempts=attempts, what=what)
    conflicts = done.writes - 1 if done.result.written else done.writes
    return replace(done.result, conflicts=conflicts)


class SessionItems:
    """The session as a ``VersionedItems``; every write stamps ``updated_at_ms``."""

    def __init__(self, store: SessionRepository) -> None:
        self._store = store

    def read(self, contact_id: str, now_ms: int) -> Versioned[Session] | None:
        session = self._store.load(contact_id, now_ms)
        return None if session is None else Versioned(session, session.version)

    def create(self, contact_id: str, now_ms: int) -> Session:
        return Session.new(contact_id, now_ms)

    def write(self, contact_id: str, item: Session, version: int, now_ms: int) -> Session:
        return self._store.save_session(replace(item, version=version, updated_at_ms=now_ms), now_ms)


class TranscriptItems:
    """The live transcript (its own item beside the session) as a ``VersionedItems``."""

    def __init__(self, store: TranscriptStore) -> None:
        self._store = store

    def read(self, contact_id: str, now_ms: int) -> Versioned[LiveTranscript] | None:
        live, version = self._store.load(contact_id, now_ms)
        return None if version == 0 else Versioned(live, version)

    def create(self, contact_id: str, now_ms: int) -> LiveTranscript:
        return LiveTranscript()

    def write(self, contact_id: str, item: LiveTranscript, version: int, now_ms: int) -> LiveTranscript:
        self._store.save(contact_id, item, version, now_ms)
        return item


def update_session(
    store: SessionRepository,
    clock: Clock,
    contact_id: str,
    change: Callable[[Session], Session | None],
    *,
    if_missing: IfMissing,
    attempts: int = WRITE_ATTEMPTS,
) -> Updated[Session]:
    """``update`` of the contact's session (see there)."""
    return update(SessionItems(store), clock, contact_id, change, if_missing=if_missing, attempts=attempts,
                  what="session")  # fmt: skip
