"""``sim capacity``: Lambda concurrency, a provisioned-concurrency schedule and the Kinesis bill
for a week's call-volume curve.

The curve (``events/volume/*.csv``: ``day,start,calls``, one row per 15 minutes of a week)
counts the calls that *start* in each interval. Everything else follows from **Little's law**:
the mean number of things in a system equals their arrival rate times the mean time each spends
in it (L = λ·W). Per 15-minute interval:

* calls in progress      = calls/s * turns per call * turn duration (s)
* turn executions        = turns/s * handler time (s), turns/s = calls/s * turns per call
* consumer executions    = stream records/s * consumer time per record (s), with one record per
  invocation (the upper bound: batches at these rates are mostly one record)

Little's law gives the mean; with arrivals that are independent of each other (Poisson) and
any service-time distribution, the number in service at an instant is Poisson distributed with
that mean (the M/G/∞ queue), so its p99 is the Poisson quantile. The provisioned-concurrency
schedule takes, for each hour of the week, the p99 of the busiest 15 minutes of that hour, and
is written as Application Auto Scaling scheduled actions. An interval is treated as a steady
state, which holds while a call is much shorter than 15 minutes.
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
SAMPLE_CURVE = ROOT / "events" / "volume" / "contact-center-week.csv"

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SLOT_SECONDS = 900
SLOTS_PER_HOUR = 4
SLOTS_PER_DAY = 96
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY
HOURS_PER_WEEK = 168
HOURS_PER_MONTH = 730  # AWS's monthly convention
WEEKS_PER_MONTH = HOURS_PER_MONTH / HOURS_PER_WEEK
GIB = 1024**3

# Kinesis prices that chalicelib/data/prices.json does not carry (only kinesis_on_demand_gb_in is
# there), quoted from ../shared/research/latency-cost-anchors.md §B.2, "AWS price list Sept 2026,
# via secondary catalog (api-evangelist/kinesis)":
#   "Kinesis Data Streams, provisioned | $0.015 per shard-hour (about $11/month); $0.014 per 1M
#    25 KB PUT payload units."
#   "Kinesis Data Streams, on-demand Standard | $0.04 per stream-hour (about $29/month idle);
#    $0.08/GB in; $0.04/GB out"
KINESIS_SHARD_HOUR_USD = 0.015
KINESIS_PUT_PAYLOAD_UNIT_USD = 0.014 / 1_000_000
KINESIS_ON_DEMAND_STREAM_HOUR_USD = 0.04
KINESIS_ON_DEMAND_GB_OUT_USD = 0.04
# Kinesis Data Streams quotas (docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html):
# a shard takes 1 MB/s or 1,000 records/s of writes; a PUT payload unit is 25 KB.
SHARD_WRITE_BYTES_PER_SECOND = 1024 * 1024
SHARD_WRITE_RECORDS_PER_SECOND = 1000
PUT_PAYLOAD_UNIT_BYTES = 25 * 1024
# Shards are sized for this multiple of the busiest 15-minute average (seconds burst above it).
SHARD_PEAK_HEADROOM = 2.0
# Reserved concurrency for turn: this multiple of the peak p99, and never below the schedule:
# room for Connect's retries (up to 3 within 8 s) and for a minute busier than its quarter hour.
RESERVED_HEADROOM = 2.0


class VolumeCurveInvalidError(ValueError):
    """The call-volume file is not a complete week of 15-minute intervals."""


@dataclass(frozen=True)
class Workload:
    """What one call costs in executions and stream records. The defaults are assumptions,
    used when there is no replay report (events/volume/README.md explains each)."""

    turns_per_call: float = 8.0
    turn_duration_s: float = 15.0
    handler_ms: float = 1500.0  # the CLI uses the envelope's soft deadline: as if every turn used a model
    segment_records_per_turn: float = 2.0
    segment_records_per_call: float = 2.0  # STARTED and COMPLETED
    contact_records_per_call: float = 2.0  # at-least-once delivery, re-sent on updates
    segment_record_bytes: int = 2048
    contact_record_bytes: int = 4096
    consumer_ms: float = 200.0
    turn_memory_mb: int = 1769
    source: str = "defaults"


@dataclass(frozen=True)
class Interval:
    day: int  # 0 = Monday
    minute: int  # minute of the day the interval starts
    calls: int

    @property
    def slot(self) -> int:
        return self.day * SLOTS_PER_DAY + self.minute // 15

    @property
    def label(self) -> str:
        return f"{DAYS[self.day]} {self.minute // 60:02d}:{self.minute % 60:02d}"


# ---------------------------------------------------------------------------- reading inputs


def load_curve(path: Path) -> list[Interval]:
    """Read ``day,start,calls`` rows; exactly one row for each 15 minutes of the week.

    Raises:
        VolumeCurveInvalidError: a row is malformed, repeated or missing.
    """
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise VolumeCurveInvalidError(f"{path}: {exc}") from exc
    intervals: dict[int, Interval] = {}
    for number, row in enumerate(rows, start=2):
        try:
            day = DAYS.index(row["day"].strip())
            hours, minutes = (int(x) for x in row["start"].strip().split(":"))
            calls = int(row["calls"])
        except (KeyError, ValueError, AttributeError) as exc:
            raise VolumeCurveInvalidError(f"{path}:{number}: expected day,start,calls ({exc})") from exc
        if not (0 <= hours < 24 and minutes in (0, 15, 30, 45)) or calls < 0:
            raise VolumeCurveInvalidError(f"{path}:{number}: start must be HH:MM on a quarter hour, calls >= 0")
        interval = Interval(day, hours * 60 + minutes, calls)
        if interval.slot in intervals:
            raise VolumeCurveInvalidError(f"{path}:{number}: {interval.label} appears twice")
        intervals[interval.slot] = interval
    if len(intervals) != SLOTS_PER_WEEK:
        raise VolumeCurveInvalidError(f"{path}: {len(intervals)} intervals, a week has {SLOTS_PER_WEEK}")
    return [intervals[slot] for slot in range(SLOTS_PER_WEEK)]


def turn_memory_mb(stage: str = "prod", config_path: Path = CHALICE_CONFIG) -> int:
    """The turn function's memory in the stage's chalice configuration."""
    config = json.loads(config_path.read_text())
    function = config["stages"][stage].get("lambda_functions", {}).get("turn", {})
    return int(function.get("lambda_memory_size") or config["stages"][stage].get("lambda_memory_size") or 128)


def workload_from_report(report: dict[str, Any], base: Workload) -> Workload:
    """Turns per call, seconds per turn and mean handler time measured by ``sim replay``."""
    calls = report["calls"]
    turns = [t for c in calls for t in c["turns"]]
    if not calls or not turns:
        return base
    handler = [t["latency_ms"].get("handler", t["latency_ms"].get("total", 0.0)) for t in turns]
    return replace(
        base,
        turns_per_call=len(turns) / len(calls),
        turn_duration_s=sum(c["duration_s"] for c in calls) / len(turns),
        handler_ms=sum(handler) / len(handler),
        source="replay report",
    )


# ---------------------------------------------------------------------------- arithmetic


def poisson_quantile(mean: float, q: float) -> int:
    """The smallest k with P(N <= k) >= q for N ~ Poisson(mean)."""
    if mean <= 0:
        return 0
    if mean > 400:  # the normal approximation is good here, and exp(-mean) would underflow
        return math.ceil(mean + NormalDist().inv_cdf(q) * math.sqrt(mean))
    k, term = 0, math.exp(-mean)
    total = term
    while total < q:
        k += 1
        term *= mean / k
        total += term
    return k


def concurrency(rate_per_s: float, seconds_in_system: float) -> float:
    """Little's law: L = λ·W."""
    return rate_per_s * seconds_in_system


