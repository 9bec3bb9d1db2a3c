"""What redaction costs per utterance: the redactor on the labelled router utterances, the
caller turns of every recorded call (``events/calls/*.json``, by glob: calls added later are
measured too) and the sensitive utterances of events/redaction/, repeated, all in the same run.

A call's turns are redacted as the turn handler does (``domain/caller_data.protect_turn``): in
order, with the call's ``RedactionState`` carried from turn to turn and the previous turn as the
context (the reply the caller heard, the caller's previous words).

Prints one JSON object: median, p99 and max microseconds per utterance for each set and for all
of them, each against the target (p99 at most 1 ms) and the routing component's budget in the
latency envelope, and what loading the policy costs once per container. No network.

    python bench/redaction.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.adapters.data_files import load_envelope
from chalicelib.adapters.redaction_policy import load_redaction_policy
from chalicelib.domain.redaction import RedactionContext, Redactor
from chalicelib.domain.redaction_state import RedactionState
from sim.router_eval import load_labelled
from sim.stats import summary

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_US = 1000.0
BENCH_KEY = b"bench-fingerprint-key-not-secret"

Case = tuple[str, RedactionContext]
CALLS = sorted((ROOT / "events" / "calls").glob("*.json"))


def labelled_cases() -> list[list[Case]]:
    """One conversation per utterance: each is redacted on a fresh state, with no context."""
    return [[(row["utterance"], RedactionContext())] for row in load_labelled()]


def call_cases(paths: list[Path] = CALLS) -> list[list[Case]]:
    """Each call's caller turns in order, each with the previous turn as its context."""
    calls: list[list[Case]] = []
    for path in paths:
        cases: list[Case] = []
        prompt = previous = ""
        for turn in json.loads(path.read_text())["turns"]:
            caller = turn.get("caller") or ""
            cases.append((caller, RedactionContext(prompt=prompt, previous_utterance=previous)))
            prompt, previous = _reply(turn.get("model")) or prompt, caller
        calls.append(cases)
    return calls


def _reply(model: Any) -> str:
    """What the caller heard after a turn: the model's text, or the last text after its tools."""
    if not isinstance(model, dict):
        return ""
    texts = [model.get("text") or "", *(_reply(step) for step in model.get("after_tools") or ())]
    return next((text for text in reversed(texts) if text), "")


def sensitive_cases() -> list[list[Case]]:
    rows = [json.loads(line) for line in (ROOT / "events" / "redaction" / "sensitive.jsonl").read_text().splitlines()]
    return [[(r["utterance"], RedactionContext(r.get("prompt", ""), r.get("previous_utterance", "")))] for r in rows]


def figures(samples: list[float]) -> dict[str, Any]:
    """Samples, p50, p99 and max microseconds (``sim.stats.summary``), and the target met."""
    found = summary(samples, (0.99,))
    return {"samples": len(samples), "p50_us": found["p50"], "p99_us": found["p99"], "max_us": found["max"],
            "meets_target": found["p99"] <= TARGET_P99_US}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    redactor = Redactor(load_redaction_policy(), BENCH_KEY)
    load_ms = (time.perf_counter() - started) * 1000
    sets = {"labelled": labelled_cases(), "calls": call_cases(), "sensitive": sensitive_cases()}
    first_text, first_context = sets["sensitive"][0][0]
    started = time.perf_counter()
    redactor.redact(first_text, RedactionState("bench-first"), first_context)
    first_us = (time.perf_counter() - started) * 1_000_000
    samples: dict[str, list[float]] = {name: [] for name in sets}
    for _ in range(args.repeat):
        for name, conversations in sets.items():
            out = samples[name]
            for n, conversation in enumerate(conversations):
                state = RedactionState(f"bench-{name}-{n}")  # a call's state, carried from turn to turn
                for text, context in conversation:
                    began = time.perf_counter_ns()
                    state = redactor.redact(text, state, context).state
                    out.append((time.perf_counter_ns() - began) / 1000)
    overall = figures([s for values in samples.values() for s in values])
    routing_ms = load_envelope().components["routing"]
    print(json.dumps({
        "repeat": args.repeat,
        "utterances": {name: sum(map(len, conversations)) for name, conversations in sets.items()},
        "calls_files": len(CALLS),
        "policy_load_ms": round(load_ms, 2),
        "first_redaction_us": round(first_us, 1),
        "sets": {name: figures(values) for name, values in samples.items()},
        "all": overall,
        "target_p99_us": TARGET_P99_US,
        "meets_target": overall["meets_target"],
        "routing_budget_ms": routing_ms,
        "p99_share_of_routing_budget": round(overall["p99_us"] / 1000 / routing_ms, 4),
    }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
