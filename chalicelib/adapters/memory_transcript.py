"""``TranscriptStore`` in memory: for tests and single-process runs. Thread-safe."""

from __future__ import annotations

import threading

from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.errors import SessionVersionConflictError


class InMemoryTranscriptStore:
    def __init__(self) -> None:
        self._items: dict[str, tuple[LiveTranscript, int]] = {}
        self._lock = threading.Lock()

    def load(self, contact_id: str, now_ms: int) -> tuple[LiveTranscript, int]:
        with self._lock:
            return self._items.get(contact_id, (LiveTranscript(), 0))

    def save(self, contact_id: str, transcript: LiveTranscript, version: int, now_ms: int) -> int:
        with self._lock:
            stored = self._items.get(contact_id, (LiveTranscript(), 0))[1]
            if stored != version:
                raise SessionVersionConflictError(f"transcript changed since version {version}")
            self._items[contact_id] = (transcript, version + 1)
            return version + 1