@dataclass(frozen=True)
class IntervalLoad:
    interval: Interval
    calls_in_progress: float
    turn_mean: float
    turn_p99: int
    segments_mean: float
    records_mean: float
    segment_records_per_s: float
    contact_records_per_s: float


def interval_load(interval: Interval, w: Workload, quantile: float = 0.99) -> IntervalLoad:
    calls_per_s = interval.calls / SLOT_SECONDS
    turns_per_s = calls_per_s * w.turns_per_call
    segments_per_s = calls_per_s * (w.turns_per_call * w.segment_records_per_turn + w.segment_records_per_call)
    records_per_s = calls_per_s * w.contact_records_per_call
    turn_mean = concurrency(turns_per_s, w.handler_ms / 1000)
    return IntervalLoad(
        interval=interval,
        calls_in_progress=concurrency(calls_per_s, w.turns_per_call * w.turn_duration_s),
        turn_mean=turn_mean,
        turn_p99=poisson_quantile(turn_mean, quantile),
        segments_mean=concurrency(segments_per_s, w.consumer_ms / 1000),
        records_mean=concurrency(records_per_s, w.consumer_ms / 1000),
        segment_records_per_s=segments_per_s,
        contact_records_per_s=records_per_s,
    )


def hourly_schedule(loads: list[IntervalLoad], floor: int = 1) -> list[int]:
    """Provisioned concurrency per hour of the week (168 values, Monday 00:00 first): the p99
    of the busiest quarter of that hour, at least ``floor``."""
    return [
        max(floor, *(load.turn_p99 for load in loads[hour * SLOTS_PER_HOUR : (hour + 1) * SLOTS_PER_HOUR]))
        for hour in range(HOURS_PER_WEEK)
    ]


