"""``SessionStore`` in process memory: the fake for unit tests and the contract suite.

Keeps the same rules as the DynamoDB store (conditional writes, TTL ignored on read), so the
contract suite can run the same cases on both.
"""

from __future__ import annotations

import threading
from typing import TypeVar

from chalicelib.domain.session import Session, TurnRecord
from chalicelib.errors import SessionVersionConflictError, TurnAlreadyRecordedError

T = TypeVar("T")


class InMemorySessionStore:
    def __init__(self, ttl_seconds: int = 2 * 24 * 3600) -> None:
        self._ttl_ms = ttl_seconds * 1000
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[Session, int]] = {}  # contact -> (session, expires_at_ms)
        self._turns: dict[tuple[str, int], tuple[TurnRecord, int]] = {}

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        with self._lock:
            return _live(self._sessions.get(contact_id), now_ms)

    def load_turn(self, contact_id: str, seq: int, now_ms: int) -> TurnRecord | None:
        with self._lock:
            return _live(self._turns.get((contact_id, seq)), now_ms)

    def commit_turn(self, turn: TurnRecord, session: Session, now_ms: int) -> Session:
        with self._lock:
            if _live(self._turns.get((turn.contact_id, turn.seq)), now_ms) is not None:
                raise TurnAlreadyRecordedError(f"turn {turn.seq} is already recorded")
            current = _live(self._sessions.get(session.contact_id), now_ms)
            if (current.version if current else 0) != session.version:
                raise SessionVersionConflictError(f"session changed since version {session.version}")
            stored = session.evolve(version=session.version + 1)
            expires_at = now_ms + self._ttl_ms
            self._turns[(turn.contact_id, turn.seq)] = (turn, expires_at)
            self._sessions[session.contact_id] = (stored, expires_at)
            return stored

    def save_session(self, session: Session, now_ms: int) -> Session:
        with self._lock:
            current = _live(self._sessions.get(session.contact_id), now_ms)
            if (current.version if current else 0) != session.version:
                raise SessionVersionConflictError(f"session changed since version {session.version}")
            stored = session.evolve(version=session.version + 1)
            self._sessions[session.contact_id] = (stored, now_ms + self._ttl_ms)
            return stored

    def load_turns(self, contact_id: str, now_ms: int) -> tuple[TurnRecord, ...]:
        with self._lock:
            found = [
                (seq, _live(entry, now_ms)) for (contact, seq), entry in self._turns.items() if contact == contact_id
            ]
            return tuple(record for _, record in sorted(found, key=lambda pair: pair[0]) if record is not None)

    def expire_all(self) -> None:
        """Make every item expired but still present, as DynamoDB leaves them for a while."""
        with self._lock:
            self._sessions = {k: (s, 0) for k, (s, _) in self._sessions.items()}
            self._turns = {k: (t, 0) for k, (t, _) in self._turns.items()}


def _live(entry: tuple[T, int] | None, now_ms: int) -> T | None:
    if entry is None or entry[1] <= now_ms:
        return None
    return entry[0]
