"""What redaction costs per utterance: the redactor on the labelled router utterances, the
recorded calls' caller turns and the sensitive utterances of events/redaction/, repeated.

Prints one JSON object: median, p99 and max microseconds per utterance for each set and for all
of them, against the target (p99 at most 1 ms) and the routing component's budget in the
latency envelope, and what loading the policy costs once per container. No network.

    python bench/redaction.py [--repeat 50]
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
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.redaction import RedactionContext, Redactor
from chalicelib.domain.redaction_state import RedactionState
from sim.router_eval import load_labelled
from sim.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_US = 1000.0
BENCH_KEY = b"bench-fingerprint-key-not-secret"

Case = tuple[str, RedactionContext]


def labelled_cases() -> list[Case]:
    return [(row["utterance"], RedactionContext()) for row in load_labelled()]


def call_cases() -> list[Case]:
    """Each caller turn with the previous caller turn as its context, as the turn handler would."""
    cases: list[Case] = []
    for path in sorted((ROOT / "events" / "calls").glob("*.json")):
        previous = ""
        for turn in json.loads(path.read_text())["turns"]:
            caller = turn.get("caller") or ""
            cases.append((caller, RedactionContext(previous_utterance=previous)))
            previous = caller
    return cases


def sensitive_cases() -> list[Case]:
    rows = [json.loads(line) for line in (ROOT / "events" / "redaction" / "sensitive.jsonl").read_text().splitlines()]
    return [(r["utterance"], RedactionContext(r.get("prompt", ""), r.get("previous_utterance", ""))) for r in rows]


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "samples": len(ordered),
        "p50_us": round(statistics.median(ordered), 1),
        "p99_us": round(percentile(ordered, 0.99), 1),
        "max_us": round(ordered[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    redactor = Redactor(load_redaction_policy(), BENCH_KEY)
    load_ms = (time.perf_counter() - started) * 1000
    sets = {"labelled": labelled_cases(), "calls": call_cases(), "sensitive": sensitive_cases()}
    state = RedactionState("bench-contact")
    started = time.perf_counter()
    redactor.redact(sets["sensitive"][0][0], state, sets["sensitive"][0][1])
    first_us = (time.perf_counter() - started) * 1_000_000
    samples: dict[str, list[float]] = {name: [] for name in sets}
    for _ in range(args.repeat):
        for name, cases in sets.items():
            out = samples[name]
            for text, context in cases:
                began = time.perf_counter_ns()
                redactor.redact(text, state, context)
                out.append((time.perf_counter_ns() - began) / 1000)
    everything = [s for values in samples.values() for s in values]
    overall = figures(everything)
    routing_ms = load_envelope().components["routing"]
    print(json.dumps({
        "repeat": args.repeat,
        "utterances": {name: len(cases) for name, cases in sets.items()},
        "policy_load_ms": round(load_ms, 2),
        "first_redaction_us": round(first_us, 1),
        "sets": {name: figures(values) for name, values in samples.items()},
        "all": overall,
        "target_p99_us": TARGET_P99_US,
        "meets_target": overall["p99_us"] <= TARGET_P99_US,
        "routing_budget_ms": routing_ms,
        "p99_share_of_routing_budget": round(overall["p99_us"] / 1000 / routing_ms, 4),
    }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
