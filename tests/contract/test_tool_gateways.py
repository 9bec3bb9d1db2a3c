"""The MCP and HTTP tool gateways against the sample tool servers, over real connections on
127.0.0.1: results, idempotency keys, refusals and every fault, for both transports."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.adapters.tools.http_gateway import HttpToolGateway
from chalicelib.adapters.tools.mcp_gateway import McpToolGateway
from chalicelib.domain.tools import bounded_result
from chalicelib.errors import ToolRejectedError, ToolResultInvalidError, ToolTimeoutError, ToolUnavailableError
from sim.back_office import SampleBackend
from sim.tool_servers import SampleToolServers

Gateway = McpToolGateway | HttpToolGateway
ROUTES = {
    "lookup_account": ("POST", "/accounts/lookup"),
    "get_balance": ("GET", "/accounts/{account_id}/balance"),
    "create_payment_arrangement": ("POST", "/payment-arrangements"),
    "book_callback": ("POST", "/callbacks"),
}
ARRANGEMENT = {"account_id": "acc-550911", "amount": 150, "pay_on": "2026-12-01"}
SLOW_SECONDS = 0.3


@pytest.fixture(scope="module")
def servers() -> Iterator[SampleToolServers]:
    with SampleToolServers(SampleBackend(slow_seconds=SLOW_SECONDS)) as running:
        yield running


@pytest.fixture(scope="module")
def mcp_gateway(servers: SampleToolServers) -> Iterator[McpToolGateway]:
    gateway = McpToolGateway(servers.mcp_url)
    gateway.warm()  # the SDK's import (~0.4 s) must not land inside a call's budget
    yield gateway
    gateway.close()


@pytest.fixture(scope="module")
def http_gateway(servers: SampleToolServers) -> Iterator[HttpToolGateway]:
    gateway = HttpToolGateway(servers.http_url, ROUTES)
    yield gateway
    gateway.close()


@pytest.fixture(params=["mcp", "http"])
def gateway(request: pytest.FixtureRequest) -> Gateway:
    return request.getfixturevalue(f"{request.param}_gateway")  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def backend(servers: SampleToolServers) -> Iterator[SampleBackend]:
    """The shared back office; its faults are cleared after every test."""
    yield servers.backend
    servers.backend.clear_faults()
    servers.backend.garbage_shape = "text"


def call(
    gateway: Gateway, name: str, arguments: dict[str, Any], key: str | None = None, timeout_ms: float = 2000
) -> Any:
    return gateway.call(name, arguments, idempotency_key=key, timeout_ms=timeout_ms)


def new_key() -> str:
    return uuid.uuid4().hex


def test_a_read_call_returns_the_data(gateway: Gateway) -> None:
    assert call(gateway, "lookup_account", {"account_number": "448129"}) == {
        "account_id": "acc-448129", "first_name": "Dana", "status": "active",
    }  # fmt: skip
    assert call(gateway, "get_balance", {"account_id": "acc-550911"}) == {
        "account_id": "acc-550911", "balance": 311.75, "currency": "USD", "due_date": "2026-11-30",
        "status": "past_due",
    }  # fmt: skip


def test_a_side_effect_runs_once_per_key(gateway: Gateway, backend: SampleBackend) -> None:
    first, again = new_key(), new_key()
    before = backend.side_effects_executed
    arranged = call(gateway, "create_payment_arrangement", ARRANGEMENT, key=first)
    assert arranged["status"] == "scheduled" and arranged["amount"] == 150
    assert call(gateway, "create_payment_arrangement", ARRANGEMENT, key=first) == arranged
    assert backend.side_effects_executed == before + 1
    booked = call(gateway, "book_callback", {"phone": "+15555550173", "window": "evening"}, key=again)
    assert booked["status"] == "booked" and booked["window"] == "evening"
    assert backend.side_effects_executed == before + 2
    assert backend.executions_by_key[first] == backend.executions_by_key[again] == 1


def test_a_card_payment_takes_the_real_number_and_answers_only_its_last_four(
    mcp_gateway: McpToolGateway, backend: SampleBackend
) -> None:
    card = "4111111111111111"
    before = backend.received_cards().count(card)
    payment = {"account_id": "acc-448129", "amount": 120, "card_number": card, "expiry": "04/27"}
    paid = call(mcp_gateway, "take_card_payment", payment, key=new_key())
    assert (paid["status"], paid["card_last4"]) == ("approved", "1111")
    assert card not in str(paid)
    assert backend.received_cards().count(card) == before + 1


@pytest.mark.parametrize(
    "card_number",
    ["[CARD_1]", "4111111111111112"],  # a token never swapped for the number; a failed Luhn digit
)
def test_a_card_payment_without_a_real_card_number_is_rejected(
    mcp_gateway: McpToolGateway, backend: SampleBackend, card_number: str
) -> None:
    before = backend.side_effects_executed
    payment = {"account_id": "acc-448129", "amount": 120, "card_number": card_number, "expiry": "04/27"}
    with pytest.raises(ToolRejectedError):
        call(mcp_gateway, "take_card_payment", payment, key=new_key())
    assert backend.side_effects_executed == before
    assert "[CARD_1]" not in backend.received_cards()


def test_a_side_effect_without_a_key_is_rejected(gateway: Gateway, backend: SampleBackend) -> None:
    before = backend.side_effects_executed
    with pytest.raises(ToolRejectedError):
        call(gateway, "create_payment_arrangement", ARRANGEMENT)
    assert backend.side_effects_executed == before


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("lookup_account", {"account_number": "999999"}),  # unknown account
        ("get_balance", {"account_id": "acc-000000"}),  # unknown account
        ("lookup_account", {"account_number": 448129}),  # breaks the tool's schema
        ("transfer_all_funds", {}),  # unknown tool
    ],
)
def test_what_the_server_cannot_do_is_rejected(gateway: Gateway, name: str, arguments: dict[str, Any]) -> None:
    with pytest.raises(ToolRejectedError):
        call(gateway, name, arguments)


def test_a_server_error_is_unavailable(gateway: Gateway, backend: SampleBackend) -> None:
    backend.set_fault("get_balance", "error")
    with pytest.raises(ToolUnavailableError):
        call(gateway, "get_balance", {"account_id": "acc-448129"})


def test_a_hanging_server_is_abandoned_at_the_budget(gateway: Gateway, backend: SampleBackend) -> None:
    backend.set_fault("get_balance", "timeout")
    started = time.perf_counter()
    with pytest.raises(ToolTimeoutError):
        call(gateway, "get_balance", {"account_id": "acc-448129"}, timeout_ms=300)
    assert time.perf_counter() - started < backend.hang_seconds / 10  # it did not wait for the server


def test_a_slow_answer_within_the_budget_arrives(gateway: Gateway, backend: SampleBackend) -> None:
    backend.set_fault("lookup_account", "slow")
    started = time.perf_counter()
    assert call(gateway, "lookup_account", {"account_number": "551209"})["first_name"] == "Luis"
    assert time.perf_counter() - started >= SLOW_SECONDS


def test_a_dropped_answer_after_the_effect_is_unavailable_and_a_retry_does_not_repeat_it(
    gateway: Gateway, backend: SampleBackend
) -> None:
    key = new_key()
    backend.set_fault("create_payment_arrangement", "drop_after_effect")
    before = backend.side_effects_executed
    with pytest.raises(ToolUnavailableError):
        call(gateway, "create_payment_arrangement", ARRANGEMENT, key=key)
    assert backend.side_effects_executed == before + 1  # it happened, though the caller saw a failure
    backend.clear_faults()
    assert call(gateway, "create_payment_arrangement", ARRANGEMENT, key=key)["status"] == "scheduled"
    assert backend.side_effects_executed == before + 1
    assert backend.executions_by_key[key] == 1


def test_garbage_that_is_not_json_is_an_invalid_result(gateway: Gateway, backend: SampleBackend) -> None:
    backend.set_fault("get_balance", "garbage")
    with pytest.raises(ToolResultInvalidError):
        call(gateway, "get_balance", {"account_id": "acc-448129"})


def test_json_garbage_comes_back_for_the_caller_to_reject(gateway: Gateway, backend: SampleBackend) -> None:
    backend.set_fault("get_balance", "garbage")
    backend.garbage_shape = "nested_list"
    data = call(gateway, "get_balance", {"account_id": "acc-448129"})
    assert isinstance(data, list)
    with pytest.raises(ToolResultInvalidError):
        bounded_result(data)


def make_gateway(kind: str, base_url: str) -> Gateway:
    return McpToolGateway(base_url + "/mcp") if kind == "mcp" else HttpToolGateway(base_url, ROUTES)


@pytest.mark.parametrize("kind", ["mcp", "http"])
def test_a_refused_connection_is_unavailable(kind: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = make_gateway(kind, f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ToolUnavailableError):
            call(closed, "lookup_account", {"account_number": "448129"})
    finally:
        closed.close()


@pytest.fixture
def bare_status_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server on 127.0.0.1 that answers every request with one HTTP status and a text body."""
    status: int = request.param

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"go away"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("kind", ["mcp", "http"])
@pytest.mark.parametrize(
    ("bare_status_server", "error"),
    [(401, ToolRejectedError), (503, ToolUnavailableError)],
    indirect=["bare_status_server"],
)
def test_bare_http_statuses_map_like_the_tool_errors_say(kind: str, bare_status_server: str, error: type) -> None:
    gateway = make_gateway(kind, bare_status_server)
    try:
        with pytest.raises(error):
            call(gateway, "lookup_account", {"account_number": "448129"})
    finally:
        gateway.close()


