"""``python -m sim``: the offline harness's command line.

python -m sim invoke FUNCTION EVENT.json     one handler, one event; prints its answer
python -m sim replay PATH... [--json OUT]    whole recorded calls; prints the report
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CALLS = Path(__file__).resolve().parent.parent / "events" / "calls"


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
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        print(f"report written to {out}")
    if args.html:
        from sim.html_report import render_html  # noqa: PLC0415

        page = Path(args.html)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render_html(report))
        print(f"call report page written to {page}")
    return 0


def _router_eval(args: argparse.Namespace) -> int:
    from sim.router_eval import LABELLED, evaluate, format_evaluation, load_labelled  # noqa: PLC0415

    result = evaluate(load_labelled(Path(args.file) if args.file else LABELLED))
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
    router_eval = commands.add_parser("router-eval", help="score the router on a labelled set")
    router_eval.add_argument("--file", help="labelled JSONL (default events/router/labelled.jsonl)")
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
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
