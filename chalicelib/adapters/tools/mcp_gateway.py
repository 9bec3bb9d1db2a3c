"""``McpToolGateway``: one tool call over MCP (streamable HTTP), within a hard wall-clock budget.

The mcp SDK (2.x) is imported on first use, not at cold start: importing its client costs
~0.43 s (``mcp/__init__`` imports client and server alike), most of a tool's budget, so call
``warm()`` during start-up (the call's warm-up invocation) rather than let the first call pay.

Each call runs on a worker thread in a fresh event loop (``anyio.run``): an ``httpx2`` client
(the SDK's HTTP client; the TLS context is built once per gateway, ~17 ms otherwise), the
streamable HTTP transport, a ``Client`` session negotiated in the SDK's ``auto`` mode (one
``server/discover`` round trip to a 2026-07-28 server; discover, ``initialize`` and
``notifications/initialized`` with a legacy one), one ``tools/call``, and the close (a
``DELETE`` of a legacy session). The caller waits on the worker for at most ``timeout_ms`` and
the worker's own cancel scope ends at the same deadline, so a call returns or raises in time
whatever the server does, from any thread (one with a running event loop too), any number of
times. No connection outlives a call. Median of 20 read calls on loopback against
``sim.tool_servers``: 4.7 ms, of which 0.2 ms is the thread, the loop and the client; the
legacy handshake instead: 10-14 ms; the 2026-07-28 version pinned (no discover): 3-4 ms;
``HttpToolGateway`` over a kept-alive connection: 0.7-0.8 ms.

The idempotency key of a side effect travels in the request's ``_meta`` (``idempotency_key``),
which the server reads from its request context; the arguments stay what the tool's schema says.

The result is the tool's structured content, or its JSON text content parsed; its shape is the
caller's to check. Failures map onto the tool error tree:

- the deadline → ``ToolTimeoutError``;
- connection refused or dropped, HTTP 5xx, a JSON-RPC error other than the three below, an
  ``isError`` result (the server ran the tool and it failed) → ``ToolUnavailableError``;
- JSON-RPC invalid request / method not found / invalid params (the spec's answer to an unknown
  tool or bad arguments), HTTP 4xx other than 429 → ``ToolRejectedError``. A stock ``MCPServer``
  answers an unknown tool or bad arguments with an ``isError`` result instead, which reads as
  unavailable here; the caller refuses both before calling (``ToolGraph.refusal``);
- a result that is not a ``CallToolResult``, or whose content is not JSON → ``ToolResultInvalidError``.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any

from chalicelib.errors import (
    ToolError,
    ToolRejectedError,
    ToolResultInvalidError,
    ToolTimeoutError,
    ToolUnavailableError,
)

IDEMPOTENCY_META_KEY = "idempotency_key"
_NEGOTIATION = "auto"  # discover a 2026-07-28 server, fall back to the initialize handshake
_REJECTED_RPC_CODES = frozenset({-32600, -32601, -32602})  # invalid request, method not found, invalid params


class McpToolGateway:
    """Tool calls to one MCP server over streamable HTTP.

    Args:
        url: the server's streamable HTTP endpoint, e.g. ``https://tools.example/mcp``.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mcp-call")
        self._lock = threading.Lock()
        self._tls: Any = None

    def warm(self) -> None:
        """Import the SDK and build the TLS context now, so that no call pays for them."""
        self._tls_context()

    def close(self) -> None:
        """Let the worker threads go (calls still running finish at their deadline)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def call(self, name: str, arguments: dict[str, Any], *, idempotency_key: str | None, timeout_ms: float) -> Any:
        """Call tool ``name`` and return its JSON result as Python data, within ``timeout_ms``.

        Args:
            name: the tool's name on the server.
            arguments: the tool's arguments (sent as they are).
            idempotency_key: sent in ``_meta.idempotency_key`` when given (side effects).
            timeout_ms: the wall-clock budget of the whole call, session set-up included.

        Returns:
            The structured content, or the text content parsed as JSON (a list of values when
            there are several text blocks). Not checked further.

        Raises:
            ToolTimeoutError: no result within ``timeout_ms``.
            ToolUnavailableError: the server could not be reached, failed, or the tool failed.
            ToolRejectedError: the server refused the call (unknown tool, bad arguments, 4xx).
            ToolResultInvalidError: the answer is not a tool result, or its content is not JSON.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        future = self._pool.submit(self._call_on_worker, name, arguments, idempotency_key, deadline)
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0))
        except FutureTimeoutError:
            future.cancel()
            raise ToolTimeoutError(f"{name}: no answer within {timeout_ms:.0f} ms") from None

    def _tls_context(self) -> Any:
        with self._lock:
            if self._tls is None:
                import httpx2  # noqa: PLC0415 - lazy: the SDK's HTTP client, imported with it
                import mcp.client.client  # noqa: F401, PLC0415 - lazy: ~0.4 s, only where tools are called

                self._tls = httpx2.create_ssl_context()
            return self._tls

    def _call_on_worker(self, name: str, arguments: dict[str, Any], key: str | None, deadline: float) -> Any:
        import anyio  # noqa: PLC0415

        post_statuses: list[int] = []
        try:
            result = anyio.run(self._call, name, arguments, key, deadline, post_statuses)
        except Exception as exc:
            raise _tool_error(name, exc, post_statuses) from exc
        return _result_data(name, result)

    async def _call(
        self, name: str, arguments: dict[str, Any], key: str | None, deadline: float, post_statuses: list[int]
    ) -> Any:
        import anyio  # noqa: PLC0415
        import httpx2  # noqa: PLC0415
        from mcp.client.client import Client  # noqa: PLC0415
        from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415
        from mcp_types import CallToolRequest, CallToolRequestParams, CallToolResult  # noqa: PLC0415

        async def note_status(response: httpx2.Response) -> None:
            if response.request.method == "POST":  # not the session's closing DELETE
                post_statuses.append(response.status_code)

        tls = self._tls_context()
        remaining = max(deadline - time.monotonic(), 0)
        with anyio.fail_after(remaining):
            async with httpx2.AsyncClient(
                verify=tls, timeout=httpx2.Timeout(remaining), event_hooks={"response": [note_status]}
            ) as http:
                transport = streamable_http_client(self._url, http_client=http)
                async with Client(transport, mode=_NEGOTIATION, cache=None) as client:
                    params: dict[str, Any] = {"name": name, "arguments": arguments}
                    if key:
                        params["_meta"] = {IDEMPOTENCY_META_KEY: key}
                    request = CallToolRequest(params=CallToolRequestParams.model_validate(params))
                    # send_request, not call_tool: call_tool lists the tools first (one more round
                    # trip) to check the result against the tool's output schema; the caller checks.
                    return await client.session.send_request(request, CallToolResult)


