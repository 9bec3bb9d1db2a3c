"""The sample back office (``sim.back_office``) as two ASGI apps, for ``sim.tool_servers``:

- an MCP server (mcp 2.x ``MCPServer``, streamable HTTP at ``/mcp``) with the five operations
  as tools: input schemas from the type hints, structured JSON results. The idempotency key of a
  side effect travels in the request's ``_meta`` (``idempotency_key``) and is read from the
  request context.
- an HTTP API: ``POST /accounts/lookup``, ``GET /accounts/{account_id}/balance``,
  ``POST /payment-arrangements`` and ``POST /callbacks``, JSON bodies, the key in the
  ``Idempotency-Key`` header; 404 for an unknown account, 422 for bad input, 400 for a side
  effect without a key, 500 for the ``error`` fault.

Each app has its ``*_tool_of``: which tool a raw request calls, for the transport faults in front.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, TextContent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

from sim.back_office import (
    AccountSummary,
    BackOfficeError,
    Balance,
    CallbackBooking,
    CardPayment,
    InjectedFaultError,
    PaymentArrangement,
    RequestInvalidError,
    SampleBackend,
)

IDEMPOTENCY_META_KEY = "idempotency_key"
_T = TypeVar("_T")


# --- the MCP server ---------------------------------------------------------------------------


def mcp_app(backend: SampleBackend, workers: Executor) -> ASGIApp:
    """The five operations as MCP tools, served over streamable HTTP at ``/mcp``."""
    server: MCPServer[Any] = MCPServer(
        "switchboard-sample-back-office",
        instructions="A fake contact-centre back office for demos and tests.",
        log_level="WARNING",  # MCPServer calls logging.basicConfig with this level
    )
    server.middleware.append(_StrictToolCalls(server, backend))

    @server.tool()
    async def lookup_account(account_number: str) -> AccountSummary:
        """Find the caller's account by the account number they read out: id, first name, status."""
        return await _over_mcp(workers, lambda: backend.lookup_account(account_number))

    @server.tool()
    async def get_balance(account_id: str) -> Balance:
        """The balance, currency, due date and status of an account (by its id)."""
        return await _over_mcp(workers, lambda: backend.get_balance(account_id))

    @server.tool()
    async def create_payment_arrangement(
        account_id: str, amount: float, pay_on: str, ctx: Context
    ) -> PaymentArrangement:
        """Schedule a payment of ``amount`` on ``pay_on`` (YYYY-MM-DD). Needs ``_meta.idempotency_key``."""
        key = _meta_key(ctx)
        return await _over_mcp(
            workers, lambda: backend.create_payment_arrangement(account_id, amount, pay_on, idempotency_key=key)
        )

    @server.tool()
    async def take_card_payment(
        account_id: str, amount: float, card_number: str, expiry: str, ctx: Context
    ) -> CardPayment:
        """Charge a card now: ``amount`` to the card ``card_number`` (the real digits), expiring
        ``expiry`` (MM/YY). Answers the card's last four digits only. Needs ``_meta.idempotency_key``."""
        key = _meta_key(ctx)
        return await _over_mcp(
            workers,
            lambda: backend.take_card_payment(account_id, amount, card_number, expiry, idempotency_key=key),
        )

    @server.tool()
    async def book_callback(phone: str, window: str, ctx: Context, account_id: str | None = None) -> CallbackBooking:
        """Book a call back to ``phone`` in a window (morning, afternoon, evening). Needs
        ``_meta.idempotency_key``."""
        key = _meta_key(ctx)
        return await _over_mcp(workers, lambda: backend.book_callback(phone, window, account_id, idempotency_key=key))

    return server.streamable_http_app(host="127.0.0.1")


def _meta_key(ctx: Context) -> str | None:
    """The idempotency key from the request's ``_meta`` (a plain dict in mcp 2.x)."""
    meta = ctx.request_context.meta
    key = meta.get(IDEMPOTENCY_META_KEY) if meta else None
    return key if isinstance(key, str) else None


async def _off_loop(workers: Executor, operation: Callable[[], _T]) -> _T:
    """Run a back-office operation (which a fault may hold for seconds) on the servers' workers."""
    return await asyncio.wrap_future(workers.submit(operation))


async def _over_mcp(workers: Executor, operation: Callable[[], _T]) -> _T:
    """Refusals become JSON-RPC invalid-params errors; the ``error`` fault an error result."""
    try:
        return await _off_loop(workers, operation)
    except BackOfficeError as exc:
        raise MCPError(code=INVALID_PARAMS, message=str(exc)) from exc
    except InjectedFaultError as exc:
        raise ToolError(str(exc)) from exc


