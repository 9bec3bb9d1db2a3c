"""Lambda execution environments for ``sim load``: a pool of processes, one invocation at a time
each, running the real handlers against the embedded AWS.

Why processes and not threads: Lambda runs concurrent invocations in separate execution
environments, each with its own module state — the composition root, its boto3 clients, the
Powertools metrics buffer (not thread-safe). A process per environment keeps that true here, and
uses both cores. The embedded AWS, the scripted model and the tool servers stay in the parent;
environments reach them over loopback with the environment variables the harness set.

Client-side faults are armed per invocation by the caller (``Armed``) and fire inside the
environment, on its own boto3 client (botocore event hooks: nothing in ``chalicelib`` knows):

- ``read_throttles`` / ``write_throttles``: that many DynamoDB reads / writes of the invocation
  answer ``ProvisionedThroughputExceededException`` before reaching the table (botocore's retry
  sees a real throttling error).
- ``condition_race``: just before the turn's commit, a concurrent writer (the segments use case,
  in its own container) changes the session, so the commit's version condition fails.
- ``crash_after_effect``: the process dies when a side effect's call has returned, before
  anything is written about it (``SimulatedLambdaCrash``, a ``BaseException``: nothing in the
  handler catches it); the environment is rebuilt, as Lambda would start a fresh one. It is
  raised from the tool gateway (the one seam between the effect and our own bookkeeping), so it
  does not depend on the journal it tests.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.invocations import InvocationRecorder

ROOT = Path(__file__).resolve().parent.parent
HANDLER_TIMEOUT_MS = 8000  # Amazon Connect's limit for a synchronous Lambda invocation
RACE_CATEGORY_PREFIX = "sim-concurrent-write-"
_READS = frozenset({"GetItem", "Query", "BatchGetItem"})


@dataclass(frozen=True)
class FunctionLimits:
    """What Lambda gives an invocation of a function: its memory and its time."""

    memory_mb: int
    timeout_ms: int


DEFAULT_LIMITS = FunctionLimits(1024, HANDLER_TIMEOUT_MS)


class SimulatedLambdaCrash(BaseException):
    """The Lambda process dies mid-invocation (injected)."""


@dataclass(frozen=True)
class Armed:
    """Client-side faults for one invocation (see the module docstring)."""

    read_throttles: int = 0
    write_throttles: int = 0
    condition_race: bool = False
    crash_after_effect: bool = False


@dataclass
class Invocation:
    """What one invocation did, as Lambda's caller sees it plus what fired inside."""

    function: str
    answer: Any
    handler_ms: float
    raised: str | None = None  # class name of an exception that escaped the handler
    error_message: str = ""
    crashed: bool = False  # the injected process crash
    fired: dict[str, int] = field(default_factory=dict)
    race_segments: tuple[str, ...] = ()  # segment ids the concurrent writer stored (acknowledged)
    environment: int = 0  # the process id of the environment that ran it
    components: dict[str, float] = field(default_factory=dict)  # the handler's own timings (ms)


class EnvironmentPool:
    """``size`` execution environments (processes started on demand, kept warm).

    Args:
        size: how many invocations can run at once.
        breakages: deliberately broken builds to apply in every environment (``sim.breakages``).
        log_dir: where each environment's application logs (stderr) go.
        limits: per function, its memory (MB) and timeout (ms) as deployed (``Harness.function``);
            a function not named gets ``DEFAULT_LIMITS``, the turn's.
    """

    def __init__(
        self,
        size: int,
        breakages: tuple[str, ...] = (),
        log_dir: Path | None = None,
        limits: Mapping[str, FunctionLimits] | None = None,
    ) -> None:
        self.size = size
        self._limits = dict(limits or {})
        self._executor = ProcessPoolExecutor(
            max_workers=size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_environment,
            initargs=(str(log_dir) if log_dir else "", tuple(breakages)),
        )

    def submit(self, function: str, event: Any, armed: Armed | None = None) -> Future[Invocation]:
        limits = self._limits.get(function, DEFAULT_LIMITS)
        return self._executor.submit(_invoke, function, event, armed or Armed(), limits)

    def invoke(self, function: str, event: Any, armed: Armed | None = None) -> Invocation:
        return self.submit(function, event, armed).result()

    def handler(self, function: str) -> Callable[[Any, Any], Any]:
        """A handler for ``sim.lambda_bridge`` that runs ``function`` in an environment and raises
        its error under the same class name (Step Functions matches Retry/Catch on it)."""

        def run(event: Any, _context: Any) -> Any:
            invocation = self.invoke(function, event)
            if invocation.raised:
                raise type(invocation.raised, (Exception,), {})(invocation.error_message)
            return invocation.answer

        return run

    def warm(self) -> None:
        """Start every environment now (imports and clients), not during the first calls."""
        futures = [self._executor.submit(_warm, 0.2) for _ in range(self.size)]
        for future in futures:
            future.result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> EnvironmentPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# --- inside an environment (a spawned process) ---------------------------------------------------


@dataclass
class _EnvironmentState:
    armed: Armed = field(default_factory=Armed)
    fired: dict[str, int] = field(default_factory=dict)
    race_segments: list[str] = field(default_factory=list)
    hooked_client: Any = None
    racer: Any = None


_state = _EnvironmentState()


def _start_environment(log_dir: str, breakages: tuple[str, ...]) -> None:
    """Process initializer: logs to a file, stdout (EMF metrics) dropped, the app imported."""
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        sys.stderr = open(Path(log_dir) / f"environment-{os.getpid()}.log", "a", buffering=1)  # noqa: SIM115
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app  # noqa: F401, PLC0415 - the application under test
    from chalicelib import bootstrap  # noqa: PLC0415
    from sim.breakages import apply  # noqa: PLC0415

    bootstrap.reset()
    _crash_after_side_effects()
    apply(breakages)