def _result_data(name: str, result: Any) -> Any:
    """The data in a ``CallToolResult``: structured content, or the text content as JSON."""
    if result.is_error:
        said = " ".join(getattr(block, "text", "") for block in result.content)[:200]
        raise ToolUnavailableError(f"{name}: the tool failed: {said}")
    if result.structured_content is not None:
        return result.structured_content
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    if not texts:
        raise ToolResultInvalidError(f"{name}: the result has no structured or text content")
    try:
        values = [json.loads(text) for text in texts]
    except ValueError:
        raise ToolResultInvalidError(f"{name}: the result is not JSON") from None
    return values[0] if len(values) == 1 else values


def _tool_error(name: str, exc: BaseException, post_statuses: list[int]) -> ToolError:
    """The tool error for what went wrong, from the innermost exception of any task group."""
    import httpx2  # noqa: PLC0415
    from mcp.shared.exceptions import MCPError  # noqa: PLC0415
    from pydantic import ValidationError  # noqa: PLC0415

    leaf = _innermost(exc)
    if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
        return ToolTimeoutError(f"{name}: no answer in time")
    if isinstance(leaf, ValidationError):
        return ToolResultInvalidError(f"{name}: the answer is not a tool result")
    status = post_statuses[-1] if post_statuses else None
    if isinstance(leaf, MCPError):
        # A bare HTTP 4xx reaches us as a generic JSON-RPC error: the status tells it from a 5xx.
        if leaf.code in _REJECTED_RPC_CODES or (status is not None and 400 <= status < 500 and status != 429):
            return ToolRejectedError(f"{name}: refused (HTTP {status}, JSON-RPC {leaf.code}): {leaf}")
        return ToolUnavailableError(f"{name}: failed (HTTP {status}, JSON-RPC {leaf.code}): {leaf}")
    return ToolUnavailableError(f"{name}: {type(leaf).__name__}: {leaf}")


def _innermost(exc: BaseException) -> BaseException:
    """The exception that started it: the SDK's task groups wrap errors in exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = next((e for e in exc.exceptions if isinstance(e, Exception)), exc.exceptions[0])
    return exc
