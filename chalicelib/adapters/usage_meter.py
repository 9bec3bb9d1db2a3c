"""What one invocation used and how long each part took, and what it cost.

A Lambda container runs one invocation at a time, so one meter per container, drained at the
end of each invocation, holds exactly that invocation's usage and timings. The lock is for the
model client's worker threads. When tracing is on, every timed component is also an X-Ray
subsegment.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from decimal import Decimal
from typing import Any

from chalicelib.domain.ledger import PriceBook, cost_by_component, total
from chalicelib.domain.usage import Usage, UsageKind


class InvocationMeter:
    """``UsageMeter`` for one container. ``tracer``: a Powertools Tracer, or None."""

    def __init__(self, tracer: Any = None) -> None:
        self._lock = threading.Lock()
        self._usage: list[Usage] = []
        self._timings: dict[str, float] = {}
        self.tracer = tracer

    def record(self, usage: Usage) -> None:
        with self._lock:
            self._usage.append(usage)

    def record_ms(self, component: str, ms: float) -> None:
        with self._lock:
            self._timings[component] = self._timings.get(component, 0.0) + ms

    def timings(self) -> dict[str, float]:
        with self._lock:
            return dict(self._timings)

    @contextmanager
    def timed(self, component: str) -> Iterator[None]:
        started = time.perf_counter()
        with self._subsegment(component):
            try:
                yield
            finally:
                self.record_ms(component, (time.perf_counter() - started) * 1000)

    def _subsegment(self, component: str) -> AbstractContextManager[Any]:
        if self.tracer is None:
            return nullcontext()
        return self.tracer.provider.in_subsegment(f"## {component}")  # type: ignore[no-any-return]

    def drain(self) -> tuple[tuple[Usage, ...], dict[str, float]]:
        with self._lock:
            usage, timings = tuple(self._usage), dict(self._timings)
            self._usage, self._timings = [], {}
        return usage, timings


def lambda_usage(memory_mb: int, duration_ms: float) -> tuple[Usage, ...]:
    """One request and its GB-seconds, with duration billed in whole milliseconds."""
    billed_ms = Decimal(max(1, math.ceil(duration_ms)))
    gb_seconds = Decimal(memory_mb) / Decimal(1024) * billed_ms / Decimal(1000)
    return Usage(UsageKind.LAMBDA_REQUESTS, Decimal(1)), Usage(UsageKind.LAMBDA_GB_SECONDS, gb_seconds)


def invocation_cost(usage: tuple[Usage, ...], prices: PriceBook) -> dict[str, Any]:
    """The invocation's usage and cost, as logged and as the harness reports it."""
    costs = cost_by_component(usage, prices)
    return {"usage": usage, "cost_by_component": costs, "cost_usd": total(costs)}
