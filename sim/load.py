"""``sim load``: many concurrent calls through the real handlers, with faults injected, and the
invariants checked afterwards (``sim.invariants``).

Each call is played by a driver thread, turn by turn, as Amazon Connect would: warm-up, each
caller turn (re-delivered when Connect retries, when the handler crashed or answered with its
safe fallback — the caller says it again), the handover workflow followed to its end, then
the call's Contact Lens segments and contact record through Kinesis into the consumers. The
handlers run in a pool of execution environments (``sim.environments``), ``concurrency`` calls
at a time; the embedded AWS, the scripted model endpoint and the sample tool servers serve them
all. The same seed gives the same calls and the same faults.
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.calls import RecordedCall, connect_event, lex_event, warmup_event
from sim.environments import Armed, EnvironmentPool, Invocation
from sim.handover import follow_handover
from sim.harness import Harness
from sim.invariants import CallLog, TurnLog, check
from sim.replay import answer_fields, spoken_text
from sim.streams import StreamFeed, speaking_ms

# Faults the load injects itself, per turn or per call.
DRIVER_FAULTS = (
    "connect_retry",  # Connect delivers a turn again after its answer
    "concurrent_duplicate",  # two invocations of one turn at the same time
    "ddb_throttle",  # DynamoDB throttling (client side, before the table)
    "condition_race",  # a concurrent session write just before the turn's commit
    "lambda_crash",  # the process dies between a side effect and its journal write
    "malformed_event",  # truncated JSON, wrong types, oversized transcript, unknown type; bad records
    "barge_in",  # the caller speaks into the previous reply
    "kinesis_duplicate_out_of_order",  # segment records shuffled, one twice; the contact record twice
)
MODEL_FAULTS = {
    "model_slow_first_token": "slow_first_token",
    "model_slow_stream": "slow_stream",
    "model_5xx": "server_error",
    "model_timeout": "timeout",
    "model_malformed": "malformed",
    "model_invalid_tool_call": "invalid_tool_call",
    "model_dropped": "dropped",
}
TOOL_FAULTS = {
    "tool_slow": "slow",
    "tool_5xx": "error",
    "tool_timeout": "timeout",
    "tool_drop_after_effect": "drop_after_effect",
    "tool_garbage": "garbage",
}
ALL_FAULTS = (*DRIVER_FAULTS, *MODEL_FAULTS, *TOOL_FAULTS)
CALLER_ATTEMPTS = 4  # a caller repeats a turn that got the fallback or a dead line, then gives up
MALFORMED_KINDS = ("truncated_json", "wrong_types", "oversized_transcript", "unknown_event_type")


class UnknownFaultError(ValueError):
    """``--faults`` named a fault ``sim load`` does not inject."""


def parse_faults(text: str | None) -> frozenset[str]:
    """``all``, or a comma list of ``ALL_FAULTS``; empty for none."""
    if not text or text.strip() == "none":
        return frozenset()
    names = ALL_FAULTS if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(set(names) - set(ALL_FAULTS))
    if unknown:
        raise UnknownFaultError(f"{unknown} (known: all, {', '.join(ALL_FAULTS)})")
    return frozenset(names)


@dataclass(frozen=True)
class LoadOptions:
    concurrency: int = 4
    faults: frozenset[str] = frozenset()
    fault_rate: float = 0.05
    seed: int = 1
    breakages: tuple[str, ...] = ()
    progress: bool = False
    log_dir: Path | None = None


@dataclass
class _Counts:
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: dict[str, int] = field(default_factory=dict)
    done: int = 0
    turns: int = 0

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            with self.lock:
                self.faults[kind] = self.faults.get(kind, 0) + n


def harness_for(calls_scripts: dict[str, dict[str, Any]], options: LoadOptions) -> Harness:
    """The embedded AWS, scripted model and tool servers with the run's model and tool faults."""
    rate = options.fault_rate
    model = {MODEL_FAULTS[f]: rate for f in options.faults if f in MODEL_FAULTS}
    tools = {TOOL_FAULTS[f]: rate for f in options.faults if f in TOOL_FAULTS}
    return Harness(model_scripts=calls_scripts, model_faults=model, tool_faults=tools, seed=options.seed)


