"""Speculation and the adaptive end of turn on the streaming speech path, over repeated runs.

Runs ``python -m sim stream`` on the recorded calls ``--runs`` times at ``--speed`` (each run
its own process, one after another: a fresh embedded AWS and fresh execution environments), and
prints one JSON object: every run's figures and their medians. Within a run the two arms (no
speculation, speculation) play each call at the same time, under the same load; the ratios
compare them within that run, and the medians across runs are what a claim quotes: one lucky run
cannot carry it.

    python bench/stream_compare.py [--runs 3] [--speed 2] [--calls events/calls] [--keep DIR]

Figures per run (from the report's ``totals``):

- ``model_turn_ratio``: p50 reply-ready of the turns that reach a model, speculation / none;
- ``model_turn_ceiling_ratio``: the same for a speculation no design on the finished utterance
  can beat (``sim.stream.ceiling_reply_ready_ms``: it starts the instant the pause trigger can
  fire, always hits and adds nothing to the baseline's work), over none: how far the target is
  reachable at all;
- ``all_turn_ceiling_ratio_to_fixed``: every turn at that ceiling (a rules turn keeps its
  baseline) with the adaptive end of turn, over the fixed-timeout baseline;
- ``all_turn_ratio_to_fixed``: p50 reply-ready of every turn with speculation and the adaptive end
  of turn, over the fixed-timeout baseline (no speculation, Lex's 600 ms end timeout on every
  turn: ``p50_reply_ready_ms_fixed_timeout``);
- ``false_cutoff_share``, ``wasted_share`` and the wasted speculations by reason;
- the speech path's added cost per minute, and Transcribe's before a handover.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIGURES = (
    "model_turn_ratio",
    "model_turn_ceiling_ratio",
    "all_turn_ratio_to_fixed",
    "all_turn_ceiling_ratio_to_fixed",
    "all_turn_ratio",
    "false_cutoff_share",
    "wasted_share",
    "added_cost_per_minute_usd",
    "transcribe_per_minute_before_handover_usd",
)


def run_figures(totals: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run's report totals (see the module doc)."""

    def ratio(numerator: str, denominator: str) -> float | None:
        top, bottom = totals.get(numerator), totals.get(denominator)
        return round(top / bottom, 4) if top is not None and bottom else None

    return {
        "model_turns": totals.get("model_turns"),
        "turns": totals.get("turns"),
        "p50_model_turns_ms": {
            "baseline": totals.get("p50_reply_ready_ms_baseline_model_turns"),
            "speculative": totals.get("p50_reply_ready_ms_speculative_model_turns"),
            "ceiling": totals.get("p50_reply_ready_ms_ceiling_model_turns"),
        },
        "p50_all_turns_ms": {
            "fixed_timeout": totals.get("p50_reply_ready_ms_fixed_timeout"),
            "baseline": totals.get("p50_reply_ready_ms_baseline"),
            "speculative": totals.get("p50_reply_ready_ms_speculative"),
            "ceiling": totals.get("p50_reply_ready_ms_ceiling"),
        },
        "model_turn_ratio": ratio(
            "p50_reply_ready_ms_speculative_model_turns", "p50_reply_ready_ms_baseline_model_turns"
        ),
        "model_turn_ceiling_ratio": ratio(
            "p50_reply_ready_ms_ceiling_model_turns", "p50_reply_ready_ms_baseline_model_turns"
        ),
        "all_turn_ratio_to_fixed": ratio("p50_reply_ready_ms_speculative", "p50_reply_ready_ms_fixed_timeout"),
        "all_turn_ceiling_ratio_to_fixed": ratio("p50_reply_ready_ms_ceiling", "p50_reply_ready_ms_fixed_timeout"),
        "all_turn_ratio": ratio("p50_reply_ready_ms_speculative", "p50_reply_ready_ms_baseline"),
        "false_cutoffs": totals.get("false_cutoffs"),
        "false_cutoff_share": totals.get("false_cutoff_share"),
        "speculations": {k: totals.get(f"speculations_{k}") for k in ("made", "used", "wasted", "declined")},
        "wasted_share": totals.get("wasted_share"),
        "wasted_by_reason": totals.get("wasted_by_reason"),
        "added_cost_per_minute_usd": totals.get("added_cost_per_minute_usd"),
        "transcribe_per_minute_before_handover_usd": totals.get("transcribe_per_minute_before_handover_usd"),
        "transcribe_per_minute_after_handover_usd": totals.get("transcribe_per_minute_after_handover_usd"),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    """The median of each figure over the runs that have it."""
    out: dict[str, float | None] = {}
    for name in FIGURES:
        values = [r[name] for r in runs if isinstance(r.get(name), (int, float))]
        out[name] = round(statistics.median(values), 4) if values else None
    return out


def one_run(calls: str, speed: float, out: Path) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's own CLI
        [sys.executable, "-m", "sim", "stream", calls, "--speed", str(speed), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"sim stream failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(out.read_text())
    return {**run_figures(report["totals"]), "wall_s": round(time.monotonic() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speed", type=float, default=2.0)
    parser.add_argument("--calls", default="events/calls")
    parser.add_argument("--keep", type=Path, default=None, help="keep each run's sim stream JSON here")
    args = parser.parse_args()
    keep = args.keep or Path(tempfile.mkdtemp(prefix="switchboard-stream-bench-"))
    keep.mkdir(parents=True, exist_ok=True)
    runs = [one_run(args.calls, args.speed, keep / f"stream-speed{args.speed:g}-run{i + 1}.json")
            for i in range(args.runs)]  # fmt: skip
    print(json.dumps({
        "command": f"python bench/stream_compare.py --runs {args.runs} --speed {args.speed:g} --calls {args.calls}",
        "cpus": os.cpu_count(),
        "speed": args.speed,
        "runs": runs,
        "median": medians(runs),
        **({"reports": str(keep)} if args.keep else {}),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
