"""sim/capacity.py: the arithmetic on a curve small enough to compute by hand, the shipped
sample, and ``python -m sim capacity`` as a user runs it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from sim.capacity import (
    KINESIS_ON_DEMAND_GB_OUT_USD,
    KINESIS_ON_DEMAND_STREAM_HOUR_USD,
    KINESIS_SHARD_HOUR_USD,
    SAMPLE_CURVE,
    SLOTS_PER_WEEK,
    Interval,
    VolumeCurveInvalidError,
    Workload,
    hourly_schedule,
    interval_load,
    load_curve,
    plan,
    poisson_quantile,
    sample_curve,
    schedule_changes,
    scheduled_actions_template,
    workload_from_report,
    write_curve,
)
from tests.conftest import ROOT

# 5 turns of 12 s, 1 s in the handler, 2 segment records per turn + 2 per call, 2 contact records
# per call, 200 ms per consumer invocation, 1 GB of memory.
SMALL = Workload(
    turns_per_call=5,
    turn_duration_s=12,
    handler_ms=1000,
    segment_records_per_turn=2,
    segment_records_per_call=2,
    contact_records_per_call=2,
    segment_record_bytes=2048,
    contact_record_bytes=4096,
    consumer_ms=200,
    turn_memory_mb=1024,
)
GB_IN = 0.08


def small_curve() -> list[Interval]:
    """A silent week but for Monday 09:00 (90 calls) and 09:15 (180 calls)."""
    calls = {36: 90, 37: 180}  # slot = day * 96 + minute // 15
    return [Interval(slot // 96, (slot % 96) * 15, calls.get(slot, 0)) for slot in range(SLOTS_PER_WEEK)]


def test_littles_law_per_interval_by_hand() -> None:
    load = interval_load(small_curve()[37], SMALL)
    # 180 calls / 900 s = 0.2 calls/s
    assert load.calls_in_progress == pytest.approx(0.2 * 5 * 12)  # 12 calls in progress
    assert load.turn_mean == pytest.approx(0.2 * 5 * 1.0)  # 1 turn/s x 1 s = 1 execution
    assert load.turn_p99 == 4  # Poisson(1): P(N<=3) = 0.981, P(N<=4) = 0.996
    assert load.segment_records_per_s == pytest.approx(0.2 * (5 * 2 + 2))  # 2.4 records/s
    assert load.segments_mean == pytest.approx(2.4 * 0.2)
    assert load.records_mean == pytest.approx(0.2 * 2 * 0.2)


def test_poisson_quantiles() -> None:
    assert poisson_quantile(0, 0.99) == 0
    assert poisson_quantile(0.5, 0.99) == 3  # 0.607, 0.910, 0.986, 0.998
    assert poisson_quantile(1, 0.99) == 4
    assert poisson_quantile(10, 0.5) == 10
    assert poisson_quantile(10_000, 0.99) == math.ceil(10_000 + 2.3263 * 100)


def test_the_schedule_follows_the_curve_not_the_peak() -> None:
    loads = [interval_load(i, SMALL) for i in small_curve()]
    schedule = hourly_schedule(loads, floor=1)
    assert len(schedule) == 168
    assert schedule[9] == 4  # Monday 09:00-10:00: max(p99 0.5 -> 3, p99 1.0 -> 4)
    assert sum(schedule) == 167 + 4
    # up 10 minutes early, down on the hour
    assert schedule_changes(schedule, lead_minutes=10) == [(8 * 60 + 50, 4), (10 * 60, 1)]


def test_schedule_changes_wrap_around_the_week() -> None:
    schedule = [1] * 168
    schedule[0] = 3  # Monday 00:00 is busier than Sunday 23:00: up at Sunday 23:50, down at Monday 01:00
    assert schedule_changes(schedule, lead_minutes=10) == [(60, 1), (168 * 60 - 10, 3)]
    assert schedule_changes([2] * 168) == [(0, 2)]


def test_the_plan_by_hand() -> None:
    result = plan(small_curve(), SMALL, gb_in_usd=GB_IN)
    months = 730 / 168
    assert result["curve"]["calls_per_week"] == 270
    assert result["peak_concurrency"]["turn"] == {"mean": 1.0, "p99": 4, "at": "Mon 09:15"}
    assert result["peak_concurrency"]["calls_in_progress"]["mean"] == 12.0
    assert result["turn_reserved_concurrency"] == 8  # twice the peak p99
    pc = result["turn_provisioned_concurrency"]
    assert pc["hourly"]["Mon"][9] == 4 and pc["hourly"]["Tue"] == [1] * 24
    assert pc["changes"] == [{"at": "Mon 08:50", "provisioned": 4}, {"at": "Mon 10:00", "provisioned": 1}]
    assert pc["gb_hours_per_month"] == round(171 * months, 1)  # 167 h at 1 + 1 h at 4, 1 GB
    assert pc["flat_peak_gb_hours_per_month"] == round(4 * 168 * months, 1)
    assert pc["saved_share"] == round(1 - 171 / 672, 3)
    segments, records = result["kinesis"]["streams"]
    segment_records = 270 * 12 * months
    assert segments["records_per_month"] == round(segment_records)
    gib = segment_records * 2048 / 1024**3
    on_demand = 730 * KINESIS_ON_DEMAND_STREAM_HOUR_USD + gib * (GB_IN + KINESIS_ON_DEMAND_GB_OUT_USD)
    assert segments["on_demand_usd_per_month"] == round(on_demand, 2)
    assert segments["provisioned_shards"] == 1
    assert segments["provisioned_usd_per_month"] == round(730 * KINESIS_SHARD_HOUR_USD + segment_records * 0.014e-6, 2)
    assert records["records_per_month"] == round(270 * 2 * months)
    assert result["kinesis"]["on_demand_minus_provisioned_usd_per_month"] == pytest.approx(
        result["kinesis"]["on_demand_usd_per_month"] - result["kinesis"]["provisioned_usd_per_month"], abs=0.011
    )


def test_shards_are_sized_for_the_peak() -> None:
    busy = [Interval(i.day, i.minute, 90_000 if i.calls else 0) for i in small_curve()]
    segments = plan(busy, SMALL, gb_in_usd=GB_IN)["kinesis"]["streams"][0]
    # 90,000 calls in 900 s = 100 calls/s x 12 records = 1,200 records/s; x2 headroom = 2,400 records/s
    # of 2 KiB = 4.7 MiB/s: 5 shards of 1 MiB/s (the 1,000 records/s limit alone would need 3)
    assert segments["peak_records_per_s"] == 1200
    assert segments["provisioned_shards"] == max(math.ceil(2400 * 2048 / 1024**2), math.ceil(2400 / 1000)) == 5


def test_a_price_for_provisioned_concurrency_gives_dollars() -> None:
    pc = plan(small_curve(), SMALL, gb_in_usd=GB_IN, pc_usd_per_gb_hour=0.01)["turn_provisioned_concurrency"]
    assert pc["difference_usd_per_month"] == pytest.approx((672 - 171) * 730 / 168 * 0.01, abs=0.01)


def test_workload_from_a_replay_report() -> None:
    report = {
        "calls": [
            {"duration_s": 30, "turns": [{"latency_ms": {"handler": 100}}, {"latency_ms": {"handler": 300}}]},
            {"duration_s": 15, "turns": [{"latency_ms": {"handler": 200}}]},
        ]
    }
    w = workload_from_report(report, SMALL)
    assert (w.turns_per_call, w.turn_duration_s, w.handler_ms) == (1.5, 15.0, 200.0)


def test_scheduled_actions_are_a_scalable_target_on_the_live_alias() -> None:
    result = plan(small_curve(), SMALL, gb_in_usd=GB_IN)
    template = scheduled_actions_template(result, "Europe/London", "small.csv")
    target = template["Resources"]["TurnProvisionedConcurrency"]
    assert target["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    props = target["Properties"]
    assert props["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert props["ResourceId"] == {"Fn::Sub": "function:switchboard-${Stage}-turn:live"}
    assert (props["MinCapacity"], props["MaxCapacity"]) == (1, 4)
    assert props["ScheduledActions"] == [
        {
            "ScheduledActionName": "turn-pc-mon-0850",
            "Schedule": "cron(50 8 ? * MON *)",
            "Timezone": "Europe/London",
            "ScalableTargetAction": {"MinCapacity": 4, "MaxCapacity": 4},
        },
        {
            "ScheduledActionName": "turn-pc-mon-1000",
            "Schedule": "cron(0 10 ? * MON *)",
            "Timezone": "Europe/London",
            "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1},
        },
    ]


def test_a_curve_must_be_a_whole_week(tmp_path: Path) -> None:
    path = tmp_path / "curve.csv"
    write_curve(small_curve()[:-1], path)
    with pytest.raises(VolumeCurveInvalidError, match="671 intervals"):
        load_curve(path)
    path.write_text("day,start,calls\nMon,00:00,1\nMon,00:00,2\n")
    with pytest.raises(VolumeCurveInvalidError, match="appears twice"):
        load_curve(path)
    path.write_text("day,start,calls\nMon,00:10,1\n")
    with pytest.raises(VolumeCurveInvalidError, match="quarter hour"):
        load_curve(path)
    path.write_text("day,start,calls\nMonday,00:00,1\n")
    with pytest.raises(VolumeCurveInvalidError, match="day,start,calls"):
        load_curve(path)


def test_the_shipped_sample_is_the_generator_output(tmp_path: Path) -> None:
    regenerated = tmp_path / "sample.csv"
    write_curve(sample_curve(), regenerated)
    assert regenerated.read_text() == SAMPLE_CURVE.read_text()
    curve = load_curve(SAMPLE_CURVE)
    by_hour = {(i.day, i.minute // 60): 0 for i in curve}
    for i in curve:
        by_hour[i.day, i.minute // 60] += i.calls
    busiest = max(curve, key=lambda i: i.calls)
    assert (busiest.day, 9 <= busiest.minute // 60 <= 11) == (0, True)  # a Monday-morning peak
    assert by_hour[1, 12] < by_hour[1, 11] and by_hour[1, 12] < by_hour[1, 14]  # the lunch dip
    assert by_hour[1, 19] > 3 * by_hour[1, 3]  # an evening tail above the night
    weekday = sum(i.calls for i in curve if i.day == 2)
    assert sum(i.calls for i in curve if i.day == 6) < weekday / 4  # quiet weekends


def test_prod_reserved_concurrency_covers_the_sample_with_the_default_workload() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    reserved = config["stages"]["prod"]["lambda_functions"]["turn"]["reserved_concurrency"]
    result = plan(load_curve(SAMPLE_CURVE), Workload(), gb_in_usd=GB_IN)
    assert reserved >= result["turn_reserved_concurrency"]


def test_the_capacity_command(tmp_path: Path) -> None:
    actions = tmp_path / "pc-schedule.json"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "capacity", str(SAMPLE_CURVE), "--report", str(tmp_path / "none.json"),
         "--json", "--scheduled-actions", str(actions), "--timezone", "America/New_York"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["workload"]["source"] == "defaults"
    assert result["workload"]["turn_memory_mb"] == 1769
    assert result["curve"]["intervals"] == SLOTS_PER_WEEK
    assert result["peak_concurrency"]["turn"]["at"].startswith("Mon ")
    assert "Little's law" in result["method"]
    template = json.loads(actions.read_text())
    scheduled = template["Resources"]["TurnProvisionedConcurrency"]["Properties"]["ScheduledActions"]
    assert 1 < len(scheduled) <= 200  # Application Auto Scaling: 200 scheduled actions per scalable target
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(actions)], capture_output=True, text=True, check=False
    )
    assert lint.returncode & ~(4 | 8) == 0, lint.stdout  # warnings and informational findings allowed


def test_the_capacity_command_names_a_bad_curve(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("day,start,calls\nMon,00:00,1\n")
    done = subprocess.run(
        [sys.executable, "-m", "sim", "capacity", str(bad)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith("VolumeCurveInvalidError")
