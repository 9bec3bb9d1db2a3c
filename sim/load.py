"""``sim load``: many concurrent calls through the real handlers, with faults injected, and the
invariants checked afterwards (``sim.invariants``).

Each call is played by a driver thread as one contact through the deployed contact flow
(``sim.connect_flow``, the bot of the call's ``TurnPath``): the flow's warm-up, each caller turn
(re-delivered by Connect when the handler raised or crashed, or when its answer was lost — a
recorded or injected Connect retry; said again by the caller when the answer was the safe
fallback), the handover workflow followed to its end, then the call's Contact Lens segments and
contact record through Kinesis into the consumers. Afterwards the invariants are checked, and
every sink is scanned for the raw values the calls' callers read out (``pii_leaks``). The flow's
Lambda invocations run in a pool of execution environments (``sim.environments``) through
``_CallInvoker``, which arms this run's faults on a turn's first delivery; ``concurrency`` calls
at a time; the embedded AWS, the scripted model endpoint and the sample tool servers serve them
all. The same seed gives the same calls and the same faults.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.calls import CallTurn, RecordedCall, connect_event, recorded_contact
from sim.connect_flow import CallerTurn, LambdaCall, LambdaResult, Listen, Utterance
from sim.connect_instance import TURN_PATHS, simulated_connect
from sim.environments import Armed, EnvironmentPool, Invocation
from sim.handover import follow_handover
from sim.harness import Harness
from sim.invariants import CallLog, TurnLog, check
from sim.leak_scan import LeakScanner
from sim.leaks import aws_sinks, scan_sinks, watched_values
from sim.replay import answer_fields, sent_sequence, spoken_text
from sim.stats import summary
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
    offsets = _log_offsets(options.log_dir)
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
    finally:
        pool.close()  # the environments' logs are complete
    executions = _executions(harness)
    services = harness.services()
    others = CallLog("", "streams and handover", other=run.other_invocations)
    scanner = LeakScanner(watched_values(calls))
    sinks = {**aws_sinks(harness, [c.contact_id for c in calls]), "logs": _new_log_lines(options.log_dir, offsets)}
    leaks = scan_sinks(scanner, sinks)
    checked = check([*logs, others], services.session_store, services.clock.now_ms(), harness.tool_servers.backend,
                    executions, run.feed, envelope.hard_deadline_ms, leaks=leaks["entries"])  # fmt: skip
    report = _report(logs, run, harness, options, wall_s, checked)
    # The report itself is a sink too: it must name no caller data either.
    in_report = scan_sinks(scanner, {"load_json": [json.dumps(report, default=str)]})
    report["invariants"]["pii_leaks"] += in_report["raw_found"]
    if report["invariants"]["pii_leaks"]:
        report["examples"]["pii_leaks"] = (leaks["found"] + in_report["found"])[:5]
    report["pii_leaks_by_sink"] = {name: sink["raw_found"] for name, sink in
                                   {**leaks["sinks"], **in_report["sinks"]}.items()}  # fmt: skip
    return report


def _log_offsets(log_dir: Path | None) -> dict[Path, int]:
    """How much of each environment log was there before the run (the files are appended to)."""
    if log_dir is None or not log_dir.is_dir():
        return {}
    return {path: path.stat().st_size for path in log_dir.glob("environment-*.log")}


def _new_log_lines(log_dir: Path | None, offsets: dict[Path, int]) -> list[str]:
    """The lines the run's environments logged."""
    if log_dir is None or not log_dir.is_dir():
        return []
    lines: list[str] = []
    for path in sorted(log_dir.glob("environment-*.log")):
        with path.open("rb") as log:
            log.seek(offsets.get(path, 0))
            lines.extend(log.read().decode("utf-8", errors="replace").splitlines())
    return lines


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
        turn_path = TURN_PATHS[call.format]
        caller = _LoadCaller(self, call, log, rng, retries=turn_path == "InvokeLambda")
        invoker = _CallInvoker(self, log, rng)
        contact = simulated_connect(self.harness).play(recorded_contact(call), caller, turn_path, invoker)
        caller.settle(contact.turns[-1] if contact.turns else None)
        log.outcome = contact.outcome
        log.race_segments = [s for t in log.turns for i in t.invocations for s in i.race_segments]
        follow_handover(self.harness, call.contact_id, log.outcome, call.handover_agent_answers,
                        invoke=self._invoke_answer)  # fmt: skip
        rows = caller.rows
        played = call.model_copy(update={"turns": [turn for turn, _ in rows]}) if rows else None
        if played is not None:
            report = {"turns": [row for _, row in rows], "duration_s": round(caller.duration_ms / 1000, 2),
                      "outcome": log.outcome}  # fmt: skip
            with self._feed_lock:
                self.feed.publish_call(played, report, index, malformed=self.on("malformed_event"))
                self.feed.drain()
        self._progress(len(log.turns))
        return log

    def armed_faults(self, rng: random.Random) -> Armed:
        rate = self.options.fault_rate
        return Armed(
            read_throttles=int(self.on("ddb_throttle") and rng.random() < rate),
            write_throttles=rng.choice((1, 2)) if self.on("ddb_throttle") and rng.random() < rate else 0,
            condition_race=self.on("condition_race") and rng.random() < rate,
            # Fires only on a turn that makes a side effect: armed more often than the others.
            crash_after_effect=self.on("lambda_crash") and rng.random() < min(1.0, 5 * rate),
        )

    def count_fired(self, invocation: Invocation) -> None:
        for kind, n in invocation.fired.items():
            self.counts.add({"crash_after_effect": "lambda_crash", "ddb_read_throttle": "ddb_throttle",
                             "ddb_write_throttle": "ddb_throttle"}.get(kind, kind), n)  # fmt: skip

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


