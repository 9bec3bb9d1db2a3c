"""What routing costs per utterance: the router on every labelled utterance, repeated.

Prints one JSON object: median and p99 microseconds per routing decision, and the share of the
turn's hard deadline the median takes. No network.

    python bench/router_overhead.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.adapters.data_files import load_envelope
from chalicelib.adapters.language_files import load_language_words
from chalicelib.domain.router import RouteContext, route
from sim.router_eval import load_labelled
from sim.stats import percentile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rows = load_labelled()
    words = load_language_words("en-US")
    samples: list[float] = []
    for _ in range(args.repeat):
        for row in rows:
            context = RouteContext(**row.get("context", {}))
            started = time.perf_counter()
            route(row["utterance"], context, words)
            samples.append((time.perf_counter() - started) * 1_000_000)
    ordered = sorted(samples)
    median = statistics.median(ordered)
    print(json.dumps({
        "decisions": len(samples),
        "p50_us": round(median, 1),
        "p99_us": round(percentile(ordered, 0.99), 1),
        "max_us": round(ordered[-1], 1),
        "share_of_hard_deadline_p50": round(median / 1000 / load_envelope().hard_deadline_ms, 6),
    }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
