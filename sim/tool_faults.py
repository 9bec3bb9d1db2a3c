"""Faults at the transport, in front of both sample tool servers (``sim.tool_servers``).

Under load (``sim load``) faults are drawn per request (``SampleBackend.fault_rates``): each tool
request gets a fault with the given probability, drawn from the seed and the request itself
(tool, arguments, key and how many times that same request came before), so the same seed faults
the same requests however the calls interleave. Drawn faults act here, at the HTTP layer:
``slow`` and ``timeout`` delay the request, ``error`` answers 503 without running it, ``garbage``
replaces the answer, ``drop_after_effect`` runs it and cuts the answer. The switched-on
``drop_after_effect`` (``SampleBackend.set_fault``) is cut here too; the other switched faults act
inside the back office and the apps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim.back_office import SampleBackend


class TransportFaults:
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
