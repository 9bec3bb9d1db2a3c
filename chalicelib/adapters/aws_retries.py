"""Retries a voice turn can afford.

botocore's standard retry mode sleeps ``random() * 2 ** (attempt - 1)`` seconds after a
throttling error: up to a second before the first retry, more than a 2.5 s turn can spare once
the model has had its share (``sim load`` with DynamoDB throttling measured turns answered past
the hard deadline). ``short_backoff`` keeps botocore's own retry conditions, attempt counting and
retry quota, and replaces only the backoff: full jitter over ``base_ms * 2 ** (attempt - 1)``,
capped at ``cap_ms``.
"""

from __future__ import annotations

import random
from typing import Any


class ShortBackoff:
    """botocore ``BaseRetryBackoff``: full jitter, milliseconds-scale, capped."""

    def __init__(self, base_ms: float, cap_ms: float, rng: Any = random.random) -> None:
        self._base_ms = base_ms
        self._cap_ms = cap_ms
        self._random = rng

    def delay_amount(self, context: Any) -> float:
        """Seconds to wait before the retry after attempt ``context.attempt_number``."""
        ceiling = min(self._cap_ms, self._base_ms * 2 ** (context.attempt_number - 1))
        return float(self._random() * ceiling / 1000)


def short_backoff(client: Any, max_attempts: int, base_ms: float = 25.0, cap_ms: float = 100.0) -> None:
    """Give ``client`` botocore's standard retries with ``ShortBackoff`` in place of its backoff."""
    from botocore.retries import quota, standard  # noqa: PLC0415 - with the client, lazily

    service = client.meta.service_model.service_id.hyphenize()
    unique_id = f"retry-config-{service}"
    client.meta.events.unregister(f"needs-retry.{service}", unique_id=unique_id)
    adapter = standard.RetryEventAdapter()
    detector = standard.ThrottlingErrorDetector(adapter)
    retry_quota = standard.RetryQuotaChecker(quota.RetryQuota(), detector)
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=ShortBackoff(base_ms, cap_ms),
        ),
        retry_event_adapter=adapter,
        retry_quota=retry_quota,
        service_name=service,
    )
    client.meta.events.register(f"after-call.{service}", retry_quota.release_retry_quota)
    client.meta.events.register(f"needs-retry.{service}", handler.needs_retry, unique_id=unique_id)