def _warm(hold_s: float) -> int:
    """Build the container; held briefly so each warm-up lands in a different process."""
    from chalicelib import bootstrap  # noqa: PLC0415

    _hook(_RECORDER.listen_to(bootstrap.container()))
    time.sleep(hold_s)
    return os.getpid()


_RECORDER = InvocationRecorder()  # this environment's container's invocation reports


def _invoke(function: str, event: Any, armed: Armed, limits: FunctionLimits = DEFAULT_LIMITS) -> Invocation:
    from chalice.local import LambdaContext  # noqa: PLC0415

    import app  # noqa: PLC0415
    from chalicelib import bootstrap  # noqa: PLC0415

    _hook(_RECORDER.listen_to(bootstrap.container()))
    _state.armed, _state.fired, _state.race_segments = armed, {}, []
    handler = app.app.handler_map[function]
    context = LambdaContext(function, memory_size=limits.memory_mb, max_runtime_ms=limits.timeout_ms)
    invocation = Invocation(function, None, 0.0, environment=os.getpid())
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metric lines: not needed here
            invocation.answer = handler(event, context)
    except SimulatedLambdaCrash:
        invocation.crashed = True
        bootstrap.reset()  # Lambda replaces a crashed environment: nothing survives in memory
    except Exception as exc:  # noqa: BLE001 - what escapes the handler is what this reports
        invocation.raised, invocation.error_message = type(exc).__name__, str(exc)
    invocation.handler_ms = (time.perf_counter() - started) * 1000
    if not invocation.crashed:
        invocation.components = {k: round(v, 1) for k, v in _RECORDER.last.get("latency_ms", {}).items()}
    invocation.fired = dict(_state.fired)
    invocation.race_segments = tuple(_state.race_segments)
    _state.armed = Armed()
    return invocation


def _hook(services: Any) -> None:
    """Register the fault hooks on the container's DynamoDB client (once per client)."""
    client = services.dynamodb_client
    if _state.hooked_client is client:
        return
    client.meta.events.register("before-send.dynamodb.*", _throttle)
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", _race)
    _state.hooked_client = client


def _fire(kind: str) -> None:
    _state.fired[kind] = _state.fired.get(kind, 0) + 1


def _throttle(request: Any, event_name: str = "", **_: Any) -> Any:
    armed = _state.armed
    is_read = event_name.rsplit(".", 1)[-1] in _READS
    if (is_read and armed.read_throttles <= _state.fired.get("ddb_read_throttle", 0)) or (
        not is_read and armed.write_throttles <= _state.fired.get("ddb_write_throttle", 0)
    ):
        return None
    _fire("ddb_read_throttle" if is_read else "ddb_write_throttle")
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415

    body = (
        b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
        b'"message":"The level of configured provisioned throughput for the table was exceeded (injected)"}'
    )
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "sim-throttle"}
    return AWSResponse(request.url, 400, headers, _Body(body))


class _Body:
    """The raw body of a canned botocore response."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _race(params: dict[str, Any], **_: Any) -> None:
    """Before the turn's commit: the segments use case writes the same session first."""
    if not _state.armed.condition_race or _state.fired.get("condition_race"):
        return
    contact_id = _session_contact(params)
    if contact_id is None:
        return
    from chalicelib.domain.contact_analysis import Segment, SegmentKind  # noqa: PLC0415

    segment_id = f"{RACE_CATEGORY_PREFIX}{contact_id}-{os.getpid()}-{time.monotonic_ns()}"
    _racer()(contact_id, "SEGMENTS", (Segment(SegmentKind.CATEGORIES, segment_id, categories=(segment_id,)),))
    _state.race_segments.append(segment_id)
    _fire("condition_race")


def _racer() -> Any:
    if _state.racer is None:
        from chalicelib import bootstrap  # noqa: PLC0415
        from chalicelib.settings import get_settings  # noqa: PLC0415

        _state.racer = bootstrap.Container(get_settings()).ingest_segments  # its own client: no hooks
    return _state.racer


def _session_contact(params: dict[str, Any]) -> str | None:
    from chalicelib.adapters.dynamodb_store import PARTITION_KEY, SESSION_SK, SORT_KEY  # noqa: PLC0415

    for item in params.get("TransactItems", ()):
        put = item.get("Put", {}).get("Item", {})
        if put.get(SORT_KEY, {}).get("S") == SESSION_SK:
            return str(put[PARTITION_KEY]["S"]).removeprefix("CONTACT#")
    return None


def _crash_after_side_effects() -> None:
    """Make the tool gateway die after a side effect returned, when the invocation armed it."""
    from chalicelib.adapters.tools.gateway import TransportToolGateway  # noqa: PLC0415
    from chalicelib.domain.tools import ToolKind  # noqa: PLC0415

    original = TransportToolGateway.call

    def call(self: Any, tool: Any, arguments: dict[str, Any], *, idempotency_key: str | None, timeout_ms: float) -> Any:
        result = original(self, tool, arguments, idempotency_key=idempotency_key, timeout_ms=timeout_ms)
        if (
            tool.kind is ToolKind.SIDE_EFFECT
            and _state.armed.crash_after_effect
            and not _state.fired.get("crash_after_effect")
        ):
            _fire("crash_after_effect")
            raise SimulatedLambdaCrash("the Lambda process died after the side effect (injected)")
        return result

    TransportToolGateway.call = call  # type: ignore[method-assign]
