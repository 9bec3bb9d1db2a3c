"""The one Powertools Logger and Metrics of the application.

The Tracer is not created here: its import costs about half a second of cold start, so it is
built lazily (and only when enabled) by ``bootstrap``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from chalicelib.domain.redaction import Redactor

SERVICE = "switchboard"
NAMESPACE = "Switchboard"
# Keys Powertools itself writes: never caller text, and not worth scrubbing.
_OWN_KEYS = frozenset({"level", "location", "timestamp", "service", "cold_start", "function_name",
                       "function_memory_size", "function_arn", "function_request_id", "xray_trace_id",
                       "sampling_rate"})  # fmt: skip


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log line with every caller value scrubbed out of it, at every level.

    What reaches the logger is redacted already (a turn's words are redacted before anything
    sees them); this is the last line of defence for what is not: an error message quoting the
    input it rejected, a tool's answer, an exception's text. Each string in the line (message,
    extra keys, exception) goes through ``Redactor.scrub`` (entities -> bare labels; no state,
    so its fingerprint key is a random one of this process).
    """

    def serialize(self, log: Any) -> str:
        from chalicelib.adapters.redaction_policy import process_redactor  # noqa: PLC0415 - import cycle

        redactor = process_redactor()
        return super().serialize({k: v if k in _OWN_KEYS else _scrubbed(redactor, v) for k, v in dict(log).items()})


def _scrubbed(redactor: Redactor, value: Any) -> Any:
    if isinstance(value, str):
        return redactor.scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(redactor, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(redactor, v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redactor.scrub(str(value))  # an exception object, a Decimal: as the line would show it


# stderr: Lambda sends both streams to CloudWatch Logs, and CLIs (sim/) keep stdout for results.
logger = Logger(service=SERVICE, stream=sys.stderr, logger_formatter=ScrubbingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "logger", "metrics"]
