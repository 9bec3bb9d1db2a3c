"""Write a deployed stack's outputs into ``.chalice/config.json`` for one stage.

The committed configuration holds, for each stage, the values the CloudFormation stack of
``infra/template.json`` outputs, as they would read in the placeholder account
``000000000000`` in ``us-east-1`` (the role ARNs, stream names, handover state machine ARN,
secret ARN without its random suffix, Region). After ``aws cloudformation deploy``:

    aws cloudformation describe-stacks --stack-name switchboard-prod \
        --query 'Stacks[0].Outputs' --output json > out/stack-outputs.json
    python infra/stage_config.py --stage prod --outputs out/stack-outputs.json

replaces them with the real ones, so ``chalice deploy --stage prod`` uses the stack's roles.
Each configuration value is taken from one named stack output (``STAGE_OUTPUTS``); a missing
output is an error, nothing is guessed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"

# Path inside config["stages"][stage] -> the stack output that holds its value.
STAGE_OUTPUTS: dict[tuple[str, ...], str] = {
    ("iam_role_arn",): "TurnRoleArn",
    ("lambda_functions", "turn", "iam_role_arn"): "TurnRoleArn",
    ("lambda_functions", "segments", "iam_role_arn"): "StreamConsumerRoleArn",
    ("lambda_functions", "contact_records", "iam_role_arn"): "StreamConsumerRoleArn",
    ("lambda_functions", "handover_prepare", "iam_role_arn"): "HandoverRoleArn",
    ("lambda_functions", "handover_wait", "iam_role_arn"): "HandoverRoleArn",
    ("lambda_functions", "handover_callback", "iam_role_arn"): "HandoverRoleArn",
    ("lambda_functions", "handover_agent_connected", "iam_role_arn"): "HandoverRoleArn",
    ("lambda_functions", "transcriber", "iam_role_arn"): "TranscriberRoleArn",
    ("environment_variables", "SWITCHBOARD_AWS_REGION"): "Region",
    ("environment_variables", "SWITCHBOARD_TABLE_NAME"): "SessionTableName",
    ("environment_variables", "SWITCHBOARD_SEGMENTS_STREAM"): "SegmentsStreamName",
    ("environment_variables", "SWITCHBOARD_RECORDS_STREAM"): "RecordsStreamName",
    ("environment_variables", "SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN"): "HandoverStateMachineArn",
    ("environment_variables", "SWITCHBOARD_MODEL_SECRET_ARN"): "ModelSecretArn",
}


def outputs_by_key(outputs: list[dict[str, str]] | dict[str, str]) -> dict[str, str]:
    """``describe-stacks`` outputs (``[{"OutputKey", "OutputValue"}]``) or a plain mapping."""
    if isinstance(outputs, dict):
        return dict(outputs)
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def apply_outputs(config: dict[str, Any], stage: str, outputs: dict[str, str]) -> dict[str, Any]:
    """Return ``config`` with the stage's stack-derived values replaced by ``outputs``."""
    missing = sorted({key for key in STAGE_OUTPUTS.values() if key not in outputs})
    if missing:
        raise KeyError(f"stack outputs missing: {', '.join(missing)}")
    stage_config = config["stages"][stage]
    for path, key in STAGE_OUTPUTS.items():
        node = stage_config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = outputs[key]
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a stack's outputs into .chalice/config.json.")
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--outputs", required=True, help="JSON of `describe-stacks --query Stacks[0].Outputs`")
    parser.add_argument("--config", default=str(CONFIG), help="chalice config to rewrite")
    args = parser.parse_args(argv)
    config_path = Path(args.config)
    config = json.loads(config_path.read_text())
    try:
        apply_outputs(config, args.stage, outputs_by_key(json.loads(Path(args.outputs).read_text())))
    except KeyError as exc:
        print(f"StackOutputsMissingError: {exc}", file=sys.stderr)
        return 2
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"{config_path}: stage {args.stage} now uses the stack's outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
