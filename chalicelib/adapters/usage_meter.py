"""Usage recorded during one invocation, and what it costs.

A Lambda container runs one invocation at a time, so one meter per container, drained at the
end of each invocation, holds exactly that invocation's usage. The lock is for the model
client's worker threads.
"""

from __future__ import annotations

import math
import threading
from decimal import Decimal
from typing import Any

from chalicelib.domain.ledger import PriceBook, cost_by_component, total
from chalicelib.domain.usage import Usage, UsageKind


class UsageMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: list[Usage] = []

    def record(self, usage: Usage) -> None:
        with self._lock:
            self._usage.append(usage)

    def drain(self) -> tuple[Usage, ...]:
        with self._lock:
            drained, self._usage = tuple(self._usage), []
        return drained


def lambda_usage(memory_mb: int, duration_ms: float) -> tuple[Usage, ...]:
    """One request and its GB-seconds, with duration billed in whole milliseconds."""
    billed_ms = Decimal(max(1, math.ceil(duration_ms)))
    gb_seconds = Decimal(memory_mb) / Decimal(1024) * billed_ms / Decimal(1000)
    return Usage(UsageKind.LAMBDA_REQUESTS, Decimal(1)), Usage(UsageKind.LAMBDA_GB_SECONDS, gb_seconds)


def invocation_cost(usage: tuple[Usage, ...], prices: PriceBook) -> dict[str, Any]:
    """The invocation's usage and cost, as logged and as the harness reports it."""
    costs = cost_by_component(usage, prices)
    return {"usage": usage, "cost_by_component": costs, "cost_usd": total(costs)}
