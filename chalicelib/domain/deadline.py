"""The turn's deadline: how much of the hard budget is left."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """A hard deadline measured on a monotonic millisecond clock."""

    started_at_ms: float
    hard_ms: float

    @property
    def due_at_ms(self) -> float:
        return self.started_at_ms + self.hard_ms

    def remaining_ms(self, now_ms: float) -> float:
        return max(0.0, self.due_at_ms - now_ms)

    def allows(self, now_ms: float, needed_ms: float) -> bool:
        """True when ``needed_ms`` still fits before the deadline."""
        return self.remaining_ms(now_ms) >= needed_ms
