"""``ContactAttributes`` in process memory: the recording fake for ``sim/`` and tests (moto has
no Amazon Connect contact API), and what a stage without a Connect instance id uses."""

from __future__ import annotations

import threading


class InMemoryContactAttributes:
    """Records every update and keeps the attributes per contact, as Connect merges them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attributes: dict[str, dict[str, str]] = {}
        self.updates: list[tuple[str, dict[str, str]]] = []

    def update(self, contact_id: str, attributes: dict[str, str]) -> None:
        with self._lock:
            self.updates.append((contact_id, dict(attributes)))
            self.attributes.setdefault(contact_id, {}).update(attributes)
