"""``sim load``: a small seeded load with every fault keeps every invariant at 0, and each
deliberately broken build makes its invariant non-zero (so the checks can fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.breakages import BREAKAGES
from sim.calls import call_files, load_call
from sim.load import ALL_FAULTS, LoadOptions, harness_for, parse_faults, run_load
from sim.load_calls import load_calls, load_scripts

CALLS = Path(__file__).resolve().parents[2] / "events" / "calls"
RECORDED = [load_call(p) for p in call_files([str(CALLS)])]


def _load(
    calls: int,
    faults: str,
    rate: float,
    seed: int = 3,
    names: tuple[str, ...] = (),
    breaks: tuple[str, ...] = (),
    concurrency: int = 4,
    log_dir: Path | None = None,
) -> dict[str, Any]:
    recorded = [c for c in RECORDED if not names or c.call in names]
    played = load_calls(recorded, calls, seed)
    options = LoadOptions(concurrency=concurrency, faults=parse_faults(faults), fault_rate=rate, seed=seed,
                          breakages=breaks, log_dir=log_dir)  # fmt: skip
    with harness_for(load_scripts(played), options) as harness:
        return run_load(harness, played, options)


def test_the_same_seed_gives_the_same_calls_and_another_seed_other_ones() -> None:
    first, again, other = (load_calls(RECORDED, 40, seed) for seed in (5, 5, 6))
    assert first == again
    assert first != other
    assert len({c.contact_id for c in first}) == 40


def _payments(data: Any) -> list[str]:
    """Every create_payment_arrangement call's arguments anywhere in a script."""
    if isinstance(data, dict):
        found = [str(data["arguments"])] if data.get("name") == "create_payment_arrangement" else []
        return found + [a for v in data.values() for a in _payments(v)]
    if isinstance(data, list):
        return [a for v in data for a in _payments(v)]
    return []


def test_variations_give_each_call_its_own_side_effect_arguments() -> None:
    calls = load_calls(RECORDED, 5 * len(RECORDED), 2)
    payments = [a for c in calls for t in c.turns if t.model for a in _payments(t.model.model_dump())]
    assert len(payments) >= 3
    assert len(set(payments)) == len(payments)


def test_unknown_fault_names_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="model_sneeze"):
        parse_faults("connect_retry,model_sneeze")


def test_a_seeded_load_with_every_fault_keeps_every_invariant_at_zero(tmp_path: Path) -> None:
    report = _load(30, "all", 0.12, seed=3, log_dir=tmp_path)
    # Every invariant but the one that is a timing: whether a turn beat the hard deadline here
    # depends on what else this 2-core machine runs (a write slowed to 500 ms by a parallel job
    # was a miss). Latency is measured by `sim load` and bench/, never asserted in a test; that
    # the invariant catches a turn that ignores its deadline is tested below (deadline_ignored).
    correctness = {k: v for k, v in report["invariants"].items() if k != "deadline_misses"}
    assert correctness == dict.fromkeys(correctness, 0), report.get("examples")
    assert "deadline_misses" in report["invariants"]
    assert report["calls"] == 30
    assert report["turns"] >= 90
    injected = report["faults_injected"]
    for kind in ("connect_retry", "concurrent_duplicate", "ddb_throttle", "condition_race", "barge_in",
                 "kinesis_duplicate_records", "kinesis_out_of_order_records", "malformed_records"):  # fmt: skip
        assert injected.get(kind, 0) > 0, kind
    assert sum(n for k, n in injected.items() if k.startswith("model_")) > 0
    assert report["latency_ms"]["p50"] > 0
    assert set(ALL_FAULTS) >= set(report["faults"])


# Each broken build with the calls and faults that expose it (rate 1: every turn).
BROKEN_RUNS = {
    "version_condition_removed": ("condition_race", ("balance-enquiry", "account-number-correction")),
    "journal_skipped": ("lambda_crash", ("payment-arrangement", "callback-booking")),
    "commit_errors_swallowed": ("ddb_throttle", ("account-number-correction", "hours-and-card-payment")),
    "deadline_ignored": ("model_timeout", ("hours-and-card-payment", "balance-enquiry")),
    "fallback_removed": ("malformed_event", ("account-number-correction",)),
    "execution_name_unique": ("connect_retry", ("connect-retry", "barge-in-agent")),
    "redactor_off": ("none", ("card-payment-visa", "ssn-and-bank-details")),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_build_makes_its_invariant_non_zero(breakage: str, tmp_path: Path) -> None:
    faults, names = BROKEN_RUNS[breakage]
    report = _load(4, faults, 1.0, names=names, breaks=(breakage,), concurrency=2, log_dir=tmp_path)
    invariant = BREAKAGES[breakage]
    assert report["invariants"][invariant] > 0, report
