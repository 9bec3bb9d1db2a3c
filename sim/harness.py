"""The real handlers on the embedded AWS: what ``sim invoke``, ``sim replay``, the tests and
the benchmarks drive."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from sim.embedded_aws import EmbeddedAws
from sim.provision import provision

ROOT = Path(__file__).resolve().parent.parent


class Harness:
    """Embedded AWS + resources from ``infra/`` + the Chalice app through its test client.

    ``log_level`` applies to the application's logs (stderr); EMF metrics are not printed.
    """

    def __init__(self, stage: str = "dev", log_level: str = "WARNING") -> None:
        self.stage = stage
        self.aws = EmbeddedAws()
        self._log_level = log_level
        self._client: Any = None
        self.app: Any = None
        self.tables: dict[str, str] = {}

    def start(self) -> Harness:
        self.aws.start()
        os.environ["SWITCHBOARD_AWS_ENDPOINT_URL"] = self.aws.endpoint_url
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["POWERTOOLS_LOG_LEVEL"] = self._log_level
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from chalice.test import Client  # noqa: PLC0415

        import app as app_module  # noqa: PLC0415 - after the environment is set
        from chalicelib import bootstrap  # noqa: PLC0415

        bootstrap.reset()
        self.app = app_module.app
        self.tables = provision(self.aws.boto_session(), self.aws.endpoint_url, stage=self.stage)
        self._client = Client(self.app, stage_name=self.stage, project_dir=str(ROOT))
        return self

    def stop(self) -> None:
        from chalicelib import bootstrap  # noqa: PLC0415

        bootstrap.reset()
        self.aws.stop()

    def invoke(self, function_name: str, event: Any) -> Any:
        """Invoke a handler as Lambda would; returns what it returned."""
        return self._client.lambda_.invoke(function_name, event).payload

    def function_names(self) -> list[str]:
        return sorted(self.app.handler_map)

    def __enter__(self) -> Harness:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