def schedule_changes(schedule: list[int], lead_minutes: int = 10) -> list[tuple[int, int]]:
    """``(minute of the week, value)`` where the hourly schedule changes value, cyclically.
    Increases start ``lead_minutes`` early: provisioned concurrency takes minutes to allocate."""
    if len(set(schedule)) == 1:
        return [(0, schedule[0])]
    changes = []
    for hour, value in enumerate(schedule):
        previous = schedule[hour - 1]  # hour 0 follows Sunday 23:00
        if value != previous:
            lead = lead_minutes if value > previous else 0
            changes.append(((hour * 60 - lead) % (HOURS_PER_WEEK * 60), value))
    return sorted(changes)


def kinesis_costs(
    name: str, records_per_week: float, record_bytes: int, peak_records_per_s: float, gb_in_usd: float
) -> dict[str, Any]:
    """One stream's monthly bill, on-demand Standard versus provisioned shards sized for the peak."""
    records = records_per_week * WEEKS_PER_MONTH
    gib = records * record_bytes / GIB
    on_demand = (
        HOURS_PER_MONTH * KINESIS_ON_DEMAND_STREAM_HOUR_USD + gib * gb_in_usd + gib * KINESIS_ON_DEMAND_GB_OUT_USD
    )
    burst = peak_records_per_s * SHARD_PEAK_HEADROOM
    shards = max(
        1,
        math.ceil(burst * record_bytes / SHARD_WRITE_BYTES_PER_SECOND),
        math.ceil(burst / SHARD_WRITE_RECORDS_PER_SECOND),
    )
    put_units = records * math.ceil(record_bytes / PUT_PAYLOAD_UNIT_BYTES)
    provisioned = shards * HOURS_PER_MONTH * KINESIS_SHARD_HOUR_USD + put_units * KINESIS_PUT_PAYLOAD_UNIT_USD
    return {
        "stream": name,
        "records_per_month": round(records),
        "gib_per_month": round(gib, 3),
        "peak_records_per_s": round(peak_records_per_s, 2),
        "on_demand_usd_per_month": round(on_demand, 2),
        "provisioned_shards": shards,
        "provisioned_usd_per_month": round(provisioned, 2),
    }