def test_mcp_calls_work_from_many_threads_and_under_a_running_event_loop(mcp_gateway: McpToolGateway) -> None:
    def lookup(_: int) -> Any:
        return call(mcp_gateway, "lookup_account", {"account_number": "550911"})

    with ThreadPoolExecutor(max_workers=6) as pool:
        names = {result["first_name"] for result in pool.map(lookup, range(12))}
    assert names == {"Priya"}

    async def from_async_code() -> Any:
        return lookup(0)  # a sync call made where an event loop is already running

    assert asyncio.run(from_async_code())["first_name"] == "Priya"


def test_the_servers_leave_no_thread_or_port_behind() -> None:
    before = set(threading.enumerate())
    with SampleToolServers() as running:
        ports = [int(url.split(":")[2].split("/")[0]) for url in (running.mcp_url, running.http_url)]
        running.backend.set_fault("get_balance", "timeout")
        held = HttpToolGateway(running.http_url, ROUTES)
        with pytest.raises(ToolTimeoutError):  # leaves a call hanging in the server
            call(held, "get_balance", {"account_id": "acc-448129"}, timeout_ms=100)
        held.close()
    assert set(threading.enumerate()) <= before
    for port in ports:
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))


def _counted(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[object]:
    """Each object ``module.name`` builds from now on (the real one, counted)."""
    built: list[object] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(module, name, counted)
    return built


@pytest.mark.parametrize("transport", ["mcp", "http"])
def test_a_gateway_builds_its_tls_context_or_client_once_for_all_its_calls(
    transport: str, servers: SampleToolServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TLS context or a client per call costs tens of milliseconds (``bench/tool_gateways.py``
    times a call)."""
    import httpx
    import httpx2

    gateway: Gateway
    if transport == "mcp":
        built = _counted(monkeypatch, httpx2, "create_ssl_context")
        gateway = McpToolGateway(servers.mcp_url)
    else:
        built = _counted(monkeypatch, httpx, "Client")
        gateway = HttpToolGateway(servers.http_url, ROUTES)
    try:
        for _ in range(5):
            call(gateway, "get_balance", {"account_id": "acc-448129"})
    finally:
        gateway.close()
    assert len(built) == 1


def test_the_sample_servers_listen_on_sockets_asyncio_sets_tcp_nodelay_on() -> None:
    """asyncio sets TCP_NODELAY only on the accepted sockets of a listener created with
    IPPROTO_TCP; without it each answer on a kept-alive connection waits for a delayed ACK."""
    from sim.tool_servers import _ServedApp

    served = _ServedApp(lambda *_: None, "probe")  # type: ignore[arg-type, return-value]
    try:
        listener = served._socket
        assert (listener.family, listener.type, listener.proto) == (
            socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP,
        )  # fmt: skip
        assert listener.getsockname()[0] == "127.0.0.1"
    finally:
        served.join()