class _StrictToolCalls:
    """MCP server middleware: an unknown tool, or arguments that break the tool's input schema,
    get a JSON-RPC invalid-params error (-32602), as the MCP spec asks; ``MCPServer`` itself
    answers both with an error *result*, which a client cannot tell from the tool failing. It also
    swaps the result of a tool under the ``garbage`` fault (``MCPServer`` would refuse to return
    garbage from a tool with an output schema)."""

    def __init__(self, server: MCPServer[Any], backend: SampleBackend) -> None:
        self._server = server
        self._backend = backend
        self._validators: dict[str, Draft202012Validator] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params = ctx.params or {}
        name, arguments = params.get("name"), params.get("arguments") or {}
        if not self._validators:
            self._validators = {t.name: Draft202012Validator(t.input_schema) for t in await self._server.list_tools()}
        if not isinstance(name, str) or name not in self._validators:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {name}")
        problem = best_match(self._validators[name].iter_errors(arguments))
        if problem is not None:
            raise MCPError(code=INVALID_PARAMS, message=f"Invalid arguments for {name}: {problem.message}")
        result = await call_next(ctx)
        if self._backend.fault(name) == "garbage":
            garbage = self._backend.garbage()
            text = garbage if isinstance(garbage, str) else json.dumps(garbage)
            return CallToolResult(content=[TextContent(type="text", text=text)])
        return result


def mcp_tool_of(scope: Scope, body: bytes) -> str | None:
    """The tool a JSON-RPC ``tools/call`` POST calls, if it is one."""
    try:
        message = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return name if isinstance(name, str) else None


# --- the HTTP API -----------------------------------------------------------------------------


def http_app(backend: SampleBackend, workers: Executor) -> ASGIApp:
    """The four operations as a JSON HTTP API (see the module docstring)."""

    async def lookup(request: Request) -> Response:
        raw = await request.body()
        return await _answer(
            backend, workers, "lookup_account", lambda: backend.lookup_account(_text(_object(raw), "account_number"))
        )

    async def balance(request: Request) -> Response:
        account_id = request.path_params["account_id"]
        return await _answer(backend, workers, "get_balance", lambda: backend.get_balance(account_id))

    async def arrange(request: Request) -> Response:
        raw, key = await request.body(), request.headers.get("Idempotency-Key")

        def run() -> PaymentArrangement:
            body = _object(raw)
            return backend.create_payment_arrangement(
                _text(body, "account_id"), _number(body, "amount"), _text(body, "pay_on"), idempotency_key=key
            )

        return await _answer(backend, workers, "create_payment_arrangement", run)

    async def callback(request: Request) -> Response:
        raw, key = await request.body(), request.headers.get("Idempotency-Key")

        def run() -> CallbackBooking:
            body = _object(raw)
            account_id = _text(body, "account_id") if body.get("account_id") is not None else None
            return backend.book_callback(_text(body, "phone"), _text(body, "window"), account_id, idempotency_key=key)

        return await _answer(backend, workers, "book_callback", run)

    return Starlette(
        routes=[
            Route("/accounts/lookup", lookup, methods=["POST"]),
            Route("/accounts/{account_id}/balance", balance, methods=["GET"]),
            Route("/payment-arrangements", arrange, methods=["POST"]),
            Route("/callbacks", callback, methods=["POST"]),
        ]
    )


async def _answer(
    backend: SampleBackend, workers: Executor, tool: str, operation: Callable[[], Mapping[str, Any]]
) -> Response:
    """Run ``operation`` on the servers' workers and answer it as JSON (or as the tool's fault)."""
    try:
        result = await _off_loop(workers, operation)
    except BackOfficeError as exc:
        return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=exc.status)
    except InjectedFaultError as exc:
        return JSONResponse({"error": "server_error", "message": str(exc)}, status_code=500)
    if backend.fault(tool) == "garbage":
        garbage = backend.garbage()
        return PlainTextResponse(garbage) if isinstance(garbage, str) else JSONResponse(garbage)
    return JSONResponse(result)


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise RequestInvalidError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise RequestInvalidError("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise RequestInvalidError(f"{name} must be a string")
    return value


def _number(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestInvalidError(f"{name} must be a number")
    return value


_HTTP_TOOLS = {
    ("POST", "/accounts/lookup"): "lookup_account",
    ("POST", "/payment-arrangements"): "create_payment_arrangement",
    ("POST", "/callbacks"): "book_callback",
}


def http_tool_of(scope: Scope, body: bytes) -> str | None:
    """The tool an HTTP API request calls, if it is one."""
    method, path = scope["method"], scope["path"]
    if method == "GET" and re.fullmatch(r"/accounts/[^/]+/balance", path):
        return "get_balance"
    return _HTTP_TOOLS.get((method, path))