@dataclass
class _Attempt:
    """One time the caller says a recorded turn, and the faults armed on its first delivery."""

    turn: CallTurn
    entry: TurnLog
    armed: Armed


class _LoadCaller:
    """The caller's script of one load call: each recorded turn, said again (up to
    ``CALLER_ATTEMPTS`` times) when the answer did not advance the conversation (the safe
    fallback), with the injected faults of the turn: Connect retries (lost answers, on the
    InvokeLambda path: Lex does not retry its code hook), a malformed event sent before it, the
    client-side faults armed on its first delivery."""

    def __init__(self, run: _Run, call: RecordedCall, log: CallLog, rng: random.Random, retries: bool) -> None:
        self._run = run
        self._call = call
        self._log = log
        self._rng = rng
        self._retries = retries
        self._turns = iter(call.turns)
        self._attempt: _Attempt | None = None
        self._attempts = 0
        self._stored_turn: str | None = None  # the turn the flow keeps, as last answered
        self.rows: list[tuple[CallTurn, dict[str, Any]]] = []  # for the call's stream records
        self.duration_ms = 0.0

    def speak(self, listen: Listen) -> Utterance | None:
        self.settle(listen.previous)
        attempt = self._attempt
        if attempt is not None and self._attempts < CALLER_ATTEMPTS:
            self._attempts += 1  # the fallback, or a dead line: the caller says it again
            return Utterance(attempt.turn.caller, at_ms=attempt.turn.at_ms, tag=_Attempt(attempt.turn, attempt.entry,
                                                                                         Armed()))  # fmt: skip
        self._attempt = None  # answered, or the caller gave up on it (counted as lost by the checks)
        turn = next(self._turns, None)
        if turn is None:
            return None
        run, rate = self._run, self._run.options.fault_rate
        if run.on("malformed_event") and self._rng.random() < rate:
            kind = self._rng.choice(MALFORMED_KINDS)
            self._log.other.append(run.pool.invoke("turn", _malformed(kind, self._call.contact_id, self._stored_turn)))
            run.counts.add(f"malformed_event:{kind}")
        entry = TurnLog(turn.caller, int(self._stored_turn or 1))
        self._log.turns.append(entry)
        run.counts.add("barge_in", int(turn.barge_in_after_ms is not None))
        lost = turn.connect_retries + int(run.on("connect_retry") and self._rng.random() < rate)
        lost = lost if self._retries else 0
        run.counts.add("connect_retry", lost)
        self._attempt, self._attempts = _Attempt(turn, entry, run.armed_faults(self._rng)), 1
        return Utterance(turn.caller, lost_answers=lost, at_ms=turn.at_ms, tag=self._attempt)

    def settle(self, previous: CallerTurn | None) -> None:
        """Record how the caller's last turn went, once: the answer that advanced it, if any."""
        if previous is None or self._attempt is None or previous.utterance.tag.entry is not self._attempt.entry:
            return
        entry = self._attempt.entry
        entry.consistent = entry.consistent and previous.consistent
        answer = previous.answer
        sent = sent_sequence(previous.event) if previous.event is not None else entry.sent_seq
        entry.sent_seq = sent
        if previous.error is not None or not _advanced(answer, sent):
            return
        fields = answer_fields(answer)
        entry.answered_seq = int(fields["turn"]) - 1
        entry.reply = spoken_text(fields.get("prompt", ""))
        self._stored_turn = fields["turn"]
        self._log.handover_requests = max(self._log.handover_requests, int(fields.get("action") == "handover"))
        handler_ms = entry.invocations[0].handler_ms if entry.invocations else 0.0
        self.rows.append((self._attempt.turn, {"reply": entry.reply, "latency_ms": {"total": handler_ms}}))
        self.duration_ms = self._attempt.turn.at_ms + handler_ms + speaking_ms(entry.reply)
        self._attempt = None


