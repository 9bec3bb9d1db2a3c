"""Sample tool servers: the FAKE back office (``sim.back_office``) served twice, on 127.0.0.1
only, each by uvicorn in a background thread: as an MCP server and as an HTTP API
(``sim.tool_apps``), each behind the transport faults (``sim.tool_faults``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import uvicorn
from starlette.types import ASGIApp, Scope

from sim.back_office import SampleBackend
from sim.tool_apps import http_app, http_tool_of, mcp_app, mcp_tool_of
from sim.tool_faults import TransportFaults


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
            mcp = self._serve(mcp_app(self.backend, self._workers), mcp_tool_of, "sample-mcp-server")
            http = self._serve(http_app(self.backend, self._workers), http_tool_of, "sample-http-api")
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
        served = _ServedApp(TransportFaults(app, self.backend, tool_of), name)
        served.start()
        self._served.append(served)
        return served
