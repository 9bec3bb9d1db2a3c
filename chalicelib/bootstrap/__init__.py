"""Composition root: builds the adapters and use cases once per container, lazily.

Nothing is built at import time: a cold start pays only for what the invoked handler uses. The
parts are composed from one module per area (``clients``, ``turn``, ``handover``, ``speech``,
``vault``); this module holds the container itself and what every handler uses: the clock, the
meter, the tracer, the metered invocation and the turn's deadline. Tests and ``sim/`` call
``reset()`` to rebuild after changing the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.data_files import DATA
from chalicelib.adapters.invocation_report import Reporter, function_cost_metric, metered, turn_metrics
from chalicelib.adapters.lambda_deadline import turn_deadline
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.bootstrap.clients import AwsClients
from chalicelib.bootstrap.handover import HandoverParts
from chalicelib.bootstrap.speech import SpeechParts
from chalicelib.bootstrap.turn import TurnParts
from chalicelib.bootstrap.vault import VaultParts
from chalicelib.domain.deadline import Deadline
from chalicelib.settings import Settings, get_settings
from chalicelib.usecases.warm_up import warm_up

__all__ = ["DATA", "Container", "container", "reset"]


class Container(TurnParts, HandoverParts, SpeechParts, VaultParts, AwsClients):
    """The adapters and use cases of one Lambda container.

    ``reporters``: who hears of each invocation's usage, timings and cost besides its metrics
    (none when deployed; ``sim/`` listens here for its reports).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = SystemClock()
        self.meter = InvocationMeter(tracer=self.tracer)
        self.reporters: list[Reporter] = []
        self.opened: list[Any] = []  # connections the container opened (tool transports)

    @cached_property
    def tracer(self) -> Any:
        """Powertools Tracer (X-Ray), only when enabled: its import costs about half a second."""
        if not self.settings.tracing_enabled:
            return None
        from aws_lambda_powertools import Tracer  # noqa: PLC0415 - lazy, opt-in

        return Tracer(service="switchboard")

    @contextmanager
    def metered_invocation(self, context: Any, function: str = "turn") -> Iterator[InvocationMeter]:
        """Meter one invocation of ``function`` and report it when it ends: the turn's latency,
        deadline and cost metrics, any other function's cost (``adapters/invocation_report``)."""
        is_turn = function == "turn"
        reporters = [turn_metrics if is_turn else function_cost_metric, *self.reporters]
        hard_ms = (lambda: self.envelope.hard_deadline_ms) if is_turn else None
        with metered(self.meter, lambda: self.prices, function, context, reporters, hard_ms) as meter:
            yield meter

    def turn_deadline(self, context: Any, started_at_ms: float | None = None) -> Deadline:
        """The turn's deadlines from the envelope; the hard one shorter if Lambda has less left."""
        started = self.clock.monotonic_ms() if started_at_ms is None else started_at_ms
        return turn_deadline(self.envelope, started, context)

    def warm_up(self) -> dict[str, str]:
        """Build everything a turn needs while the greeting plays (the flow's warm-up invocation)."""
        self.handle_turn  # noqa: B018 - builds the store, its client, policy, tiers, prices
        self.dynamodb_client.meta.endpoint_url  # noqa: B018 - the client itself is built lazily by boto3
        return warm_up(self.tool_runner, self.model_client, self.tiers)

    def close(self) -> None:
        """Close the connections the container opened (a Lambda container just ends; an
        embedding process — tests, the simulator — closes them)."""
        for transport in self.opened:
            close = getattr(transport, "close", None)
            if callable(close):
                close()
        self.opened.clear()


_container: Container | None = None


def container() -> Container:
    """The container's services, built on first use."""
    global _container  # noqa: PLW0603 - one composition root per Lambda container
    if _container is None:
        _container = Container(get_settings())
    return _container


def reset() -> None:
    """Forget settings and services (tests, and sim/ after it changes the environment)."""
    global _container  # noqa: PLW0603
    _container = None
    get_settings.cache_clear()
