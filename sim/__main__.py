"""``python -m sim``: the offline harness's command line.

python -m sim invoke FUNCTION EVENT.json     one handler, one event; prints its answer
python -m sim replay PATH... [--json OUT]    whole recorded calls; prints the report
python -m sim load --calls N --concurrency C --faults all --seed S [--json OUT]
                                             concurrent calls with faults; the invariants checked
python -m sim capacity CURVE.csv [--json]     concurrency, provisioned-concurrency schedule, Kinesis cost
python -m sim stream PATH... [--json OUT] [--speed X]
                                             calls through the streaming speech path: reply-ready
                                             with and without speculation, its waste and cost
python -m sim leaks PATH... [--json OUT] [--dump DIR] [--model-speed X]
                                             calls with caller data replayed; every sink scanned
                                             for the raw values
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CALLS = Path(__file__).resolve().parent.parent / "events" / "calls"


def _write_json(path: str, report: object) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"report written to {out}")


def _fault_rates(names: str | None, rate: float) -> dict[str, float]:
    from sim.scripted_model import FAULT_KINDS  # noqa: PLC0415

    if not names:
        return {}
    kinds = FAULT_KINDS if names == "all" else tuple(n.strip() for n in names.split(","))
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        raise SystemExit(f"UnknownFaultError: {sorted(unknown)} (known: {', '.join(FAULT_KINDS)})")
    return dict.fromkeys(kinds, rate)


def _invoke(args: argparse.Namespace) -> int:
    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, ValueError) as exc:
        print(f"EventFileUnreadableError: {args.event}: {exc}", file=sys.stderr)
        return 2
    from sim.calls import call_files, load_call, model_scripts  # noqa: PLC0415 - keep --help fast
    from sim.harness import Harness  # noqa: PLC0415

    scripts = model_scripts([load_call(p) for p in call_files([str(CALLS)])])
    with Harness(log_level=args.log_level, model_scripts=scripts) as harness:
        if args.function not in harness.function_names():
            print(
                f"FunctionNotFoundError: {args.function} (have: {', '.join(harness.function_names())})", file=sys.stderr
            )
            return 2
        try:
            answer = harness.invoke(args.function, event)
        except Exception as exc:  # noqa: BLE001 - a handler that raises is what this reports
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(answer, indent=2))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from chalicelib.adapters.data_files import load_envelope  # noqa: PLC0415
    from sim.calls import call_files, load_call, model_scripts  # noqa: PLC0415
    from sim.harness import Harness  # noqa: PLC0415
    from sim.replay import format_report, replay  # noqa: PLC0415

    calls = [load_call(path) for path in call_files(args.paths)]
    if not calls:
        print("NoCallsFoundError: no call files in " + " ".join(args.paths), file=sys.stderr)
        return 2
    faults = _fault_rates(args.model_faults, args.fault_rate)
    with Harness(
        log_level=args.log_level, model_scripts=model_scripts(calls), model_faults=faults, seed=args.seed
    ) as harness:
        report = replay(harness, calls, load_envelope(stage=harness.stage))
    print(format_report(report))
    if args.json:
        _write_json(args.json, report)
    if args.html:
        from sim.html_report import render_html  # noqa: PLC0415

        page = Path(args.html)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render_html(report))
        print(f"call report page written to {page}")
    return 0


def _load(args: argparse.Namespace) -> int:
    from sim.breakages import BREAKAGES  # noqa: PLC0415
    from sim.calls import call_files, load_call  # noqa: PLC0415
    from sim.load import LoadOptions, UnknownFaultError, format_load, harness_for, parse_faults, run_load  # noqa: PLC0415
    from sim.load_calls import load_calls, load_scripts  # noqa: PLC0415

    try:
        faults = parse_faults(args.faults)
    except UnknownFaultError as exc:
        print(f"UnknownFaultError: {exc}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.breaks or ()) - set(BREAKAGES))
    if unknown:
        print(f"UnknownBreakageError: {unknown} (known: {', '.join(BREAKAGES)})", file=sys.stderr)
        return 2
    recorded = [load_call(path) for path in call_files(args.paths or [str(CALLS)])]
    calls = load_calls(recorded, args.calls, args.seed)
    options = LoadOptions(concurrency=args.concurrency, faults=faults, fault_rate=args.fault_rate, seed=args.seed,
                          breakages=tuple(args.breaks or ()), progress=not args.no_progress,
                          log_dir=Path(args.log_dir) if args.log_dir else None)  # fmt: skip
    with harness_for(load_scripts(calls), options) as harness:
        report = run_load(harness, calls, options)
    print(format_load(report))
    if args.json:
        _write_json(args.json, report)
    return 0 if not any(report["invariants"].values()) else 1


def _router_eval(args: argparse.Namespace) -> int:
    from chalicelib.adapters.language_files import load_language_words  # noqa: PLC0415
    from sim.router_eval import evaluate, format_evaluation, labelled_file, load_labelled  # noqa: PLC0415

    path = Path(args.file) if args.file else labelled_file(args.language)
    result = evaluate(load_labelled(path), load_language_words(args.language))
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k not in ("under_routed", "over_routed")}, indent=2))
    else:
        print(format_evaluation(result))
    return 0


def _cost(args: argparse.Namespace) -> int:
    from decimal import Decimal  # noqa: PLC0415

    from chalicelib.adapters.data_files import load_prices  # noqa: PLC0415
    from sim.cost_report import cost_breakdown, format_breakdown  # noqa: PLC0415

    path = Path(args.report)
    if not path.exists():
        print(
            f"ReportMissingError: {path} (run `python -m sim replay events/calls --json {path}` first)", file=sys.stderr
        )
        return 2
    gpu_hourly = Decimal(args.gpu_hourly) if args.gpu_hourly else load_prices().service("gpu_hourly")
    result = cost_breakdown(
        json.loads(path.read_text()),
        gpu_hourly=gpu_hourly,
        utilisation=Decimal(args.utilisation),
        tokens_per_second_per_gpu=Decimal(args.tokens_per_second),
        min_gpus=args.min_gpus,
    )
    print(json.dumps(result, indent=2) if args.json else format_breakdown(result))
    return 0


def _capacity(args: argparse.Namespace) -> int:
    from dataclasses import replace  # noqa: PLC0415

    from chalicelib.adapters.data_files import load_envelope, load_prices  # noqa: PLC0415
    from sim.capacity import (  # noqa: PLC0415
        VolumeCurveInvalidError,
        Workload,
        format_plan,
        load_curve,
        plan,
        scheduled_actions_template,
        turn_memory_mb,
        workload_from_report,
    )

    try:
        intervals = load_curve(Path(args.curve))
    except VolumeCurveInvalidError as exc:
        print(f"VolumeCurveInvalidError: {exc}", file=sys.stderr)
        return 2
    config = json.loads((CALLS.parent.parent / ".chalice" / "config.json").read_text())
    # Without a report: the documented defaults, the handler taking the stage's soft deadline.
    workload = Workload(
        turn_memory_mb=turn_memory_mb(args.stage), handler_ms=load_envelope(stage=args.stage).soft_deadline_ms
    )
    report = Path(args.report)
    if report.exists():
        try:
            workload = workload_from_report(json.loads(report.read_text()), workload)
        except (ValueError, KeyError, TypeError) as exc:
            print(f"ReportUnreadableError: {report}: {exc!r}", file=sys.stderr)
            return 2
        workload = replace(workload, source=f"replay report {report}")
    overrides = {"turns_per_call": args.turns_per_call, "turn_duration_s": args.turn_duration_s,
                 "handler_ms": args.handler_ms}  # fmt: skip
    if any(v is not None for v in overrides.values()):
        workload = replace(workload, **{k: v for k, v in overrides.items() if v is not None})
        workload = replace(workload, source=workload.source + " + command line")
    result = plan(
        intervals,
        workload,
        gb_in_usd=float(load_prices().service("kinesis_on_demand_gb_in")),
        floor=args.floor,
        lead_minutes=args.lead_minutes,
        quantile=args.quantile,
        pc_usd_per_gb_hour=args.pc_usd_per_gb_hour,
    )
    reserved = config["stages"][args.stage].get("lambda_functions", {}).get("turn", {}).get("reserved_concurrency")
    print(json.dumps(result, indent=2) if args.json else format_plan(result, args.curve, reserved))
    if args.scheduled_actions:
        out = Path(args.scheduled_actions)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(scheduled_actions_template(result, args.timezone, Path(args.curve).name), indent=2))
        print(f"scheduled actions written to {out}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _add_load(commands: Any) -> None:
    load = commands.add_parser("load", help="many concurrent calls with faults; the invariants checked")
    load.add_argument("paths", nargs="*", help="recorded calls to vary (default events/calls)")
    load.add_argument("--calls", type=int, default=30, help="how many calls (recorded ones, then variations)")
    load.add_argument("--concurrency", type=int, default=4, help="calls in progress at once")
    load.add_argument("--faults", default="all", help="all, none, or a comma list (see sim/load.py)")
    load.add_argument("--fault-rate", type=float, default=0.05, help="probability of each fault per turn/request")
    load.add_argument("--seed", type=int, default=1, help="the same seed gives the same calls and faults")
    load.add_argument("--json", help="also write the report as JSON here")
    load.add_argument("--log-dir", default="out/load-logs", help="the environments' application logs")
    load.add_argument("--break", dest="breaks", action="append", help=argparse.SUPPRESS)  # tests: broken builds
    load.add_argument("--no-progress", action="store_true", help="no progress bar")
    load.set_defaults(run=_load)


def _stream(args: argparse.Namespace) -> int:
    from sim.calls import call_files, load_call, model_scripts  # noqa: PLC0415
    from sim.harness import Harness  # noqa: PLC0415
    from sim.stream import StreamOptions, format_stream, stream  # noqa: PLC0415

    calls = [load_call(path) for path in call_files(args.paths)]
    if not calls:
        print("NoCallsFoundError: no call files in " + " ".join(args.paths), file=sys.stderr)
        return 2
    if args.speed <= 0:
        print(f"SpeedInvalidError: {args.speed} (must be above 0)", file=sys.stderr)
        return 2
    options = StreamOptions(
        speed=args.speed,
        lex_delay_ms=args.lex_delay_ms,
        endpointing_delay_ms=args.endpointing_ms,
        stable_tail_words=args.stable_tail_words,
    )
    try:
        with Harness(log_level=args.log_level, model_scripts=model_scripts(calls)) as harness:
            report = stream(harness, calls, options)
    except FileNotFoundError as exc:  # espeak-ng, sox or ffmpeg missing: the message says how to install
        print(f"MediaToolMissingError: {exc}", file=sys.stderr)
        return 2
    print(format_stream(report))
    if args.json:
        _write_json(args.json, report)
    return 0


def _add_stream(commands: Any) -> None:
    from sim.stream import DEFAULT_SPEED, LEX_END_OF_UTTERANCE_MS, TRANSCRIBE_FINAL_DELAY_MS  # noqa: PLC0415

    stream = commands.add_parser("stream", help="calls through the speech path, with and without speculation")
    stream.add_argument("paths", nargs="+", help="call files or folders (events/calls)")
    stream.add_argument("--json", help="also write the report as JSON here")
    stream.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="media pace: times real time")
    stream.add_argument("--lex-delay-ms", type=int, default=None,
                        help="override the Lex end-of-utterance delay after the caller's speech (default: the "
                             f"end timeout the flow sets, x-amz-lex:audio:end-timeout-ms; Lex's own default "
                             f"{LEX_END_OF_UTTERANCE_MS})")  # fmt: skip
    stream.add_argument("--endpointing-ms", type=int, default=TRANSCRIBE_FINAL_DELAY_MS,
                        help="Transcribe: end of speech to the final result")  # fmt: skip
    stream.add_argument(
        "--stable-tail-words", type=int, default=2, help="Transcribe: trailing words of a partial not yet stable"
    )
    stream.set_defaults(run=_stream)


def _leaks(args: argparse.Namespace) -> int:
    from sim.calls import call_files, load_call  # noqa: PLC0415
    from sim.leaks import dump, format_leaks, leaks, passed  # noqa: PLC0415

    calls = [load_call(path) for path in call_files(args.paths)]
    if not calls:
        print("NoCallsFoundError: no call files in " + " ".join(args.paths), file=sys.stderr)
        return 2
    report, sinks = leaks(calls, model_speed=args.model_speed)
    print(format_leaks(report))
    if args.json:
        _write_json(args.json, {k: report[k] for k in ("raw_found", "sinks", "payment_tool")} | report)
    if args.dump:
        written = dump(sinks, Path(args.dump))
        print(f"{len(written)} sinks' content written to {args.dump}/")
    return 0 if passed(report) else 1


def _add_leaks(commands: Any) -> None:
    leaks = commands.add_parser("leaks", help="replay calls with caller data; scan every sink for the raw values")
    leaks.add_argument("paths", nargs="+", help="call files or folders (events/calls)")
    leaks.add_argument("--json", help="also write the per-sink counts as JSON here")
    leaks.add_argument("--dump", help="write each sink's content to DIR/<sink>.txt (for an outside scan)")
    leaks.add_argument(
        "--model-speed", type=float, default=1.0,
        help="divide the scripted model's delays (4 = four times faster: a busy machine's turns stay in time)",
    )  # fmt: skip
    leaks.set_defaults(run=_leaks)


def _doctor(args: argparse.Namespace) -> int:
    from sim.doctor import as_json, diagnose, render  # noqa: PLC0415 - keep --help fast

    reports = diagnose(args.stage, Path(args.config))
    print(json.dumps(as_json(args.stage, reports), indent=2) if args.json else render(args.stage, reports))
    return 1 if any(r.errors for r in reports) else 0


def _add_doctor(commands: Any) -> None:
    from sim.deployment import CHALICE_CONFIG  # noqa: PLC0415

    doctor = commands.add_parser("doctor", help="each packaged function's adapters and feature switches")
    doctor.add_argument("--stage", required=True, choices=["dev", "prod"])
    doctor.add_argument("--config", default=str(CHALICE_CONFIG), help="the chalice configuration to examine")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    doctor.set_defaults(run=_doctor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description="Switchboard's offline harness.")
    parser.add_argument("--log-level", default="WARNING", help="application log level (logs go to stderr)")
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser("invoke", help="invoke one handler with an event file")
    invoke.add_argument("function", help="handler name, e.g. turn")
    invoke.add_argument("event", help="path of a JSON event")
    invoke.set_defaults(run=_invoke)
    replay = commands.add_parser("replay", help="replay recorded calls end to end")
    replay.add_argument("paths", nargs="+", help="call files or folders (events/calls)")
    replay.add_argument("--json", help="also write the report as JSON here")
    replay.add_argument("--html", help="also write the call report page (self-contained HTML) here")
    replay.add_argument("--model-faults", help="inject model endpoint faults: all, or a comma list of kinds")
    replay.add_argument("--fault-rate", type=float, default=0.1, help="probability of each injected fault kind")
    replay.add_argument("--seed", type=int, default=7, help="seed of the endpoint's jitter and faults")
    replay.set_defaults(run=_replay)
    _add_load(commands)
    router_eval = commands.add_parser("router-eval", help="score the router on a labelled set")
    router_eval.add_argument("--file", help="labelled JSONL (default: the language's set in events/router/)")
    router_eval.add_argument("--language", default="en-US", help="the words the router reads (default en-US)")
    router_eval.add_argument("--json", action="store_true", help="print the figures as JSON")
    router_eval.set_defaults(run=_router_eval)
    cost = commands.add_parser("cost", help="cost per minute by component and the self-hosting break-even")
    cost.add_argument("--report", default="out/replay.json", help="a `sim replay --json` report")
    cost.add_argument("--gpu-hourly", help="USD per GPU-hour (default: prices.json self_hosting.gpu_hourly)")
    cost.add_argument("--utilisation", default="0.5", help="share of GPU time doing useful work (0-1)")
    cost.add_argument("--tokens-per-second", default="1500", help="tokens per second one GPU serves, batched")
    cost.add_argument("--min-gpus", type=int, default=2, help="GPUs kept running for redundancy")
    cost.add_argument("--json", action="store_true", help="print the figures as JSON")
    cost.set_defaults(run=_cost)
    capacity = commands.add_parser("capacity", help="concurrency, provisioned-concurrency schedule, Kinesis cost")
    capacity.add_argument("curve", help="call-volume CSV: day,start,calls per 15 minutes (events/volume/)")
    capacity.add_argument("--report", default="out/replay.json", help="replay report for the workload, if it exists")
    capacity.add_argument("--stage", default="prod", choices=["dev", "prod"], help="chalice stage (turn memory)")
    capacity.add_argument("--turns-per-call", type=float, help="override: average turns per call")
    capacity.add_argument("--turn-duration-s", type=float, help="override: seconds of call per turn")
    capacity.add_argument("--handler-ms", type=float, help="override: mean turn handler time (ms)")
    capacity.add_argument("--quantile", type=float, default=0.99, help="concurrency quantile provisioned (0-1)")
    capacity.add_argument("--floor", type=int, default=1, help="provisioned concurrency never below this")
    capacity.add_argument("--lead-minutes", type=int, default=10, help="start scale-ups this early")
    capacity.add_argument("--pc-usd-per-gb-hour", type=float, help="provisioned-concurrency price, for dollars")
    capacity.add_argument("--scheduled-actions", help="write the schedule as a CloudFormation template here")
    capacity.add_argument("--timezone", default="UTC", help="IANA time zone of the curve (scheduled actions)")
    capacity.add_argument("--json", action="store_true", help="print the figures as JSON")
    capacity.set_defaults(run=_capacity)
    _add_stream(commands)
    _add_leaks(commands)
    _add_doctor(commands)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
