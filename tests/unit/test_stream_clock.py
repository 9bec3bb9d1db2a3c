"""The simulated clock of ``sim stream`` and the figures ``bench/stream_compare.py`` keeps."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from sim.stream import PACED_COMPONENTS, simulated_handler_ms
from tests.conftest import ROOT


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("stream_compare", ROOT / "bench" / "stream_compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_at_speed_one_the_handler_takes_what_it_took() -> None:
    assert simulated_handler_ms(480.0, {"model": 400.0, "state_read": 20.0}, 1.0) == 480.0


def test_above_speed_one_only_the_waits_on_the_paced_models_are_stretched() -> None:
    # 100 ms of compute, 200 ms waiting on a model paced at twice real time: 400 ms of its time.
    assert simulated_handler_ms(300.0, {"model": 200.0, "state_write": 30.0}, 2.0) == 500.0
    assert simulated_handler_ms(300.0, {"speculation": 200.0}, 2.0) == 500.0
    assert simulated_handler_ms(60.0, {"state_read": 20.0}, 4.0) == 60.0  # a rules turn: compute only
    assert set(PACED_COMPONENTS) == {"model", "speculation"}


def test_a_wait_on_a_speculation_is_paced_only_in_the_share_its_run_waited_on_models() -> None:
    # 300 ms waiting on a speculation whose run was three quarters model waits: 225 ms paced.
    assert simulated_handler_ms(400.0, {"speculation": 300.0}, 2.0, 0.75) == 625.0
    assert simulated_handler_ms(400.0, {"speculation": 300.0}, 1.0, 0.75) == 400.0  # exact at speed 1


def test_the_paced_share_of_a_speculation_is_its_model_waits_over_its_run() -> None:
    from chalicelib.domain.escalation import Attempt
    from chalicelib.domain.model import ModelAnswer
    from chalicelib.domain.model_replies import ModelRun
    from chalicelib.domain.speculation import Speculation, SpeculationState
    from sim.stream import paced_share

    answers = [Attempt(1, "ok", ModelAnswer("m", "a", total_ms=450.0)), Attempt(1, "timeout")]
    ran = Speculation("c", 2, "hi", SpeculationState.READY, 1, started_at_ms=1_000, work=ModelRun(tuple(answers), ""),
                      finished_at_ms=1_600)  # fmt: skip
    assert paced_share(ran) == 0.75
    assert paced_share(Speculation("c", 2, "hi", SpeculationState.ABANDONED, 1, started_at_ms=1_000)) == 1.0


def test_a_component_longer_than_the_handler_is_capped_at_it() -> None:
    assert simulated_handler_ms(100.0, {"model": 150.0}, 2.0) == 200.0


TOTALS = {
    "turns": 100,
    "model_turns": 40,
    "p50_reply_ready_ms_baseline_model_turns": 1500.0,
    "p50_reply_ready_ms_speculative_model_turns": 1000.0,
    "p50_reply_ready_ms_fixed_timeout": 650.0,
    "p50_reply_ready_ms_baseline": 500.0,
    "p50_reply_ready_ms_speculative": 480.0,
    "false_cutoffs": 1,
    "false_cutoff_share": 0.01,
    "speculations_made": 20,
    "speculations_used": 14,
    "speculations_wasted": 6,
    "wasted_share": 0.3,
    "wasted_by_reason": {"words_changed": 4, "late": 2},
    "added_cost_per_minute_usd": 0.0245,
    "transcribe_per_minute_before_handover_usd": 0.0241,
    "transcribe_per_minute_after_handover_usd": 0.05,
}


def test_the_bench_figures_are_the_ratios_of_the_report_totals() -> None:
    figures = _bench().run_figures(TOTALS)
    assert figures["model_turn_ratio"] == pytest.approx(1000 / 1500, abs=1e-4)
    assert figures["all_turn_ratio_to_fixed"] == pytest.approx(480 / 650, abs=1e-4)
    assert figures["all_turn_ratio"] == pytest.approx(480 / 500, abs=1e-4)
    assert figures["wasted_by_reason"] == {"words_changed": 4, "late": 2}


def test_the_bench_quotes_the_median_of_the_runs() -> None:
    bench = _bench()
    runs = [bench.run_figures({**TOTALS, "p50_reply_ready_ms_speculative_model_turns": v}) for v in (900, 1200, 1000)]
    assert bench.medians(runs)["model_turn_ratio"] == pytest.approx(1000 / 1500, abs=1e-4)
    assert bench.medians([])["model_turn_ratio"] is None