def run_load(harness: Harness, calls: list[RecordedCall], options: LoadOptions) -> dict[str, Any]:
    """Play ``calls`` ``options.concurrency`` at a time; the report ``sim load --json`` writes."""
    from sim import lambda_bridge  # noqa: PLC0415

    envelope = harness.services().envelope
    pool = EnvironmentPool(options.concurrency + max(2, options.concurrency // 2), options.breakages, options.log_dir)
    try:
        pool.warm()
        # The workflow's tasks run in the environments too (one invocation at a time each).
        lambda_bridge.install(f"switchboard-{harness.stage}-", {n: pool.handler(n) for n in harness.function_names()})
        run = _Run(harness, pool, options, len(calls))
        started = time.perf_counter()
        with ThreadPoolExecutor(options.concurrency, thread_name_prefix="caller") as callers:
            logs = list(callers.map(run.play, range(len(calls)), calls))
        wall_s = time.perf_counter() - started
        if options.progress:
            print(file=sys.stderr)
        executions = _executions(harness)
        services = harness.services()
        others = CallLog("", "streams and handover", other=run.other_invocations)
        checked = check([*logs, others], services.session_store, services.clock.now_ms(),
                        harness.tool_servers.backend, executions, run.feed, envelope.hard_deadline_ms)  # fmt: skip
    finally:
        pool.close()
    return _report(logs, run, harness, options, wall_s, checked)


class _Run:
    def __init__(self, harness: Harness, pool: EnvironmentPool, options: LoadOptions, total: int) -> None:
        self.harness = harness
        self.pool = pool
        self.options = options
        self.total = total
        self.counts = _Counts()
        self.feed = StreamFeed(harness, seed=options.seed, invoke=self._invoke_answer)
        self._feed_lock = threading.Lock()
        self.other_invocations: list[Invocation] = []  # consumers, agent connected
        self._started = time.perf_counter()

    def _invoke_answer(self, function: str, event: Any) -> Any:
        """Run a stream consumer or the agent-connected handler; keep what it did."""
        invocation = self.pool.invoke(function, event)
        self.other_invocations.append(invocation)
        return invocation.answer

    def on(self, fault: str) -> bool:
        return fault in self.options.faults

    def play(self, index: int, call: RecordedCall) -> CallLog:
        rng = random.Random(f"{self.options.seed}:{index}")
        if not self.on("barge_in"):
            call = call.model_copy(update={"turns": [t.model_copy(update={"barge_in_after_ms": None})
                                                     for t in call.turns]})  # fmt: skip
        log = CallLog(call.contact_id, call.call)
        log.warmups.append(self.pool.invoke("turn", warmup_event(call.contact_id)))
        stored_turn: str | None = None
        lex_attributes: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        duration_ms = 0.0
        for turn in call.turns:
            if self.on("malformed_event") and rng.random() < self.options.fault_rate:
                kind = rng.choice(MALFORMED_KINDS)
                log.other.append(self.pool.invoke("turn", _malformed(kind, call.contact_id, stored_turn)))
                self.counts.add(f"malformed_event:{kind}")
            if call.format == "lex":
                event = lex_event(call.contact_id, turn.caller, lex_attributes)
            else:
                event = connect_event(call.contact_id, turn.caller, stored_turn, call.caller_number)
            sent = int(stored_turn or lex_attributes.get("turn") or 1)
            log.turns.append(entry := TurnLog(turn.caller, sent))
            self.counts.add("barge_in", int(turn.barge_in_after_ms is not None))
            retries = turn.connect_retries + int(self.on("connect_retry") and rng.random() < self.options.fault_rate)
            self.counts.add("connect_retry", retries)
            answer = self._deliver(entry, event, self._armed(rng), rng, retries)
            if answer is None:
                continue  # the caller gave up on this turn (counted as lost by the checks)
            fields = answer_fields(answer)
            stored_turn = fields.get("turn", stored_turn)
            if call.format == "lex":
                lex_attributes = answer["sessionState"]["sessionAttributes"]
            rows.append({"reply": entry.reply, "latency_ms": {"total": entry.invocations[0].handler_ms}})
            duration_ms = turn.at_ms + entry.invocations[0].handler_ms + speaking_ms(entry.reply)
            if fields.get("action") in ("end", "handover"):
                log.outcome = "completed" if fields["action"] == "end" else "handover"
                log.handover_requests = int(fields["action"] == "handover")
                break
        log.race_segments = [s for t in log.turns for i in t.invocations for s in i.race_segments]
        follow_handover(self.harness, call.contact_id, log.outcome, call.handover_agent_answers,
                        invoke=self._invoke_answer)  # fmt: skip
        played = call.model_copy(update={"turns": call.turns[: len(rows)]}) if rows else None
        if played is not None:
            report = {"turns": rows, "duration_s": round(duration_ms / 1000, 2), "outcome": log.outcome}
            with self._feed_lock:
                self.feed.publish_call(played, report, index, malformed=self.on("malformed_event"))
                self.feed.drain()
        self._progress(len(log.turns))
        return log

    def _armed(self, rng: random.Random) -> Armed:
        rate = self.options.fault_rate
        return Armed(
            read_throttles=int(self.on("ddb_throttle") and rng.random() < rate),
            write_throttles=rng.choice((1, 2)) if self.on("ddb_throttle") and rng.random() < rate else 0,
            condition_race=self.on("condition_race") and rng.random() < rate,
            # Fires only on a turn that makes a side effect: armed more often than the others.
            crash_after_effect=self.on("lambda_crash") and rng.random() < min(1.0, 5 * rate),
        )

    def _deliver(
        self, entry: TurnLog, event: dict[str, Any], armed: Armed, rng: random.Random, retries: int
    ) -> dict[str, Any] | None:
        """Deliver one caller turn until an answer advances it (or the caller gives up)."""
        for _ in range(CALLER_ATTEMPTS):
            duplicate = self.on("concurrent_duplicate") and rng.random() < self.options.fault_rate
            futures = [self.pool.submit("turn", event, armed)]
            if duplicate:
                futures.append(self.pool.submit("turn", event))
                self.counts.add("concurrent_duplicate")
            armed = Armed()  # the injected faults hit the first delivery only
            invocations = [f.result() for f in futures]
            entry.invocations.extend(invocations)
            for invocation in invocations:
                for kind, n in invocation.fired.items():
                    self.counts.add({"crash_after_effect": "lambda_crash", "ddb_read_throttle": "ddb_throttle",
                                     "ddb_write_throttle": "ddb_throttle"}.get(kind, kind), n)  # fmt: skip
            answers = [i.answer for i in invocations if not i.crashed and not i.raised]
            if not answers or not _advanced(answers[0], entry.sent_seq):
                continue  # a dead line, an error or the safe fallback: the caller says it again
            entry.consistent = all(a == answers[0] for a in answers)
            for _ in range(retries):
                again = self.pool.invoke("turn", event)
                entry.invocations.append(again)
                entry.consistent = entry.consistent and again.answer == answers[0]
            fields = answer_fields(answers[0])
            entry.answered_seq = int(fields["turn"]) - 1
            entry.reply = spoken_text(fields.get("prompt", ""))
            return answers[0]
        return None

    def _progress(self, turns: int) -> None:
        with self.counts.lock:
            self.counts.done += 1
            self.counts.turns += turns
            done, total_turns = self.counts.done, self.counts.turns
        if not self.options.progress:
            return
        elapsed = time.perf_counter() - self._started
        width = 30
        bar = "#" * (width * done // self.total)
        print(f"\r  load [{bar:<{width}}] {done}/{self.total} calls, {total_turns} turns, "
              f"{total_turns / elapsed:.1f} turns/s, {elapsed:.0f} s", end="", file=sys.stderr, flush=True)  # fmt: skip


def _advanced(answer: Any, sent_seq: int) -> bool:
    """True when the answer speaks for a stored turn (the fallback echoes the turn it got)."""
    if not isinstance(answer, dict):
        return False
    turn = answer_fields(answer).get("turn", "")
    return turn.isdigit() and int(turn) > sent_seq


def _malformed(kind: str, contact_id: str, stored_turn: str | None) -> Any:
    """A turn event Connect or a broken flow could send: each must get the safe answer."""
    if kind == "truncated_json":
        return '{"Details": {"ContactData": {"ContactId": "' + contact_id + '", "Attrib'
    event = connect_event(contact_id, "hello", stored_turn)
    if kind == "wrong_types":
        event["Details"]["ContactData"]["Attributes"] = ["turn", 3]
        event["Details"]["Parameters"] = {"utterance": 12345}
    elif kind == "oversized_transcript":
        event["Details"]["Parameters"] = {"utterance": "blah " * 20_000}
    else:
        event["Name"] = "ContactFlowEventV9"
    return event


def _executions(harness: Harness) -> list[dict[str, Any]]:
    sfn = harness.stepfunctions()
    arn = harness.state_machines.get("HandoverStateMachine")
    if arn is None:
        return []
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        found.extend(page["executions"])
    return found


def _report(
    logs: list[CallLog], run: _Run, harness: Harness, options: LoadOptions, wall_s: float, checked: dict[str, Any]
) -> dict[str, Any]:
    turn_invocations = [i for log in logs for t in log.turns for i in t.invocations if not i.crashed]
    latencies = sorted(i.handler_ms for i in turn_invocations)
    faults = dict(run.counts.faults)
    if harness.model_endpoint is not None:
        names = {v: k for k, v in MODEL_FAULTS.items()}
        for kind, n in harness.model_endpoint.stats.faults.items():
            faults[names.get(kind, f"model_{kind}")] = n
    tool_names = {v: k for k, v in TOOL_FAULTS.items()}
    for kind, n in harness.tool_servers.backend.faults_drawn.items():
        faults[tool_names[kind]] = n
    if "kinesis_duplicate_out_of_order" in options.faults:
        faults["kinesis_duplicate_records"] = run.feed.sent["duplicate_records"]
        faults["kinesis_out_of_order_records"] = run.feed.sent["out_of_order_records"]
    if "malformed_event" in options.faults:
        faults["malformed_records"] = run.feed.sent["malformed_records"]
    outcomes: dict[str, int] = {}
    for log in logs:
        outcomes[log.outcome] = outcomes.get(log.outcome, 0) + 1
    return {
        "calls": len(logs),
        "turns": sum(len(log.turns) for log in logs),
        "turn_invocations": len(turn_invocations),
        "concurrency": options.concurrency,
        "seed": options.seed,
        "fault_rate": options.fault_rate,
        "faults": sorted(options.faults),
        "breakages": list(options.breakages),
        "faults_injected": dict(sorted(faults.items())),
        **checked,
        "latency_ms": _percentiles(latencies),
        "turns_per_second": round(len(turn_invocations) / wall_s, 2) if wall_s else None,
        "wall_s": round(wall_s, 1),
        "outcomes": outcomes,
        "answers_inconsistent": sum(1 for log in logs for t in log.turns if not t.consistent),
        "side_effects_executed": harness.tool_servers.backend.side_effects_executed,
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, round(q * (len(values) - 1)))], 1)

    return {"p50": round(statistics.median(values), 1), "p95": at(0.95), "p99": at(0.99), "max": round(values[-1], 1)}


def format_load(report: dict[str, Any]) -> str:
    """The run's summary, for people."""
    lat = report["latency_ms"]
    lines = [
        f"load: {report['calls']} calls, {report['turns']} turns ({report['turn_invocations']} turn invocations), "
        f"concurrency {report['concurrency']}, seed {report['seed']}, {report['wall_s']} s, "
        f"{report['turns_per_second']} turn invocations/s",
        f"turn latency: p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms, "
        f"max {lat.get('max')} ms",
        f"outcomes: {report['outcomes']}; answers to one turn that differed: {report['answers_inconsistent']}",
        "faults injected: " + ", ".join(f"{k} {v}" for k, v in report["faults_injected"].items()),
        "invariants: " + ", ".join(f"{k} {v}" for k, v in report["invariants"].items()),
    ]
    if report.get("breakages"):
        lines.append(f"DELIBERATELY BROKEN BUILD: {', '.join(report['breakages'])}")
    for name, examples in report.get("examples", {}).items():
        lines.append(f"  {name}: " + "; ".join(examples))
    return "\n".join(lines)
