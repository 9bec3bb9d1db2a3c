"""Write a deployed stack's outputs into ``.chalice/config.json`` for one stage.

The committed configuration holds, for each stage, the values the CloudFormation stack of
``infra/template.json`` outputs, as they would read in the placeholder account
``000000000000`` in ``us-east-1`` (the role ARNs, the table, the handover state machine ARN, the
secrets' ARNs without their random suffix, the session key's ARN, the Connect instance id, the
Region), and placeholder
addresses of the back office's tool endpoints. After ``aws cloudformation deploy``:

    aws cloudformation describe-stacks --stack-name switchboard-prod \
        --query 'Stacks[0].Outputs' --output json > out/stack-outputs.json
    python infra/stage_config.py --stage prod --outputs out/stack-outputs.json \
        --tools-mcp-url https://backoffice.example.com/mcp --tools-http-url https://backoffice.example.com/api

replaces them with the real ones, so ``chalice deploy --stage prod`` uses the stack's roles.
Each configuration value is taken from one named stack output (``STAGE_OUTPUTS``); a missing
output is an error, nothing is guessed. The tool endpoints are the contact centre's own back
office, not the stack's: they are given on the command line (``STAGE_ARGUMENTS``).
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
    ("environment_variables", "SWITCHBOARD_CONNECT_INSTANCE_ID"): "ConnectInstanceId",
    ("environment_variables", "SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN"): "HandoverStateMachineArn",
    ("environment_variables", "SWITCHBOARD_MODEL_SECRET_ARN"): "ModelSecretArn",
    ("environment_variables", "SWITCHBOARD_SESSION_KEY_ARN"): "SessionKeyArn",
    ("environment_variables", "SWITCHBOARD_REDACTION_KEY_SECRET_ARN"): "RedactionKeySecretArn",
}


# Path inside config["stages"][stage] -> the command-line option that gives its value.
STAGE_ARGUMENTS: dict[tuple[str, ...], str] = {
    ("environment_variables", "SWITCHBOARD_TOOLS_MCP_URL"): "tools_mcp_url",
    ("environment_variables", "SWITCHBOARD_TOOLS_HTTP_URL"): "tools_http_url",
}


def outputs_by_key(outputs: list[dict[str, str]] | dict[str, str]) -> dict[str, str]:
    """``describe-stacks`` outputs (``[{"OutputKey", "OutputValue"}]``) or a plain mapping."""
    if isinstance(outputs, dict):
        return dict(outputs)
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def apply_outputs(
    config: dict[str, Any], stage: str, outputs: dict[str, str], arguments: dict[str, str | None] | None = None
) -> dict[str, Any]:
    """Return ``config`` with the stage's stack-derived values replaced by ``outputs`` and the
    values given on the command line (``arguments``, by option name) set."""
    missing = sorted({key for key in STAGE_OUTPUTS.values() if not outputs.get(key)})
    if missing:
        raise KeyError(f"stack outputs missing: {', '.join(missing)}")
    values = {path: outputs[key] for path, key in STAGE_OUTPUTS.items()}
    values |= {path: value for path, name in STAGE_ARGUMENTS.items() if (value := (arguments or {}).get(name))}
    stage_config = config["stages"][stage]
    for path, value in values.items():
        node = stage_config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a stack's outputs into .chalice/config.json.")
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--outputs", required=True, help="JSON of `describe-stacks --query Stacks[0].Outputs`")
    parser.add_argument("--config", default=str(CONFIG), help="chalice config to rewrite")
    parser.add_argument("--tools-mcp-url", help="the back office's MCP tool endpoint (streamable HTTP)")
    parser.add_argument("--tools-http-url", help="the back office's HTTP tool API")
    args = parser.parse_args(argv)
    config_path = Path(args.config)
    config = json.loads(config_path.read_text())
    try:
        apply_outputs(config, args.stage, outputs_by_key(json.loads(Path(args.outputs).read_text())),
                      {"tools_mcp_url": args.tools_mcp_url, "tools_http_url": args.tools_http_url})  # fmt: skip
    except KeyError as exc:
        print(f"StackOutputsMissingError: {exc}", file=sys.stderr)
        return 2
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"{config_path}: stage {args.stage} now uses the stack's outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
