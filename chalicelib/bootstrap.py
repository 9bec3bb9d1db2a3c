"""Composition root: builds the adapters and use cases once per container, lazily.

Nothing is built at import time: a cold start pays only for what the invoked handler uses.
Tests and ``sim/`` call ``reset()`` to rebuild after changing the environment.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.domain.ports import SessionStore
from chalicelib.settings import Settings, get_settings
from chalicelib.usecases.handle_turn import HandleTurn

# Kept back from Lambda's own remaining time so the answer is rendered and returned before
# Lambda would kill the invocation.
_LAMBDA_SAFETY_MS = 200


class Container:
    """The adapters and use cases of one Lambda container."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = SystemClock()

    @cached_property
    def dynamodb_client(self) -> Any:
        import boto3  # noqa: PLC0415 - lazy: ~250 ms of cold start, only for handlers that need it
        from botocore.config import Config  # noqa: PLC0415

        s = self.settings
        config = Config(
            region_name=s.aws_region,
            connect_timeout=s.ddb_connect_timeout_ms / 1000,
            read_timeout=s.ddb_read_timeout_ms / 1000,
            retries={"mode": "standard", "total_max_attempts": s.ddb_max_attempts},
            tcp_keepalive=True,
        )
        return boto3.session.Session().client("dynamodb", endpoint_url=s.aws_endpoint_url, config=config)

    @cached_property
    def session_store(self) -> SessionStore:
        return DynamoDbSessionStore(self.dynamodb_client, self.settings.table_name, self.settings.session_ttl_seconds)

    @cached_property
    def handle_turn(self) -> HandleTurn:
        s = self.settings
        policy = DialoguePolicy(
            history_limit=s.history_limit,
            misunderstandings_before_handover=s.misunderstandings_before_handover,
            default_queue=s.default_queue,
        )
        commit_budget_ms = s.ddb_connect_timeout_ms + s.ddb_read_timeout_ms
        return HandleTurn(
            self.session_store, self.clock, policy, commit_attempts=s.commit_attempts, commit_budget_ms=commit_budget_ms
        )

    def turn_deadline(self, context: Any) -> Deadline:
        """The turn's hard deadline: the configured one, or less if Lambda has less time left."""
        hard_ms = float(self.settings.turn_hard_deadline_ms)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            hard_ms = min(hard_ms, float(remaining()) - _LAMBDA_SAFETY_MS)
        return Deadline(started_at_ms=self.clock.monotonic_ms(), hard_ms=max(hard_ms, 0.0))


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
