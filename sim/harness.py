"""The real handlers on the embedded AWS: what ``sim invoke``, ``sim replay``, the tests and
the benchmarks drive."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sim import lambda_bridge
from sim.deployment import CHALICE_CONFIG, Deployment, FunctionConfig, deploy
from sim.embedded_aws import EmbeddedAws
from sim.invocations import InvocationRecorder
from sim.moto_stack import DeploymentFailedError

ROOT = Path(__file__).resolve().parent.parent
# The handover policy of sim/: agents in at all hours, waits of seconds (see the file).
SIM_HANDOVER_FILE = ROOT / "sim" / "handover.sim.json"

# The only settings sim/ puts on top of a packaged function's environment (what `chalice
# package` gives it): where the local stand-ins listen, each labelled. Everything else — table,
# state machine, secret, Connect instance, switches — is the stage's own configuration.
STAND_INS: dict[str, str] = {
    "SWITCHBOARD_AWS_ENDPOINT_URL": "the embedded AWS (moto's server on 127.0.0.1) for every AWS client",
    "SWITCHBOARD_MODEL_BASE_URL": "the scripted model endpoint (OpenAI-compatible, 127.0.0.1): before the secret",
    "SWITCHBOARD_TOOLS_MCP_URL": "the sample MCP tool server (a fake back office, 127.0.0.1)",
    "SWITCHBOARD_TOOLS_HTTP_URL": "the sample HTTP tool server (the same fake back office)",
    "SWITCHBOARD_KVS_ENDPOINT_URL": "sim stream: the local Kinesis Video Streams GetMedia",
    "SWITCHBOARD_TRANSCRIBE_ENDPOINT_URL": "sim stream: the local Transcribe streaming endpoint",
    "SWITCHBOARD_TRANSCRIBE_CA_FILE": "sim stream: the certificate made for that endpoint's TLS",
    "SWITCHBOARD_HANDOVER_FILE": "the simulated contact centre's staffing: agents in at all hours, waits of seconds",
    "POWERTOOLS_LOG_LEVEL": "how much of the application's log the run captures (--log-level); not behaviour",
    "SWITCHBOARD_SPECULATION_ENABLED": "sim stream's comparison only: the same calls with speculation off, then on",
}


class Harness:
    """Embedded AWS + resources from ``infra/`` + the Chalice app through its test client.

    The stack is created from ``infra/template.json`` through the embedded AWS's CloudFormation
    and the functions as chalice packages them (``sim/deployment.py``); handlers are called in
    process with a Lambda-like context, each function's memory and timeout, and the packaged
    environment plus the stand-ins' endpoints (``STAND_INS``). ``log_level`` applies to the application's logs
    (stderr). What a handler prints on stdout (CloudWatch EMF metrics) is kept in
    ``emf_lines`` instead, so CLI output stays clean. ``model_speed`` paces the scripted model
    endpoint: times its tiers' latency priors.
    """

    def __init__(
        self,
        stage: str = "dev",
        log_level: str = "WARNING",
        model_scripts: dict[str, dict[str, Any]] | None = None,
        model_faults: dict[str, float] | None = None,
        seed: int = 7,
        tool_faults: dict[str, float] | None = None,
        handover_file: Path = SIM_HANDOVER_FILE,
        model_speed: float = 1.0,
    ) -> None:
        self.stage = stage
        self.aws = EmbeddedAws()
        self._log_level = log_level
        self._model_scripts = model_scripts
        self._model_faults = model_faults
        self._seed = seed
        self._model_speed = model_speed
        self._tool_faults = tool_faults
        self._handover_file = handover_file
        self.model_endpoint: Any = None  # the scripted endpoint, when this harness runs one
        self.model_endpoint_label = "none"
        self.tool_servers: Any = None  # the sample MCP and HTTP tool servers
        self.app: Any = None
        self.tables: dict[str, str] = {}
        self.state_machines: dict[str, str] = {}  # logical id -> ARN on the embedded AWS
        self._stepfunctions: Any = None
        self.emf_lines: list[str] = []
        self.deployment: Deployment | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._stand_ins: dict[str, str | None] = {}
        self._recorder = InvocationRecorder()

    def start(self) -> Harness:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Harness:
        self.aws.start()
        self._workdir = tempfile.TemporaryDirectory(prefix="switchboard-sim-")
        config = json.loads(CHALICE_CONFIG.read_text())
        functions = sorted(config["stages"][self.stage].get("lambda_functions", {}))
        # The runbook on the embedded AWS: stack, secret, stage configuration, functions.
        self.deployment = deploy(
            self.aws.boto_session(), self.aws.endpoint_url, self.stage, functions, Path(self._workdir.name)
        )
        self.tables = {"SessionTable": self.deployment.outputs["SessionTableName"]}
        self.state_machines = {"HandoverStateMachine": self.deployment.outputs["HandoverStateMachineArn"]}
        os.environ.update(packaged_environment(self.deployment))
        self._stand_ins["SWITCHBOARD_AWS_ENDPOINT_URL"] = self.aws.endpoint_url
        self._stand_ins["POWERTOOLS_LOG_LEVEL"] = self._log_level
        self._stand_ins["SWITCHBOARD_HANDOVER_FILE"] = str(self._handover_file)
        self._start_model_endpoint()
        self._start_tool_servers()
        self.use_stand_ins({})
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import app as app_module  # noqa: PLC0415 - after the environment is set
        from chalicelib import bootstrap  # noqa: PLC0415

        bootstrap.reset()
        self.app = app_module.app
        unconfigured = sorted(set(self.app.handler_map) - set(functions))
        if unconfigured:
            raise DeploymentFailedError(f"functions without a configuration in .chalice/config.json: {unconfigured}")
        lambda_bridge.install(f"switchboard-{self.stage}-", self.app.handler_map)
        return self

    def use_stand_ins(self, values: dict[str, str | None]) -> None:
        """Point the functions at stand-ins (``STAND_INS`` names each one sim/ may set; None
        removes one) and rebuild the container, as a new Lambda environment would start."""
        unknown = sorted(set(values) - set(STAND_INS))
        if unknown:
            raise KeyError(f"not a stand-in setting (sim/harness.py STAND_INS): {unknown}")
        self._stand_ins.update(values)
        packaged = self._packaged
        for name in STAND_INS:
            value = self._stand_ins.get(name)
            if value is not None:
                os.environ[name] = value
            elif name in packaged:
                os.environ[name] = packaged[name]
            else:
                os.environ.pop(name, None)
        from chalicelib import bootstrap  # noqa: PLC0415 - after the environment: Powertools reads it at import

        bootstrap.reset()

    @property
    def _packaged(self) -> dict[str, str]:
        return packaged_environment(self.deployment) if self.deployment is not None else {}

    def function(self, name: str) -> FunctionConfig:
        """How ``chalice package`` configures the function ``name`` (environment, memory, timeout)."""
        if self.deployment is None:
            raise RuntimeError("start the harness first")
        return self.deployment.function(name)

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
            scripts, load_tiers(), fault_rates=self._model_faults, seed=self._seed, speed=self._model_speed
        ).start()
        self._stand_ins["SWITCHBOARD_MODEL_BASE_URL"] = self.model_endpoint.base_url
        self.model_endpoint_label = "scripted"

    def _start_tool_servers(self) -> None:
        from sim.back_office import SampleBackend  # noqa: PLC0415
        from sim.tool_servers import SampleToolServers  # noqa: PLC0415

        # Drawn tool faults (sim load) hang for 3 s: past any tool's budget, short enough to stop.
        backend = (
            SampleBackend(fault_rates=self._tool_faults, seed=self._seed, hang_seconds=3.0)
            if self._tool_faults
            else None
        )
        self.tool_servers = SampleToolServers(backend).__enter__()
        self._stand_ins["SWITCHBOARD_TOOLS_MCP_URL"] = self.tool_servers.mcp_url
        self._stand_ins["SWITCHBOARD_TOOLS_HTTP_URL"] = self.tool_servers.http_url

    def stop(self) -> None:
        from chalicelib import bootstrap  # noqa: PLC0415

        self._drain_executions()
        if self.app is not None:
            bootstrap.container().close()
        bootstrap.reset()
        if self._stepfunctions is not None:
            self._stepfunctions.close()
            self._stepfunctions = None
        if self.tool_servers is not None:
            self.tool_servers.__exit__(None, None, None)
            self.tool_servers = None
        if self.model_endpoint is not None:
            self.model_endpoint.stop()
            self.model_endpoint = None
        for name in {*STAND_INS, *self._packaged}:
            os.environ.pop(name, None)
        self._stand_ins.clear()
        self.aws.stop()
        # After the server: an execution still running must not reach moto's own (Docker) path.
        lambda_bridge.uninstall()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def _drain_executions(self, wait_s: float = 10.0) -> None:
        """Let the handover executions still running finish (their tasks need this harness's
        handlers), and stop the ones that do not in ``wait_s``: an execution that outlived the
        harness would reach moto's own Lambda (Docker) and leak its socket into a later test."""
        if self.aws is None or not self.state_machines or not self.aws.endpoint_url:
            return
        sfn = self.stepfunctions()
        deadline = time.monotonic() + wait_s
        while True:
            running = [
                e["executionArn"]
                for arn in self.state_machines.values()
                for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
            ]
            if not running:
                return
            if time.monotonic() >= deadline:
                for execution in running:
                    with contextlib.suppress(Exception):  # finished meanwhile: nothing to stop
                        sfn.stop_execution(executionArn=execution, cause="the harness stopped")
                return
            time.sleep(0.05)

    def services(self) -> Any:
        """The app's container (its store, prices, clock), with this harness listening to its
        invocation reports."""
        from chalicelib import bootstrap  # noqa: PLC0415

        return self._recorder.listen_to(bootstrap.container())

    @property
    def last_invocation(self) -> dict[str, Any]:
        """The newest invocation's usage, latency per component, deadline and cost."""
        return self._recorder.last

    def invoke(self, function_name: str, event: Any, timeout_ms: int | None = None) -> Any:
        """Invoke a handler as Lambda would, with the memory and timeout chalice packages it with
        (``timeout_ms`` shortens it); returns what it returned."""
        from chalice.local import LambdaContext  # noqa: PLC0415

        handler = self.app.handler_map[function_name]
        self.services()  # listen to the invocation's report
        packaged = self.function(function_name)
        limit_ms = packaged.timeout_s * 1000 if timeout_ms is None else min(timeout_ms, packaged.timeout_s * 1000)
        context = LambdaContext(packaged.function_name, memory_size=packaged.memory_mb, max_runtime_ms=limit_ms)
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


def packaged_environment(deployment: Deployment) -> dict[str, str]:
    """The environment every packaged function of the stage runs with. The harness runs all of
    them in one process (one container), so they must agree; they do today, and a per-function
    variable would need a container per function here."""
    environments = {name: f.environment for name, f in deployment.functions.items()}
    first = next(iter(environments.values()))
    differing = sorted(name for name, env in environments.items() if env != first)
    if differing:
        raise DeploymentFailedError(f"functions with their own environment variables: {differing}")
    return dict(first)
