"""Fill ``infra/contact-flow.json``'s placeholders for one stage: a flow ready to import.

The checked-in flow names what it needs by placeholder, never by a made-up ARN:

- ``${<OutputKey>}``: the value of that stack output (``TurnFunctionArn``,
  ``TranscriberFunctionArn``, ``LexBotAliasArn``);
- ``${Queue:<Name>}``: the ARN of the instance's queue of that name (``aws connect list-queues``),
  one per queue name ``chalicelib/data/handover.json`` can answer, and its default queue.

After ``aws cloudformation deploy`` and ``chalice deploy``::

    aws cloudformation describe-stacks --stack-name switchboard-prod \\
        --query 'Stacks[0].Outputs' --output json > out/stack-outputs.json
    aws connect list-queues --instance-id "$INSTANCE_ID" --queue-types STANDARD \\
        --output json > out/queues.json
    python infra/fill_flow.py --stage prod --outputs out/stack-outputs.json --queues out/queues.json

writes ``out/contact-flow.prod.json`` (never the checked-in file). A placeholder whose output or
queue is missing is an error that names it; nothing is guessed. ``sim/`` fills the flow the same
way, from its own stack's outputs and its simulated instance's queues, and plays the result.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "infra" / "contact-flow.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)(?::([^{}$]+))?\}")
QUEUE_KIND = "Queue"


class FillFlowError(Exception):
    """The flow cannot be filled from the given outputs and queues."""


class FlowOutputMissingError(FillFlowError):
    """A ``${OutputKey}`` placeholder names a stack output the stack does not have."""


class FlowQueueMissingError(FillFlowError):
    """A ``${Queue:Name}`` placeholder names a queue the instance does not have."""


class FlowPlaceholderUnknownError(FillFlowError):
    """A ``${Kind:...}`` placeholder of a kind this script does not fill."""


class FlowStageMismatchError(FillFlowError):
    """The outputs' function ARNs belong to another stage than ``--stage``."""


class FlowInputUnreadableError(FillFlowError):
    """An outputs or queues file that is not the JSON the AWS CLI writes."""


class FlowOutputPathError(FillFlowError):
    """``--out`` would overwrite the checked-in flow."""


def outputs_by_key(outputs: Any) -> dict[str, str]:
    """``describe-stacks`` outputs: ``[{"OutputKey", "OutputValue"}]``, the whole
    ``describe-stacks`` answer, or a plain mapping."""
    if isinstance(outputs, dict) and "Stacks" in outputs:
        outputs = outputs["Stacks"][0].get("Outputs", [])
    if isinstance(outputs, dict):
        return {str(k): str(v) for k, v in outputs.items()}
    if isinstance(outputs, list) and all(isinstance(o, dict) and "OutputKey" in o for o in outputs):
        return {str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in outputs}
    raise FlowInputUnreadableError("stack outputs: expected describe-stacks Outputs ([{OutputKey, OutputValue}])")


def queue_arns(queues: Any) -> dict[str, str]:
    """Queue name -> ARN from ``aws connect list-queues`` (``QueueSummaryList``)."""
    summaries = queues.get("QueueSummaryList") if isinstance(queues, dict) else queues
    if not isinstance(summaries, list):
        raise FlowInputUnreadableError("queues: expected list-queues output with a QueueSummaryList")
    return {str(q["Name"]): str(q["Arn"]) for q in summaries if isinstance(q, dict) and q.get("Name") and q.get("Arn")}


def placeholders(flow: Any) -> set[tuple[str, str | None]]:
    """Every ``(name, qualifier)`` placeholder in the flow."""
    return {(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(json.dumps(flow))}


def fill(
    flow: dict[str, Any], outputs: dict[str, str], queues: dict[str, str], stage: str | None = None
) -> dict[str, Any]:
    """The flow with every placeholder replaced.

    Args:
        flow: the checked-in flow (parsed).
        outputs: stack output key -> value.
        queues: queue name -> queue ARN.
        stage: when given, every filled Lambda function ARN must be one of this stage's.

    Raises:
        FlowOutputMissingError, FlowQueueMissingError, FlowPlaceholderUnknownError: naming every
            placeholder that cannot be filled.
        FlowStageMismatchError: a function ARN of another stage.
    """
    missing_outputs, missing_queues, unknown = set(), set(), set()
    for name, qualifier in placeholders(flow):
        if qualifier is None and name not in outputs:
            missing_outputs.add(name)
        elif qualifier is not None and name != QUEUE_KIND:
            unknown.add(f"{name}:{qualifier}")
        elif qualifier is not None and qualifier not in queues:
            missing_queues.add(qualifier)
    if unknown:
        raise FlowPlaceholderUnknownError(f"placeholders of an unknown kind: {', '.join(sorted(unknown))}")
    if missing_outputs:
        raise FlowOutputMissingError(f"stack outputs missing: {', '.join(sorted(missing_outputs))}")
    if missing_queues:
        raise FlowQueueMissingError(f"queues missing from the instance: {', '.join(sorted(missing_queues))}")

    def value(match: re.Match[str]) -> str:
        name, qualifier = match.group(1), match.group(2)
        return queues[qualifier] if qualifier is not None else outputs[name]

    filled = _replace(copy.deepcopy(flow), value)
    if stage is not None:
        _check_stage(filled, stage)
    if stage is not None and isinstance(filled.get("Metadata"), dict):
        filled["Metadata"]["name"] = f"{filled['Metadata'].get('name', 'Switchboard')} ({stage})"
    return filled


def _replace(value: Any, replacement: Any) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(replacement, value)
    if isinstance(value, list):
        return [_replace(v, replacement) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, replacement) for k, v in value.items()}
    return value


def _check_stage(flow: dict[str, Any], stage: str) -> None:
    for action in flow.get("Actions", []):
        arn = action.get("Parameters", {}).get("LambdaFunctionARN")
        if isinstance(arn, str) and ":function:" in arn and f"-{stage}-" not in arn.split(":function:", 1)[1]:
            raise FlowStageMismatchError(f"{action['Identifier']}: {arn} is not a {stage} function")


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise FlowInputUnreadableError(f"{what} {path}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill infra/contact-flow.json's placeholders for one stage.")
    parser.add_argument("--stage", required=True, help="the chalice stage (dev, prod)")
    parser.add_argument("--outputs", required=True, help="describe-stacks Outputs as JSON")
    parser.add_argument("--queues", required=True, help="aws connect list-queues --output json")
    parser.add_argument("--flow", default=str(FLOW), help="the flow to fill (default: the checked-in one)")
    parser.add_argument("--out", help="where to write it (default out/contact-flow.<stage>.json)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else ROOT / "out" / f"contact-flow.{args.stage}.json"
    try:
        if out.resolve() == FLOW.resolve():
            raise FlowOutputPathError(f"{out} is the checked-in flow; write the filled one elsewhere")
        flow = _read_json(args.flow, "flow")
        outputs = outputs_by_key(_read_json(args.outputs, "stack outputs"))
        queues = queue_arns(_read_json(args.queues, "queues"))
        filled = fill(flow, outputs, queues, stage=args.stage)
    except FillFlowError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(filled, indent=2) + "\n")
    print(f"filled flow written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
