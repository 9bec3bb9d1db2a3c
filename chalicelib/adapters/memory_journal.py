"""``ToolJournal`` in process memory: the fake for unit tests, same rules as DynamoDB's."""

from __future__ import annotations

import threading
from dataclasses import replace

from chalicelib.domain.tools import JournalEntry


class InMemoryToolJournal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: dict[tuple[str, int, int], JournalEntry] = {}

    def begin(self, entry: JournalEntry, now_ms: int) -> JournalEntry:
        with self._lock:
            return self.entries.setdefault((entry.contact_id, entry.seq, entry.index), entry)

    def finish(self, entry: JournalEntry, now_ms: int) -> None:
        with self._lock:
            key = (entry.contact_id, entry.seq, entry.index)
            current = self.entries.get(key)
            if current is not None and current.idempotency_key == entry.idempotency_key:
                self.entries[key] = replace(current, state=entry.state, result_json=entry.result_json)