def plan(
    intervals: list[Interval],
    workload: Workload,
    *,
    gb_in_usd: float,
    floor: int = 1,
    lead_minutes: int = 10,
    quantile: float = 0.99,
    pc_usd_per_gb_hour: float | None = None,
) -> dict[str, Any]:
    """Everything ``sim capacity`` prints, as one JSON-ready mapping."""
    loads = [interval_load(i, workload, quantile) for i in intervals]
    busiest = max(loads, key=lambda load: load.interval.calls)

    def peak(attribute: str) -> dict[str, Any]:
        top = max(loads, key=lambda load: getattr(load, attribute))
        mean = float(getattr(top, attribute))
        return {"mean": round(mean, 2), "p99": poisson_quantile(mean, quantile), "at": top.interval.label}

    schedule = hourly_schedule(loads, floor)
    changes = schedule_changes(schedule, lead_minutes)
    memory_gb = workload.turn_memory_mb / 1024
    scheduled_gb_hours = sum(schedule) * memory_gb * WEEKS_PER_MONTH
    flat_gb_hours = max(schedule) * HOURS_PER_WEEK * memory_gb * WEEKS_PER_MONTH
    provisioned: dict[str, Any] = {
        "quantile": quantile,
        "floor": floor,
        "hourly": {DAYS[d]: schedule[d * 24 : (d + 1) * 24] for d in range(7)},
        "changes": [{"at": minute_label(m), "provisioned": v} for m, v in changes],
        "gb_hours_per_month": round(scheduled_gb_hours, 1),
        "flat_peak_gb_hours_per_month": round(flat_gb_hours, 1),
        "saved_share": round(1 - scheduled_gb_hours / flat_gb_hours, 3) if flat_gb_hours else 0.0,
    }
    if pc_usd_per_gb_hour is not None:
        provisioned["usd_per_month"] = round(scheduled_gb_hours * pc_usd_per_gb_hour, 2)
        provisioned["flat_peak_usd_per_month"] = round(flat_gb_hours * pc_usd_per_gb_hour, 2)
        provisioned["difference_usd_per_month"] = round((flat_gb_hours - scheduled_gb_hours) * pc_usd_per_gb_hour, 2)
    calls_per_week = sum(i.calls for i in intervals)
    segment_records = sum(load.segment_records_per_s for load in loads) * SLOT_SECONDS
    contact_records = sum(load.contact_records_per_s for load in loads) * SLOT_SECONDS
    streams = [
        kinesis_costs(
            "contact-lens-segments",
            segment_records,
            workload.segment_record_bytes,
            max(load.segment_records_per_s for load in loads),
            gb_in_usd,
        ),
        kinesis_costs(
            "contact-records",
            contact_records,
            workload.contact_record_bytes,
            max(load.contact_records_per_s for load in loads),
            gb_in_usd,
        ),
    ]
    on_demand = round(sum(s["on_demand_usd_per_month"] for s in streams), 2)
    provisioned_streams = round(sum(s["provisioned_usd_per_month"] for s in streams), 2)
    turn_peak = peak("turn_mean")
    return {
        "method": "Little's law (L = arrival rate x time in system) per 15-minute interval; "
        "p99 = Poisson quantile of that mean (M/G/inf)",
        "curve": {
            "intervals": len(intervals),
            "calls_per_week": calls_per_week,
            "busiest_interval": busiest.interval.label,
            "busiest_interval_calls": busiest.interval.calls,
        },
        "workload": asdict(workload),
        "peak_concurrency": {
            "calls_in_progress": peak("calls_in_progress"),
            "turn": turn_peak,
            "segments": peak("segments_mean"),
            "contact_records": peak("records_mean"),
        },
        "turn_reserved_concurrency": max(*schedule, math.ceil(turn_peak["p99"] * RESERVED_HEADROOM)),
        "turn_provisioned_concurrency": provisioned,
        "kinesis": {
            "streams": streams,
            "on_demand_usd_per_month": on_demand,
            "provisioned_usd_per_month": provisioned_streams,
            "on_demand_minus_provisioned_usd_per_month": round(on_demand - provisioned_streams, 2),
        },
    }


