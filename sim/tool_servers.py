"""Sample tool servers: a FAKE of a contact centre's back office, for the demo and the tests.

Nothing here talks to a real billing or scheduling system. One in-memory ``SampleBackend``
(three deterministic accounts, payment arrangements, callbacks) is served twice, on 127.0.0.1
only, each by uvicorn in a background thread:

- an MCP server (mcp 2.x ``MCPServer``, streamable HTTP at ``/mcp``) with the four operations
  as tools: input schemas from the type hints, structured JSON results. The idempotency key of a
  side effect travels in the request's ``_meta`` (``idempotency_key``) and is read from the
  request context.
- an HTTP API: ``POST /accounts/lookup``, ``GET /accounts/{account_id}/balance``,
  ``POST /payment-arrangements`` and ``POST /callbacks``, JSON bodies, the key in the
  ``Idempotency-Key`` header; 404 for an unknown account, 422 for bad input, 400 for a side
  effect without a key, 500 for the ``error`` fault.

Side effects run once per idempotency key: a repeat with the same key answers the stored result
without running again (the same key with other arguments is refused). Faults are switched per
tool at run time (``set_fault``): ``slow``, ``error``, ``timeout``, ``drop_after_effect`` (the
effect happens and is stored, then the connection is cut before the answer) and ``garbage``
(an answer that is not a JSON object: text that is not JSON, or a huge nested list).

Under load (``sim load``) faults are also drawn per request, at the transport (``fault_rates``):
each tool request gets a fault with the given probability, drawn from the seed and the request
itself (tool, arguments, key and how many times that same request came before), so the same seed
faults the same requests however the calls interleave. Drawn faults act at the HTTP layer in
front of both servers: ``slow`` and ``timeout`` delay the request, ``error`` answers 503 without
running it, ``garbage`` replaces the answer, ``drop_after_effect`` runs it and cuts the answer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar, get_args

import uvicorn
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from sim.seeded import SeededDraws

Fault = Literal["slow", "error", "timeout", "drop_after_effect", "garbage"]
FAULTS: tuple[str, ...] = get_args(Fault)
TOOL_NAMES = ("lookup_account", "get_balance", "create_payment_arrangement", "book_callback")
CALLBACK_WINDOWS = ("morning", "afternoon", "evening")
IDEMPOTENCY_META_KEY = "idempotency_key"

_ACCOUNT_NUMBER = re.compile(r"[0-9]{4,12}")
_PHONE = re.compile(r"\+?[0-9]{10,15}")
_T = TypeVar("_T")


# --- what the back office answers -------------------------------------------------------------


class AccountSummary(TypedDict):
    account_id: str
    first_name: str
    status: str


class Balance(TypedDict):
    account_id: str
    balance: float
    currency: str
    due_date: str | None
    status: str


class PaymentArrangement(TypedDict):
    arrangement_id: str
    account_id: str
    amount: float
    pay_on: str
    status: str


class CallbackBooking(TypedDict):
    callback_id: str
    window: str
    status: str


class BackOfficeError(Exception):
    """A request the back office refuses. ``status`` is the HTTP API's answer; over MCP every
    refusal is a JSON-RPC invalid-params error (-32602)."""

    status = 400
    code = "bad_request"


class AccountNotFoundError(BackOfficeError):
    status = 404
    code = "account_not_found"


class RequestInvalidError(BackOfficeError):
    status = 422
    code = "invalid_request"


class IdempotencyKeyMissingError(BackOfficeError):
    status = 400
    code = "idempotency_key_required"


class InjectedFaultError(Exception):
    """The ``error`` fault: the server fails (HTTP 500; over MCP, an error result)."""


@dataclass(frozen=True)
class SampleAccount:
    account_number: str
    first_name: str
    last_name: str
    status: str
    balance: float
    currency: str = "USD"
    due_date: str | None = None

    @property
    def account_id(self) -> str:
        return f"acc-{self.account_number}"


SAMPLE_ACCOUNTS = (
    SampleAccount("448129", "Dana", "Whitfield", "active", 182.40, due_date="2026-12-14"),
    SampleAccount("551209", "Luis", "Ortega", "active", 0.00),
    SampleAccount("550911", "Priya", "Natarajan", "past_due", 311.75, due_date="2026-11-30"),
)


class SampleBackend:
    """The fake back office: accounts, side effects with idempotency keys, faults. Thread-safe.

    Args:
        accounts: the accounts it knows (default ``SAMPLE_ACCOUNTS``).
        slow_seconds: how long a call under the ``slow`` fault takes before answering.
        hang_seconds: how long a call under the ``timeout`` fault hangs before answering.

    Attributes:
        side_effects_executed: side effects actually run (repeats of a key do not count).
        executions_by_key: idempotency key -> times its side effect ran (1, if keys work).
        executions_by_request: what was asked (tool and arguments) -> times a side effect ran for
            it under any key: more than 1 means the caller got the effect twice (2 payments).
        faults_drawn: fault -> requests it was drawn for (``fault_rates``).
        calls_by_tool: tool name -> calls received, repeats and refusals included.
        garbage_shape: what the ``garbage`` fault answers: ``"text"`` (not JSON at all) or
            ``"nested_list"`` (JSON, but a huge nested list instead of an object).
    """

    def __init__(
        self, accounts: tuple[SampleAccount, ...] = SAMPLE_ACCOUNTS, *, slow_seconds: float = 1.5,
        hang_seconds: float = 10.0, fault_rates: Mapping[str, float] | None = None, seed: int = 7,
    ) -> None:  # fmt: skip
        unknown = set(fault_rates or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown tool faults: {sorted(unknown)}")
        self.slow_seconds = slow_seconds
        self.hang_seconds = hang_seconds
        self.fault_rates = dict(fault_rates or {})
        self.faults_drawn: dict[str, int] = {}
        self.executions_by_request: dict[str, int] = {}
        self._draws = SeededDraws(seed)
        self.garbage_shape: Literal["text", "nested_list"] = "text"
        self.side_effects_executed = 0
        self.executions_by_key: dict[str, int] = {}
        self.calls_by_tool: dict[str, int] = {}
        self._by_number = {a.account_number: a for a in accounts}
        self._by_id = {a.account_id: a for a in accounts}
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._release = threading.Event()
        self._stored: dict[str, tuple[str, Any]] = {}  # key -> (what was asked, what was answered)
        self._ids = itertools.count(1)

    # --- faults --------------------------------------------------------------------------------

    def set_fault(self, tool_name: str, fault: Fault) -> None:
        """Make every later call of ``tool_name`` misbehave as ``fault`` (see ``FAULTS``)."""
        if tool_name not in TOOL_NAMES or fault not in FAULTS:
            raise ValueError(f"unknown tool or fault: {tool_name!r}, {fault!r}")
        with self._lock:
            self._faults[tool_name] = fault

    def clear_faults(self) -> None:
        """Back to normal, and wake the calls a ``slow`` or ``timeout`` fault is still holding."""
        with self._lock:
            self._faults.clear()
            held, self._release = self._release, threading.Event()
        held.set()

    def fault(self, tool_name: str) -> Fault | None:
        """The fault switched on for ``tool_name``, if any."""
        with self._lock:
            return self._faults.get(tool_name)

    def draw_fault(self, tool_name: str, request: str) -> Fault | None:
        """The fault drawn for this request (``fault_rates``), counted; None most of the time."""
        if not self.fault_rates:
            return None
        fault, _ = self._draws.pick(f"{tool_name}|{request}", self.fault_rates, FAULTS)
        if fault is not None:
            with self._lock:
                self.faults_drawn[fault] = self.faults_drawn.get(fault, 0) + 1
        return fault  # type: ignore[return-value]

    def garbage(self) -> str | list[Any]:
        """What a tool under the ``garbage`` fault answers instead of its result."""
        if self.garbage_shape == "text":
            return "<html><body>Back office is having a moment</body></html>"
        return [[i, [str(i), [i / 2, [None]]]] for i in range(5000)]

    # --- operations ----------------------------------------------------------------------------

    def lookup_account(self, account_number: str) -> AccountSummary:
        """The account with this number (as the caller reads it out).

        Raises:
            RequestInvalidError: not 4-12 digits.
            AccountNotFoundError: no such account.
        """
        self._enter("lookup_account")
        if not _ACCOUNT_NUMBER.fullmatch(account_number):
            raise RequestInvalidError("account_number must be 4 to 12 digits")
        account = self._by_number.get(account_number)
        if account is None:
            raise AccountNotFoundError(f"no account numbered {account_number}")
        return {"account_id": account.account_id, "first_name": account.first_name, "status": account.status}

    def get_balance(self, account_id: str) -> Balance:
        """Balance, currency, due date and status of an account.

        Raises:
            AccountNotFoundError: no such account.
        """
        self._enter("get_balance")
        account = self._account(account_id)
        return {"account_id": account.account_id, "balance": account.balance, "currency": account.currency,
                "due_date": account.due_date, "status": account.status}  # fmt: skip

    def create_payment_arrangement(
        self, account_id: str, amount: float, pay_on: str, *, idempotency_key: str | None
    ) -> PaymentArrangement:
        """Schedule a payment (a side effect: once per idempotency key).

        Raises:
            IdempotencyKeyMissingError: no key.
            AccountNotFoundError: no such account.
            RequestInvalidError: amount outside 1-5000, ``pay_on`` not a date, or the key was
                used before with other arguments.
        """
        self._enter("create_payment_arrangement")
        key = _required_key(idempotency_key)
        account = self._account(account_id)
        if isinstance(amount, bool) or not 1 <= amount <= 5000:
            raise RequestInvalidError("amount must be between 1 and 5000")
        try:
            date.fromisoformat(pay_on)
        except ValueError:
            raise RequestInvalidError("pay_on must be a date (YYYY-MM-DD)") from None
        asked = {"account_id": account.account_id, "amount": amount, "pay_on": pay_on}

        def execute() -> PaymentArrangement:
            return {"arrangement_id": f"pa-{next(self._ids):04d}", "account_id": account.account_id,
                    "amount": round(float(amount), 2), "pay_on": pay_on, "status": "scheduled"}  # fmt: skip

        return self._once(key, "create_payment_arrangement", asked, execute)

    def book_callback(
        self, phone: str, window: str, account_id: str | None = None, *, idempotency_key: str | None
    ) -> CallbackBooking:
        """Book a call back (a side effect: once per idempotency key).

        Raises:
            IdempotencyKeyMissingError: no key.
            AccountNotFoundError: ``account_id`` given but unknown.
            RequestInvalidError: a bad phone number or window, or the key was used before with
                other arguments.
        """
        self._enter("book_callback")
        key = _required_key(idempotency_key)
        if account_id is not None:
            self._account(account_id)
        if not _PHONE.fullmatch(phone):
            raise RequestInvalidError("phone must be 10 to 15 digits, optionally after a +")
        if window not in CALLBACK_WINDOWS:
            raise RequestInvalidError(f"window must be one of {', '.join(CALLBACK_WINDOWS)}")
        asked = {"account_id": account_id, "phone": phone, "window": window}

        def execute() -> CallbackBooking:
            return {"callback_id": f"cb-{next(self._ids):04d}", "window": window, "status": "booked"}

        return self._once(key, "book_callback", asked, execute)

    # --- internals -----------------------------------------------------------------------------

    def _enter(self, tool: str) -> None:
        """Count the call and apply the tool's fault, if it is one the back office itself shows."""
        with self._lock:
            self.calls_by_tool[tool] = self.calls_by_tool.get(tool, 0) + 1
            fault, release = self._faults.get(tool), self._release
        if fault == "slow":
            release.wait(self.slow_seconds)
        elif fault == "timeout":
            release.wait(self.hang_seconds)
        elif fault == "error":
            raise InjectedFaultError(f"{tool}: the back office failed (injected fault)")

    def _account(self, account_id: str) -> SampleAccount:
        account = self._by_id.get(account_id)
        if account is None:
            raise AccountNotFoundError(f"no account with id {account_id}")
        return account

    def _once(self, key: str, tool: str, asked: dict[str, Any], execute: Callable[[], _T]) -> _T:
        """Run ``execute`` the first time ``key`` is seen; answer the stored result after that."""
        fingerprint = json.dumps([tool, asked], sort_keys=True)
        with self._lock:
            stored = self._stored.get(key)
            if stored is not None:
                if stored[0] != fingerprint:
                    raise RequestInvalidError("this idempotency key was used with other arguments")
                return stored[1]  # type: ignore[no-any-return]
            result = execute()
            self._stored[key] = (fingerprint, result)
            self.side_effects_executed += 1
            self.executions_by_key[key] = self.executions_by_key.get(key, 0) + 1
            self.executions_by_request[fingerprint] = self.executions_by_request.get(fingerprint, 0) + 1
            return result


