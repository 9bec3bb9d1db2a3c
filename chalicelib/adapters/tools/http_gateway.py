"""``HttpToolGateway``: one tool call to a plain JSON HTTP API.

Each tool maps to an HTTP method and a path template; ``{placeholders}`` are filled from the
arguments (URL-quoted), and the remaining arguments go in the JSON body (POST, PUT, PATCH) or
the query string (other methods). A side effect's idempotency key travels in the
``Idempotency-Key`` header. httpx is imported on first use; one client per gateway keeps its
connections alive between calls (~1 ms a call on loopback once connected).

``timeout_ms`` is httpx's timeout for each phase (connect, write, each read), not a wall clock
over the whole call: a server that trickles its answer byte by byte could stretch it.

Failures map onto the tool error tree: timeouts → ``ToolTimeoutError``; connection errors, 5xx
and 429 → ``ToolUnavailableError``; any other 4xx, an unknown tool or an argument missing from
the path → ``ToolRejectedError``; a body that is not JSON → ``ToolResultInvalidError``.
"""

from __future__ import annotations

import string
import threading
from typing import Any
from urllib.parse import quote

from chalicelib.errors import ToolRejectedError, ToolResultInvalidError, ToolTimeoutError, ToolUnavailableError

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class HttpToolGateway:
    """Tool calls to one HTTP API.

    Args:
        base_url: the API's base URL, e.g. ``https://backoffice.example/api``.
        routes: tool name -> (HTTP method, path template), e.g.
            ``{"get_balance": ("GET", "/accounts/{account_id}/balance")}``.
    """

    def __init__(self, base_url: str, routes: dict[str, tuple[str, str]]) -> None:
        self._base_url = base_url.rstrip("/")
        self._routes = {name: (method.upper(), path) for name, (method, path) in routes.items()}
        self._lock = threading.Lock()
        self._client: Any = None

    def warm(self) -> None:
        """Import httpx and build the client now, so that no call pays for them."""
        self._http()

    def close(self) -> None:
        """Close the kept-alive connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def call(self, name: str, arguments: dict[str, Any], *, idempotency_key: str | None, timeout_ms: float) -> Any:
        """Call tool ``name`` and return the JSON body of the answer as Python data.

        Args:
            name: the tool's name (a key of ``routes``).
            arguments: fill the path's placeholders; the rest go in the body or query string.
            idempotency_key: sent as the ``Idempotency-Key`` header when given (side effects).
            timeout_ms: httpx's timeout for each phase of the request.

        Returns:
            The parsed JSON body, whatever its shape (the caller checks it).

        Raises:
            ToolTimeoutError: a phase of the request took longer than ``timeout_ms``.
            ToolUnavailableError: connection refused or dropped, 5xx, 429.
            ToolRejectedError: unknown tool, an argument missing from the path, any other 4xx.
            ToolResultInvalidError: the body is not JSON.
        """
        import httpx  # noqa: PLC0415

        route = self._routes.get(name)
        if route is None:
            raise ToolRejectedError(f"{name}: no HTTP route for this tool")
        method, template = route
        path, rest = _fill(name, template, arguments)
        headers = {"Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        payload: dict[str, Any] = {"json": rest} if method in _BODY_METHODS else {"params": rest}
        try:
            response = self._http().request(
                method, self._base_url + path, headers=headers, timeout=httpx.Timeout(timeout_ms / 1000), **payload
            )
        except httpx.TimeoutException as exc:
            raise ToolTimeoutError(f"{name}: no answer within {timeout_ms:.0f} ms") from exc
        except httpx.HTTPError as exc:
            raise ToolUnavailableError(f"{name}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 400 <= status < 500 and status != 429:
            raise ToolRejectedError(f"{name}: HTTP {status}: {response.text[:200]}")
        if not 200 <= status < 300:
            raise ToolUnavailableError(f"{name}: HTTP {status}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise ToolResultInvalidError(f"{name}: the answer is not JSON") from None

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx  # noqa: PLC0415 - lazy: only where tools are called

                self._client = httpx.Client(follow_redirects=False)
            return self._client


def _fill(name: str, template: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path with its placeholders filled, and the arguments left over."""
    placeholders = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    missing = sorted(p for p in placeholders if not isinstance(arguments.get(p), str | int))
    if missing:
        raise ToolRejectedError(f"{name}: the path needs {', '.join(missing)}")
    path = template.format(**{p: quote(str(arguments[p]), safe="") for p in placeholders})
    return path, {k: v for k, v in arguments.items() if k not in placeholders}
