"""The one Powertools Logger and Metrics of the application.

The Tracer is not created here: its import costs about half a second of cold start, so it is
built lazily (and only when enabled) by ``bootstrap``.
"""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "switchboard"
NAMESPACE = "Switchboard"

# stderr: Lambda sends both streams to CloudWatch Logs, and CLIs (sim/) keep stdout for results.
logger = Logger(service=SERVICE, stream=sys.stderr)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "MetricUnit", "logger", "metrics"]