def _required_key(idempotency_key: str | None) -> str:
    if not idempotency_key:
        raise IdempotencyKeyMissingError("a side effect needs an idempotency key")
    return idempotency_key


# --- the MCP server ---------------------------------------------------------------------------


def _mcp_app(backend: SampleBackend, workers: Executor) -> ASGIApp:
    """The four operations as MCP tools, served over streamable HTTP at ``/mcp``."""
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


def _mcp_tool_of(scope: Scope, body: bytes) -> str | None:
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


def _http_app(backend: SampleBackend, workers: Executor) -> ASGIApp:
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


def _http_tool_of(scope: Scope, body: bytes) -> str | None:
    """The tool an HTTP API request calls, if it is one."""
    method, path = scope["method"], scope["path"]
    if method == "GET" and re.fullmatch(r"/accounts/[^/]+/balance", path):
        return "get_balance"
    return _HTTP_TOOLS.get((method, path))


# --- serving ----------------------------------------------------------------------------------


class _TransportFaults:
    """ASGI wrapper in front of both servers: the ``drop_after_effect`` fault, and the faults
    drawn per request under load (``SampleBackend.fault_rates``).

    ``drop_after_effect``: the request runs to its end (the effect happens and is stored under
    its key), then the connection is cut before the answer is sent.

    The answer is swallowed and a truncated response started in its place; returning without
    finishing it makes uvicorn close the connection (it logs "ASGI callable returned without
    completing response"), so the client sees the connection drop mid-response.
    """

    def __init__(self, app: ASGIApp, backend: SampleBackend, tool_of: Callable[[Scope, bytes], str | None]) -> None:
        self._app = app
        self._backend = backend
        self._tool_of = tool_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its request
            body += message.get("body", b"")
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        tool = self._tool_of(scope, body)
        # A fault switched on for the tool acts inside the servers; a drawn one acts here.
        switched = self._backend.fault(tool) if tool else None
        drawn = self._backend.draw_fault(tool, _canonical(body)) if tool and switched is None else None
        if drawn in ("slow", "timeout"):
            await asyncio.sleep(self._backend.slow_seconds if drawn == "slow" else self._backend.hang_seconds)
        elif drawn == "error":
            await _send_json(send, 503, {"error": "server_error", "message": f"{tool}: injected fault"})
            return
        elif drawn == "garbage":
            await self._app(scope, replay, _garbage_answer(send, self._backend))
            return
        if "drop_after_effect" not in (switched, drawn):
            await self._app(scope, replay, send)
            return

        async def swallow(_: Message) -> None:
            return None

        await self._app(scope, replay, swallow)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})


