"""Sustained turns per second with C concurrent calls on this machine.

Runs ``sim load`` (no faults) at each concurrency in turn, in the same process and run, and
prints one JSON object: per concurrency the turn invocations per second, the turn latency
(p50/p95/p99) and the invariants, plus each rate as a ratio to the rate at concurrency 1 (the
machine is shared and noisy: compare within a run).

    python bench/load_throughput.py [--calls 60] [--concurrency 1,4,16]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.calls import call_files, load_call
from sim.load import LoadOptions, harness_for, run_load
from sim.load_calls import load_calls, load_scripts

CALLS = Path(__file__).resolve().parent.parent / "events" / "calls"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    recorded = [load_call(p) for p in call_files([str(CALLS)])]
    calls = load_calls(recorded, args.calls, args.seed)
    runs = {}
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        options = LoadOptions(concurrency=concurrency, seed=args.seed, log_dir=Path("out/load-logs"))
        with harness_for(load_scripts(calls), options) as harness:
            report = run_load(harness, calls, options)
        runs[concurrency] = {
            "turns_per_second": report["turns_per_second"],
            "turn_invocations": report["turn_invocations"],
            "wall_s": report["wall_s"],
            "latency_ms": report["latency_ms"],
            "invariants": report["invariants"],
        }
    base = runs[min(runs)]["turns_per_second"]
    for run in runs.values():
        run["ratio_to_lowest_concurrency"] = round(run["turns_per_second"] / base, 2) if base else None
    print(json.dumps({"calls": args.calls, "cpus": __import__("os").cpu_count(), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
