"""The turn's deadlines: the envelope's, the hard one shortened to what Lambda has left."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.deadline import Deadline
from chalicelib.domain.envelope import Envelope

# Kept back from Lambda's own remaining time so the answer is rendered and returned before
# Lambda would kill the invocation.
LAMBDA_SAFETY_MS = 200


def turn_deadline(envelope: Envelope, started_at_ms: float, context: Any) -> Deadline:
    """The envelope's soft and hard deadline from ``started_at_ms`` (monotonic); the hard one
    shorter when the Lambda context has less time left."""
    hard_ms = envelope.hard_deadline_ms
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        hard_ms = min(hard_ms, float(remaining()) - LAMBDA_SAFETY_MS)
    return Deadline(started_at_ms=started_at_ms, hard_ms=max(hard_ms, 0.0), soft_ms=envelope.soft_deadline_ms)