def _canonical(body: bytes) -> str:
    """A request's identity for drawing its fault: the JSON-RPC params (not the message id, which
    depends on the client's session) or the JSON body, with sorted keys."""
    try:
        message = json.loads(body or b"null")
    except ValueError:
        return body.decode(errors="replace")
    if isinstance(message, dict) and "params" in message:
        message = message["params"]
    return json.dumps(message, sort_keys=True)


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _garbage_answer(send: Send, backend: SampleBackend) -> Send:
    """A ``send`` that answers the backend's garbage (as text/html, 200) in place of the real
    answer, once the real one is complete."""

    async def garbage_send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            garbage = backend.garbage()
            body = (garbage if isinstance(garbage, str) else json.dumps(garbage)).encode()
            headers = [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

    return garbage_send


class _ServedApp:
    """One ASGI app served by uvicorn on 127.0.0.1 (a free port), in a background thread."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every answer on a kept-alive connection waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=name, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        give_up = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > give_up:
                self.request_stop()
                self.join()
                raise RuntimeError(f"{self._thread.name} did not start")
            time.sleep(0.005)

    def request_stop(self) -> None:
        self._server.should_exit = True

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()


class SampleToolServers:
    """Both sample servers over one ``SampleBackend``, as a context manager.

    Attributes:
        backend: the shared back office (counters, faults).
        mcp_url: the MCP streamable HTTP endpoint, ``http://127.0.0.1:<port>/mcp``.
        http_url: the HTTP API's base URL, ``http://127.0.0.1:<port>``.
    """

    def __init__(self, backend: SampleBackend | None = None) -> None:
        self.backend = backend or SampleBackend()
        self.mcp_url = ""
        self.http_url = ""
        self._served: list[_ServedApp] = []
        self._workers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sample-back-office")

    def __enter__(self) -> SampleToolServers:
        try:
            mcp = self._serve(_mcp_app(self.backend, self._workers), _mcp_tool_of, "sample-mcp-server")
            http = self._serve(_http_app(self.backend, self._workers), _http_tool_of, "sample-http-api")
        except BaseException:
            self.__exit__()
            raise
        self.mcp_url = f"http://127.0.0.1:{mcp.port}/mcp"
        self.http_url = f"http://127.0.0.1:{http.port}"
        return self

    def __exit__(self, *_: object) -> None:
        self.backend.clear_faults()  # first wake the calls a fault holds, so the servers can stop
        for served in self._served:
            served.request_stop()
        for served in self._served:
            served.join()
        self._served.clear()
        self._workers.shutdown(wait=True)

    def _serve(self, app: ASGIApp, tool_of: Callable[[Scope, bytes], str | None], name: str) -> _ServedApp:
        served = _ServedApp(_TransportFaults(app, self.backend, tool_of), name)
        served.start()
        self._served.append(served)
        return served
