"""What the simulator hears of each invocation: the container's report of its usage, timings
and cost (``Container.reporters``), kept as the newest one, in the shape the reports read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not at import: Powertools reads the environment when it is first imported
    from chalicelib.adapters.invocation_report import InvocationReport


class InvocationRecorder:
    """A reporter that keeps the newest invocation's report (``last``)."""

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}

    def __call__(self, report: InvocationReport) -> None:
        self.last = {
            "function": report.function,
            "usage": report.usage,
            "latency_ms": dict(report.latency_ms),
            "deadline_met": report.deadline_met,
            **report.cost,
        }

    def listen_to(self, container: Any) -> Any:
        """Add this recorder to ``container``'s reporters (once); returns the container."""
        if self not in container.reporters:
            container.reporters.append(self)
        return container