def minute_label(minute_of_week: int) -> str:
    day, minute = divmod(minute_of_week, 24 * 60)
    return f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d}"


# ---------------------------------------------------------------------------- outputs


def scheduled_actions_template(result: dict[str, Any], timezone: str, curve_name: str) -> dict[str, Any]:
    """A CloudFormation template: the schedule as Application Auto Scaling scheduled actions for
    provisioned concurrency on the ``live`` alias of ``switchboard-<Stage>-turn``."""
    provisioned = result["turn_provisioned_concurrency"]
    values = [v for day in provisioned["hourly"].values() for v in day]
    actions = []
    for change in provisioned["changes"]:
        day, clock = change["at"].split()
        hours, minutes = (int(x) for x in clock.split(":"))
        actions.append(
            {
                "ScheduledActionName": f"turn-pc-{day.lower()}-{hours:02d}{minutes:02d}",
                "Schedule": f"cron({minutes} {hours} ? * {day.upper()} *)",
                "Timezone": timezone,
                "ScalableTargetAction": {"MinCapacity": change["provisioned"], "MaxCapacity": change["provisioned"]},
            }
        )
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Provisioned concurrency schedule for the turn Lambda's live alias, from {curve_name} "
        "(python -m sim capacity --scheduled-actions). Publish a version and point the live alias at it first.",
        "Parameters": {"Stage": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "prod"}},
        "Resources": {
            "TurnProvisionedConcurrency": {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {
                    "ServiceNamespace": "lambda",
                    "ScalableDimension": "lambda:function:ProvisionedConcurrency",
                    "ResourceId": {"Fn::Sub": "function:switchboard-${Stage}-turn:live"},
                    "MinCapacity": min(values),
                    "MaxCapacity": max(values),
                    "ScheduledActions": actions,
                },
            }
        },
    }


