"""moto's Lambda invocations run the Chalice handlers in process (no Docker).

moto's Lambda backend runs a function by calling ``LambdaFunction._invoke_lambda``, which starts
a Docker container; here there is no Docker daemon. This is the ONE place that replaces that
private method (moto is pinned exactly in ``requirements-dev.txt`` for it): a function named
``<app>-<stage>-<handler>`` runs the Chalice handler ``<handler>`` with a Lambda-like context,
and an exception becomes Lambda's error payload (``errorType`` = the exception's class name),
which Step Functions matches against a state's ``Retry`` and ``Catch``. It applies to every
invocation: ``lambda.invoke``, Step Functions Lambda tasks, event source mappings.

Requires moto's Docker-backed Lambda backend (``"lambda": {"use_docker": true}`` in the moto
config); the "simple" backend answers canned results without calling ``_invoke_lambda``.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]

_lock = threading.Lock()
_apps: list[tuple[str, dict[str, Handler]]] = []  # (function-name prefix, handler map)
_original: Any = None


def install(function_prefix: str, handler_map: dict[str, Handler]) -> None:
    """Run functions named ``function_prefix + <handler>`` with ``handler_map[<handler>]``."""
    global _original  # noqa: PLW0603 - one patch per process
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415 - sim only

    with _lock:
        if _original is None:
            _original = LambdaFunction._invoke_lambda
            LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]
        _apps[:] = [(p, m) for p, m in _apps if p != function_prefix]
        _apps.append((function_prefix, handler_map))


def uninstall() -> None:
    """Put moto's own method back."""
    global _original  # noqa: PLW0603
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415

    with _lock:
        if _original is not None:
            LambdaFunction._invoke_lambda = _original  # type: ignore[method-assign]
            _original = None
        _apps.clear()


def _handler_for(function_name: str) -> Handler | None:
    with _lock:
        for prefix, handlers in _apps:
            if function_name.startswith(prefix) and function_name[len(prefix) :] in handlers:
                return handlers[function_name[len(prefix) :]]
    return None


def _invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """``LambdaFunction._invoke_lambda``: (result JSON, errored, logs)."""
    from chalice.local import LambdaContext  # noqa: PLC0415

    handler = _handler_for(self.function_name)
    if handler is None:
        error = {"errorType": "ResourceNotFoundException", "errorMessage": f"no handler for {self.function_name}"}
        return json.dumps(error), True, ""
    payload = event if isinstance(event, dict) else json.loads(event or "{}")
    # The function's own timeout, as Lambda gives it: the transcriber stops 60 s before its end
    # and re-invokes itself, so a shorter one made every in-process continuation continue at once.
    timeout_ms = int(self.timeout or 60) * 1000
    context = LambdaContext(self.function_name, memory_size=int(self.memory_size or 512), max_runtime_ms=timeout_ms)
    try:
        result = handler(payload, context)
    except Exception as exc:  # noqa: BLE001 - becomes the function error, as the Lambda runtime does
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return json.dumps(error), True, "".join(traceback.format_exception_only(exc))
    return json.dumps(result), False, ""
