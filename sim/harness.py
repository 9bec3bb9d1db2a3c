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

from sim import lambda_bridge
from sim.embedded_aws import EmbeddedAws
from sim.provision import provision, provision_state_machines

ROOT = Path(__file__).resolve().parent.parent
# The handover policy of sim/: agents in at all hours, waits of seconds (see the file).
SIM_HANDOVER_FILE = ROOT / "sim" / "handover.sim.json"


class Harness:
    """Embedded AWS + resources from ``infra/`` + the Chalice app through its test client.

    Handlers are called in process with a Lambda-like context and the stage's environment
    variables from ``.chalice/config.json``. ``log_level`` applies to the application's logs
    (stderr). What a handler prints on stdout (CloudWatch EMF metrics) is kept in
    ``emf_lines`` instead, so CLI output stays clean.
    """

    def __init__(
        self,
        stage: str = "dev",
        log_level: str = "WARNING",
        model_scripts: dict[str, dict[str, Any]] | None = None,
        model_faults: dict[str, float] | None = None,
        seed: int = 7,
        tool_faults: dict[str, float] | None = None,
    ) -> None:
        self.stage = stage
        self.aws = EmbeddedAws()
        self._log_level = log_level
        self._model_scripts = model_scripts
        self._model_faults = model_faults
        self._seed = seed
        self._tool_faults = tool_faults
        self.model_endpoint: Any = None  # the scripted endpoint, when this harness runs one
        self.model_endpoint_label = "none"
        self.tool_servers: Any = None  # the sample MCP and HTTP tool servers
        self.app: Any = None
        self.tables: dict[str, str] = {}
        self.state_machines: dict[str, str] = {}  # logical id -> ARN on the embedded AWS
        self._stepfunctions: Any = None
        self.emf_lines: list[str] = []

    def start(self) -> Harness:
        self.aws.start()
        os.environ.update(stage_environment(self.stage))
        os.environ["SWITCHBOARD_AWS_ENDPOINT_URL"] = self.aws.endpoint_url
        os.environ["POWERTOOLS_LOG_LEVEL"] = self._log_level
        self._start_model_endpoint()
        self._start_tool_servers()
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import app as app_module  # noqa: PLC0415 - after the environment is set
        from chalicelib import bootstrap  # noqa: PLC0415

        bootstrap.reset()
        self.app = app_module.app
        self.tables = provision(self.aws.boto_session(), self.aws.endpoint_url, stage=self.stage)
        self._start_handover_workflow()
        return self

    def _start_handover_workflow(self) -> None:
        """The handover state machine on the embedded AWS, its tasks run by the Chalice handlers
        in process (``sim/lambda_bridge.py``), and the app pointed at it."""
        from chalicelib import bootstrap  # noqa: PLC0415

        self.state_machines = provision_state_machines(self.aws.boto_session(), self.aws.endpoint_url, self.stage)
        os.environ["SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN"] = self.state_machines["HandoverStateMachine"]
        os.environ.setdefault("SWITCHBOARD_HANDOVER_FILE", str(SIM_HANDOVER_FILE))
        lambda_bridge.install(f"switchboard-{self.stage}-", self.app.handler_map)
        bootstrap.reset()

    def stepfunctions(self) -> Any:
        """A Step Functions client on the embedded AWS (one per harness, closed on stop)."""
        if self._stepfunctions is None:
            self._stepfunctions = self.aws.boto_session().client("stepfunctions", endpoint_url=self.aws.endpoint_url)
        return self._stepfunctions

    def _start_model_endpoint(self) -> None:
        """The scripted model endpoint, unless the user pointed the models at a live one."""
        if os.environ.get("OPENAI_API_KEY") or os.environ.get("SWITCHBOARD_MODEL_BASE_URL"):
            self.model_endpoint_label = "live"
            return
        if self._model_scripts is None:
            return
        from chalicelib.adapters.data_files import load_tiers  # noqa: PLC0415
        from sim.scripted_model import ScriptedModelEndpoint, script_from  # noqa: PLC0415

        scripts = {words: script_from(script) for words, script in self._model_scripts.items()}
        self.model_endpoint = ScriptedModelEndpoint(
            scripts, load_tiers(), fault_rates=self._model_faults, seed=self._seed
        ).start()
        os.environ["SWITCHBOARD_MODEL_BASE_URL"] = self.model_endpoint.base_url
        self.model_endpoint_label = "scripted"

    def _start_tool_servers(self) -> None:
        from sim.tool_servers import SampleBackend, SampleToolServers  # noqa: PLC0415

        # Drawn tool faults (sim load) hang for 3 s: past any tool's budget, short enough to stop.
        backend = (
            SampleBackend(fault_rates=self._tool_faults, seed=self._seed, hang_seconds=3.0)
            if self._tool_faults
            else None
        )
        self.tool_servers = SampleToolServers(backend).__enter__()
        os.environ["SWITCHBOARD_TOOLS_MCP_URL"] = self.tool_servers.mcp_url
        os.environ["SWITCHBOARD_TOOLS_HTTP_URL"] = self.tool_servers.http_url

    def stop(self) -> None:
        from chalicelib import bootstrap  # noqa: PLC0415

        if self.app is not None:
            bootstrap.container().close_handover_tools()
        bootstrap.reset()
        if self._stepfunctions is not None:
            self._stepfunctions.close()
            self._stepfunctions = None
        for name in ("SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN", "SWITCHBOARD_HANDOVER_FILE"):
            os.environ.pop(name, None)
        if self.tool_servers is not None:
            self.tool_servers.__exit__(None, None, None)
            os.environ.pop("SWITCHBOARD_TOOLS_MCP_URL", None)
            os.environ.pop("SWITCHBOARD_TOOLS_HTTP_URL", None)
            self.tool_servers = None
        if self.model_endpoint is not None:
            self.model_endpoint.stop()
            os.environ.pop("SWITCHBOARD_MODEL_BASE_URL", None)
            self.model_endpoint = None
        self.aws.stop()
        # After the server: an execution still running must not reach moto's own (Docker) path.
        lambda_bridge.uninstall()

    def services(self) -> Any:
        """The app's container (its store, prices and the last invocation's usage)."""
        from chalicelib import bootstrap  # noqa: PLC0415

        return bootstrap.container()

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
