"""One invocation's usage, timings and cost, reported when it ends.

``metered`` drains the container's meter before the handler runs (nothing of an earlier,
interrupted invocation is charged to this one) and after it, adds Lambda's own usage (requests
and GB-seconds), prices everything with the ledger and hands the ``InvocationReport`` to each
reporter. Every function of the app is metered, so a long-lived consumer's meter never keeps
what it recorded. The turn's reporter emits its latency per component, deadline misses and
cost (EMF, the dashboard's metrics); the other functions' reporter emits their cost only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.adapters.usage_meter import InvocationMeter, invocation_cost, lambda_usage
from chalicelib.domain.ledger import PriceBook
from chalicelib.domain.usage import Usage
from chalicelib.observability import MetricUnit, logger, metrics

DEFAULT_MEMORY_MB = 1024


@dataclass(frozen=True)
class InvocationReport:
    """What one invocation of ``function`` used, how long each part took, what it cost."""

    function: str
    usage: tuple[Usage, ...]
    latency_ms: dict[str, float]  # per component, and "handler" for the whole invocation
    deadline_met: bool
    cost: dict[str, Any]  # the ledger's figures: cost_usd, and by component

    @property
    def cost_usd(self) -> Decimal:
        return Decimal(self.cost["cost_usd"])


Reporter = Callable[[InvocationReport], None]


def turn_metrics(report: InvocationReport) -> None:
    """EMF for a turn: ``Latency.<component>``, ``Latency.handler``, ``DeadlineMisses``,
    ``TurnCostMicroUsd``."""
    for component, ms in report.latency_ms.items():
        metrics.add_metric(name=f"Latency.{component}", unit=MetricUnit.Milliseconds, value=ms)
    metrics.add_metric(name="DeadlineMisses", unit=MetricUnit.Count, value=int(not report.deadline_met))
    metrics.add_metric(name="TurnCostMicroUsd", unit=MetricUnit.Count, value=float(report.cost_usd * 1_000_000))


def function_cost_metric(report: InvocationReport) -> None:
    """EMF for any other function: what the invocation cost (``CostMicroUsd.<function>``)."""
    metrics.add_metric(
        name=f"CostMicroUsd.{report.function}", unit=MetricUnit.Count, value=float(report.cost_usd * 1_000_000)
    )


@contextmanager
def metered(
    meter: InvocationMeter,
    prices: Callable[[], PriceBook],
    function: str,
    context: Any,
    reporters: Sequence[Reporter],
    hard_deadline_ms: Callable[[], float] | None = None,
) -> Iterator[InvocationMeter]:
    """Meter one invocation of ``function``; report it to ``reporters`` when it ends.

    Args:
        prices: the price book, asked for only when the invocation ends (a handler that fails
            to start still answers).
        hard_deadline_ms: the deadline the invocation is held to (the turn's), or None; asked for
            at the end too (an envelope that does not load is reported as a miss, not a crash).
    """
    meter.drain()
    started = time.perf_counter()
    try:
        yield meter
    finally:
        handler_ms = (time.perf_counter() - started) * 1000
        memory_mb = int(getattr(context, "memory_limit_in_mb", 0) or DEFAULT_MEMORY_MB)
        for item in lambda_usage(memory_mb, handler_ms):
            meter.record(item)
        usage, timings = meter.drain()
        try:
            report = InvocationReport(
                function=function,
                usage=usage,
                latency_ms={**timings, "handler": handler_ms},
                deadline_met=_met(handler_ms, hard_deadline_ms),
                cost=invocation_cost(usage, prices()),
            )
            for reporter in reporters:
                reporter(report)
        except Exception:  # noqa: BLE001 - accounting must never break the answer
            logger.exception("invocation not reported", extra={"function": function, "usage_items": len(usage)})


def _met(handler_ms: float, hard_deadline_ms: Callable[[], float] | None) -> bool:
    if hard_deadline_ms is None:
        return True
    try:
        return handler_ms <= hard_deadline_ms()
    except Exception:  # noqa: BLE001 - a container that cannot load its envelope missed it
        logger.exception("deadline unknown: the envelope did not load")
        return False
