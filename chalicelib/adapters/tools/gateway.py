"""``ToolGateway``: each tool reached over its declared transport (MCP or HTTP)."""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.domain.tools import ToolDef
from chalicelib.errors import ToolRejectedError


class TransportGateway(Protocol):
    def call(self, name: str, arguments: dict[str, Any], *, idempotency_key: str | None, timeout_ms: float) -> Any: ...

    def warm(self) -> None: ...


class TransportToolGateway:
    """Dispatch a tool call to the gateway of the tool's transport (``mcp`` or ``http``)."""

    def __init__(self, transports: dict[str, TransportGateway]) -> None:
        self._transports = transports

    def call(
        self, tool: ToolDef, arguments: dict[str, Any], *, idempotency_key: str | None, timeout_ms: float
    ) -> object:
        transport = self._transports.get(tool.transport)
        if transport is None:
            raise ToolRejectedError(f"no {tool.transport} endpoint is configured for tool {tool.name}")
        return transport.call(tool.name, arguments, idempotency_key=idempotency_key, timeout_ms=timeout_ms)

    def warm(self) -> None:
        """Import each transport's SDK and open what can be opened, before the first call (the
        contact flow's warm-up invocation): the MCP client alone costs about 0.4 s to import."""
        for transport in self._transports.values():
            transport.warm()
