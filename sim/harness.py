"""The real handlers on the embedded AWS: what ``sim invoke``, ``sim replay``, the tests and
the benchmarks drive."""

from __future__ import annotations

import contextlib
import io
import json
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

    Handlers are called in process with a Lambda-like context and the stage's environment
    variables from ``.chalice/config.json``. ``log_level`` applies to the application's logs
    (stderr). What a handler prints on stdout (CloudWatch EMF metrics) is kept in
    ``emf_lines`` instead, so CLI output stays clean.
    """

    def __init__(self, stage: str = "dev", log_level: str = "WARNING") -> None:
        self.stage = stage
        self.aws = EmbeddedAws()
        self._log_level = log_level
        self.app: Any = None
        self.tables: dict[str, str] = {}
        self.emf_lines: list[str] = []

    def start(self) -> Harness:
        self.aws.start()
        os.environ.update(stage_environment(self.stage))
        os.environ["SWITCHBOARD_AWS_ENDPOINT_URL"] = self.aws.endpoint_url
        os.environ["POWERTOOLS_LOG_LEVEL"] = self._log_level
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import app as app_module  # noqa: PLC0415 - after the environment is set
        from chalicelib import bootstrap  # noqa: PLC0415

        bootstrap.reset()
        self.app = app_module.app
        self.tables = provision(self.aws.boto_session(), self.aws.endpoint_url, stage=self.stage)
        return self

    def stop(self) -> None:
        from chalicelib import bootstrap  # noqa: PLC0415

        bootstrap.reset()
        self.aws.stop()

    def invoke(self, function_name: str, event: Any, timeout_ms: int = 6000) -> Any:
        """Invoke a handler as Lambda would; returns what it returned."""
        from chalice.local import LambdaContext  # noqa: PLC0415

        handler = self.app.handler_map[function_name]
        context = LambdaContext(function_name, memory_size=1024, max_runtime_ms=timeout_ms)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            answer = handler(event, context)
        self.emf_lines.extend(line for line in printed.getvalue().splitlines() if line.startswith("{"))
        return answer

    def function_names(self) -> list[str]:
        return sorted(self.app.handler_map)

    def __enter__(self) -> Harness:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def stage_environment(stage: str) -> dict[str, str]:
    """The environment variables ``.chalice/config.json`` gives the stage (all functions)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}
