"""What one tool call costs on loopback: the MCP and HTTP gateways against the sample tool
servers (127.0.0.1), interleaved, after a warm-up, so that both see the same machine.

Prints one JSON object: per gateway the median and p90 milliseconds of a ``get_balance`` call,
and the share of the tool-call budget the median takes. The regressions this watches cost tens
of milliseconds each: a TLS context built per call, or a kept-alive connection stalled by a
delayed ACK (``sim.tool_servers`` sets TCP_NODELAY).

    python bench/tool_gateways.py [--calls 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.adapters.data_files import load_envelope
from chalicelib.adapters.tools.http_gateway import HttpToolGateway
from chalicelib.adapters.tools.mcp_gateway import McpToolGateway
from sim.back_office import SampleBackend
from sim.stats import percentile
from sim.tool_servers import SampleToolServers

ROUTES = {"get_balance": ("GET", "/accounts/{account_id}/balance")}
ARGUMENTS = {"account_id": "acc-448129"}


def _timed(gateway: Any) -> float:
    started = time.perf_counter()
    gateway.call("get_balance", ARGUMENTS, idempotency_key=None, timeout_ms=5000)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="calls per gateway (after 5 warm-up calls each)")
    args = parser.parse_args()
    budget_ms = load_envelope().components["tool_call"]
    with SampleToolServers(SampleBackend()) as servers:
        gateways = {"mcp": McpToolGateway(servers.mcp_url), "http": HttpToolGateway(servers.http_url, ROUTES)}
        try:
            for gateway in gateways.values():
                gateway.warm()
                for _ in range(5):
                    _timed(gateway)
            samples: dict[str, list[float]] = {name: [] for name in gateways}
            for _ in range(args.calls):
                for name, gateway in gateways.items():
                    samples[name].append(_timed(gateway))
        finally:
            for gateway in gateways.values():
                gateway.close()
    result: dict[str, Any] = {"calls_per_gateway": args.calls, "tool_call_budget_ms": budget_ms}
    for name, values in samples.items():
        median = statistics.median(values)
        result[name] = {
            "p50_ms": round(median, 2),
            "p90_ms": round(percentile(sorted(values), 0.9), 2),
            "share_of_budget_p50": round(median / budget_ms, 4),
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