class _CallInvoker:
    """The flow's Lambda invocations of one call, in the run's execution environments: a turn's
    first delivery with its armed faults (and, at random, a concurrent duplicate of it), every
    invocation kept in the call's log."""

    def __init__(self, run: _Run, log: CallLog, rng: random.Random) -> None:
        self._run = run
        self._log = log
        self._rng = rng

    def __call__(self, call: LambdaCall) -> LambdaResult:
        run = self._run
        attempt: _Attempt | None = call.utterance.tag if call.utterance is not None else None
        if attempt is None:  # the warm-up, while the greeting plays
            invocation = run.pool.invoke(call.function, call.event)
            self._log.warmups.append(invocation)
            return _result(invocation)
        armed = attempt.armed if call.attempt == 0 else Armed()
        futures = [run.pool.submit(call.function, call.event, armed)]
        if run.on("concurrent_duplicate") and self._rng.random() < run.options.fault_rate:
            futures.append(run.pool.submit(call.function, call.event))
            run.counts.add("concurrent_duplicate")
        invocations = [f.result() for f in futures]
        attempt.entry.invocations.extend(invocations)
        for invocation in invocations:
            run.count_fired(invocation)
        answers = [i.answer for i in invocations if not i.crashed and not i.raised]
        attempt.entry.consistent = attempt.entry.consistent and all(a == answers[0] for a in answers)
        return _result(invocations[0])


def _result(invocation: Invocation) -> LambdaResult:
    """What Connect or Lex sees of an invocation: its answer, or that the function failed."""
    if invocation.crashed:
        return LambdaResult(None, "SimulatedLambdaCrash", invocation.handler_ms, invocation)
    if invocation.raised:
        return LambdaResult(None, invocation.raised, invocation.handler_ms, invocation)
    return LambdaResult(invocation.answer, None, invocation.handler_ms, invocation)


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
        "latency_ms": summary(latencies, (0.95, 0.99), digits=1),
        "turns_per_second": round(len(turn_invocations) / wall_s, 2) if wall_s else None,
        "wall_s": round(wall_s, 1),
        "outcomes": outcomes,
        "answers_inconsistent": sum(1 for log in logs for t in log.turns if not t.consistent),
        "side_effects_executed": harness.tool_servers.backend.side_effects_executed,
    }


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
