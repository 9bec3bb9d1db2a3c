"""``SpeculationStore`` in memory: for tests and single-process runs. Thread-safe. Keyed like the
DynamoDB store: contact, turn and the words' key (``Speculation.key``)."""

from __future__ import annotations

import threading

from chalicelib.domain.speculation import Speculation


class InMemorySpeculationStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, int, str], Speculation] = {}
        self._lock = threading.Lock()

    def start(self, speculation: Speculation, now_ms: int) -> bool:
        key = (speculation.contact_id, speculation.seq, speculation.key)
        with self._lock:
            if key in self._items:
                return False
            self._items[key] = speculation
            return True

    def finish(self, speculation: Speculation, now_ms: int) -> None:
        with self._lock:
            self._items[(speculation.contact_id, speculation.seq, speculation.key)] = speculation

    def get(self, contact_id: str, seq: int, key: str, now_ms: int) -> Speculation | None:
        with self._lock:
            return self._items.get((contact_id, seq, key))

    def load_all(self, contact_id: str, now_ms: int) -> tuple[Speculation, ...]:
        with self._lock:
            return tuple(s for (contact, _, _), s in sorted(self._items.items()) if contact == contact_id)
