"""The turn's deadlines: how much of the hard budget is left, and whether the soft one passed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """A hard (and optional soft) deadline measured on a monotonic millisecond clock.

    Past the soft deadline a turn stops escalating or retrying and only degrades; at the hard
    deadline it must already have answered.
    """

    started_at_ms: float
    hard_ms: float
    soft_ms: float | None = None

    @property
    def due_at_ms(self) -> float:
        return self.started_at_ms + self.hard_ms

    def elapsed_ms(self, now_ms: float) -> float:
        return now_ms - self.started_at_ms

    def remaining_ms(self, now_ms: float) -> float:
        return max(0.0, self.due_at_ms - now_ms)

    def allows(self, now_ms: float, needed_ms: float) -> bool:
        """True when ``needed_ms`` still fits before the deadline."""
        return self.remaining_ms(now_ms) >= needed_ms

    def past_soft(self, now_ms: float) -> bool:
        return self.soft_ms is not None and self.elapsed_ms(now_ms) >= self.soft_ms

    def timeout_for(self, budget_ms: float, now_ms: float, reserve_ms: float = 0.0) -> float:
        """A component's timeout: its own budget, or what is left before ``reserve_ms`` must
        remain, whichever is smaller (never negative)."""
        return max(0.0, min(budget_ms, self.remaining_ms(now_ms) - reserve_ms))