def format_plan(result: dict[str, Any], curve_name: str, config_reserved: int | None = None) -> str:
    curve, w = result["curve"], result["workload"]
    peaks = result["peak_concurrency"]
    pc = result["turn_provisioned_concurrency"]
    lines = [
        f"call volume  {curve_name}: {curve['calls_per_week']:,} calls/week; busiest 15 minutes "
        f"{curve['busiest_interval']} ({curve['busiest_interval_calls']} calls)",
        f"workload ({w['source']}): {w['turns_per_call']:.1f} turns/call, {w['turn_duration_s']:.1f} s/turn, "
        f"handler {w['handler_ms']:.0f} ms mean, turn memory {w['turn_memory_mb']} MB",
        f"method: {result['method']}",
        "",
        f"{'peak concurrency':<28}{'mean':>8}{'p99':>6}  at",
    ]
    names = {
        "turn": "turn executions",
        "segments": "segments executions",
        "contact_records": "contact_records executions",
        "calls_in_progress": "calls in progress",
    }
    for key, label in names.items():
        p = peaks[key]
        lines.append(f"  {label:<26}{p['mean']:>8.2f}{p['p99']:>6}  {p['at']}")
    lines.append("  (a stream's mapping runs one batch per shard at a time: ParallelizationFactor 1)")
    quantile = f"p{round(pc['quantile'] * 100)}"
    lines += ["", f"turn provisioned concurrency on the live alias ({quantile}, floor {pc['floor']}):"]
    lines.append("       " + "".join(f"{h:>4}" for h in range(24)))
    for day, values in pc["hourly"].items():
        lines.append(f"  {day}  " + "".join(f"{v:>4}" for v in values))
    lines.append(
        f"  {len(pc['changes'])} scheduled actions; GB-hours/month {pc['gb_hours_per_month']:,} following the curve, "
        f"{pc['flat_peak_gb_hours_per_month']:,} flat at the peak ({pc['saved_share']:.0%} less)"
    )
    if "usd_per_month" in pc:
        lines.append(
            f"  ${pc['usd_per_month']:,.2f}/month following the curve, ${pc['flat_peak_usd_per_month']:,.2f} at the "
            f"peak: ${pc['difference_usd_per_month']:,.2f}/month saved"
        )
    else:
        lines.append("  (no provisioned-concurrency price in prices.json: pass --pc-usd-per-gb-hour for dollars)")
    reserved = f"turn reserved concurrency: at least {result['turn_reserved_concurrency']}"
    if config_reserved is not None:
        reserved += f" (.chalice/config.json prod: {config_reserved})"
    lines += [reserved, "", f"{'kinesis per month':<26}{'records':>11}{'GiB':>8}{'on-demand':>11}{'provisioned':>13}"]
    k = result["kinesis"]
    for s in k["streams"]:
        shards = f"{s['provisioned_shards']} shard" + ("s" if s["provisioned_shards"] > 1 else "")
        lines.append(
            f"  {s['stream']:<24}{s['records_per_month']:>11,}{s['gib_per_month']:>8.2f}"
            f"{_usd(s['on_demand_usd_per_month']):>11}{_usd(s['provisioned_usd_per_month']):>13}  ({shards})"
        )
    diff = k["on_demand_minus_provisioned_usd_per_month"]
    cheaper = "provisioned" if diff > 0 else "on-demand"
    lines.append(
        f"  {'both streams':<43}{_usd(k['on_demand_usd_per_month']):>11}{_usd(k['provisioned_usd_per_month']):>13}"
        f"  {cheaper} is {_usd(abs(diff))}/month cheaper"
    )
    return "\n".join(lines)


def _usd(value: float) -> str:
    return f"${value:,.2f}"


# ---------------------------------------------------------------------------- the sample curve


def sample_curve(seed: int = 8) -> list[Interval]:
    """A plausible mid-size contact centre's week, deterministic for a seed (events/volume/README.md)."""
    rng = random.Random(seed)
    day_factor = (1.0, 0.93, 0.9, 0.88, 0.84, 0.3, 0.12)
    opening = ((8.0, 18.0),) * 5 + ((9.0, 14.0), (10.0, 16.0))
    intervals = []
    for day in range(7):
        open_h, close_h = opening[day]
        for slot in range(SLOTS_PER_DAY):
            h = slot / 4 + 0.125  # the middle of the quarter hour
            morning = math.exp(-(((h - 10.25) / 1.5) ** 2) / 2) * (1.4 if day == 0 else 1.0)
            afternoon = 0.85 * math.exp(-(((h - 14.5) / 1.8) ** 2) / 2) * (0.85 if day == 4 else 1.0)
            lunch_dip = 0.35 * math.exp(-(((h - 12.75) / 0.6) ** 2) / 2)
            business = max(0.0, morning + afternoon - lunch_dip)
            if h < open_h:
                business *= math.exp(-(open_h - h) / 0.4)  # a few early callers before opening
            elif h > close_h:
                # after closing: the business curve falls away, an evening tail decays to midnight
                business = business * math.exp(-(h - close_h) / 0.5) + 0.2 * math.exp(-(h - close_h) / 1.5)
            level = 200 * day_factor[day] * business + 1.5  # overnight: a call or two per quarter hour
            noise = 1 + 0.16 * (rng.random() - 0.5)
            intervals.append(Interval(day, slot * 15, max(0, round(level * noise))))
    return intervals


def write_curve(intervals: list[Interval], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["day", "start", "calls"])
        for i in intervals:
            writer.writerow([DAYS[i.day], f"{i.minute // 60:02d}:{i.minute % 60:02d}", i.calls])
