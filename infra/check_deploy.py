"""The offline deploy checks of ``make package``: one summary line per tool, exit 1 on any finding.

    python infra/check_deploy.py --sam OUT/sam.json     every check (OUT: `chalice package` output)
    python infra/check_deploy.py --sam OUT/sam.json --only checkov
    python infra/check_deploy.py --policies             each role's policies as parliament reads them

The tools, and where they come from (``make package`` installs them first):

- **cfn-lint** (``.venv``, requirements-dev.txt) on ``sam.json`` and ``infra/template.json``: an
  error fails; warnings and informational findings are printed (exit bits 4 and 8).
- **asl-validator** (``tools/node_modules``, pinned by ``tools/package-lock.json``) on
  ``infra/handover.asl.json``.
- **checkov** (``tools/.venv-checkov``, ``tools/requirements-checkov.txt``: checkov pins its own
  boto3, so it cannot share ``.venv``) on ``infra/template.json`` and ``sam.json``, offline
  (``--skip-download``). A check passes, or is skipped inline with its reason
  (``Metadata.checkov.skip``; for the resources chalice generates, through
  ``infra/chalice-merge.json``).
- **parliament** (``.venv``) on every inline policy of every ``AWS::IAM::Role`` of
  ``infra/template.json``, its ``Fn::Sub``/``Ref``/``Fn::GetAtt`` resolved to the ARNs they would
  have in the placeholder account ``000000000000`` (``PlaceholderResolver``). A finding fails
  unless ``PARLIAMENT_ALLOWED`` names its role and issue, with the reason.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.json"
HANDOVER_ASL = ROOT / "infra" / "handover.asl.json"
CFN_LINT = ROOT / ".venv" / "bin" / "cfn-lint"
CHECKOV = ROOT / "tools" / ".venv-checkov" / "bin" / "checkov"
ASL_VALIDATOR = ROOT / "tools" / "node_modules" / ".bin" / "asl-validator"

ACCOUNT = "000000000000"
REGION = "us-east-1"
# Values the placeholder account gives the parameters without a default, and the ids AWS makes.
PLACEHOLDER_PARAMETERS = {"ConnectInstanceId": "00000000-0000-0000-0000-000000000000"}
PLACEHOLDER_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
PLACEHOLDER_BOT_ID = "BOTID00000"
PLACEHOLDER_BOT_ALIAS_ID = "ALIAS00000"
PLACEHOLDER_BOT_VERSION = "1"

# parliament findings accepted on purpose: (role logical id, issue) -> why. Empty: none is.
PARLIAMENT_ALLOWED: dict[tuple[str, str], str] = {}
PARLIAMENT_MINIMUM_SEVERITY = "LOW"  # parliament's own default: INFO findings are printed, not fatal


class PlaceholderResolver:
    """Names and ARNs of ``infra/template.json``'s resources for one stage in the placeholder
    account (``000000000000``, ``us-east-1``), offline: ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
    ``Fn::If`` resolved throughout a value. Parameters take their default, or
    ``PLACEHOLDER_PARAMETERS``; ids AWS makes up (key, bot, alias) are fixed placeholders.
    """

    NAME_PROPERTY: ClassVar[dict[str, str]] = {
        "AWS::IAM::Role": "RoleName",
        "AWS::Kinesis::Stream": "Name",
        "AWS::SQS::Queue": "QueueName",
        "AWS::SecretsManager::Secret": "Name",
        "AWS::SNS::Topic": "TopicName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::CloudWatch::Dashboard": "DashboardName",
        "AWS::KMS::Alias": "AliasName",
        "AWS::StepFunctions::StateMachine": "StateMachineName",
    }

    def __init__(self, template: dict[str, Any], stage: str, parameters: dict[str, str] | None = None) -> None:
        self.template = template
        defaults = {k: str(p["Default"]) for k, p in template.get("Parameters", {}).items() if "Default" in p}
        self.variables = {
            **defaults,
            **PLACEHOLDER_PARAMETERS,
            **(parameters or {}),
            "Stage": stage,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def kind(self, logical_id: str) -> str:
        return str(self.template["Resources"][logical_id]["Type"])

    def physical_name(self, logical_id: str) -> str:
        kind = self.kind(logical_id)
        if kind == "AWS::KMS::Key":
            return PLACEHOLDER_KEY_ID
        if kind == "AWS::Lex::Bot":
            return PLACEHOLDER_BOT_ID
        props = self.template["Resources"][logical_id]["Properties"]
        return str(self.resolve(props[self.NAME_PROPERTY[kind]]))

    def arn(self, logical_id: str) -> str:
        kind = self.kind(logical_id)
        if kind == "AWS::Lex::BotAlias":
            bot = self.resolve(self.template["Resources"][logical_id]["Properties"]["BotId"])
            return f"arn:aws:lex:{REGION}:{ACCOUNT}:bot-alias/{bot}/{PLACEHOLDER_BOT_ALIAS_ID}"
        name = self.physical_name(logical_id)
        arns = {
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "AWS::Kinesis::Stream": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            # The real ARN ends in a random suffix; without it, this is the secret's partial ARN.
            "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}",
            "AWS::Lex::Bot": f"arn:aws:lex:{REGION}:{ACCOUNT}:bot/{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
        }
        return arns[kind]

    def ref(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name]
        kind = self.kind(name)
        if kind in ("AWS::SecretsManager::Secret", "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self.arn(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(name)}"
        return self.physical_name(name)

    def attribute(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "QueueName":
            return self.physical_name(logical_id)
        if attribute == "BotVersion":
            return PLACEHOLDER_BOT_VERSION
        raise KeyError(f"{logical_id}.{attribute}")

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.template["Conditions"][name]))

    def _condition(self, value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Equals" in value:
            left, right = (self.resolve(v) for v in value["Fn::Equals"])
            return str(left) == str(right)
        if isinstance(value, dict) and "Fn::Not" in value:
            return not self._condition(value["Fn::Not"][0])
        if isinstance(value, dict) and "Condition" in value:
            return self.condition(value["Condition"])
        return self.resolve(value)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function in it evaluated."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attribute(logical_id, attribute)
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub_variable(m.group(1)), arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_variable(self, name: str) -> str:
        if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
            logical_id, attribute = name.split(".", 1)
            return self.attribute(logical_id, attribute)
        return self.ref(name)

    def outputs(self) -> dict[str, str]:
        return {key: str(self.resolve(o["Value"])) for key, o in self.template["Outputs"].items()}


# ---------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Result:
    """One tool's verdict: ``summary`` is its one line; ``details`` what to read when it failed."""

    tool: str
    ok: bool
    summary: str
    details: str = ""


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603 - our own tools


def check_cfn_lint(sam: Path) -> Result:
    """cfn-lint on both templates: exit bit 2 (error) or 1 (cfn-lint failed) fails; 4/8 do not."""
    done = _run([str(CFN_LINT), "--format", "parseable", str(sam), str(TEMPLATE)])
    findings = [line for line in done.stdout.splitlines() if line.strip()]
    errors = [f for f in findings if re.search(r":E\d{4}:", f)]
    ok = done.returncode & ~12 == 0
    summary = f"cfn-lint: 2 templates, {len(errors)} errors, {len(findings) - len(errors)} warnings/informational"
    return Result("cfn-lint", ok, summary, "\n".join(findings) + done.stderr)


def check_asl(path: Path = HANDOVER_ASL) -> Result:
    done = _run([str(ASL_VALIDATOR), "--json-path", str(path)])
    text = (done.stdout + done.stderr).strip()
    verdict = "valid" if done.returncode == 0 else "INVALID"
    return Result("asl-validator", done.returncode == 0, f"asl-validator: {path.relative_to(ROOT)} {verdict}", text)


def check_checkov(sam: Path) -> Result:
    """checkov on both templates; any failed check fails (skipped ones carry their reason)."""
    command = [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--compact", "--output", "json"]
    for path in (TEMPLATE, sam):
        command += ["-f", str(path)]
    done = _run(command)
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Result("checkov", False, f"checkov: did not run (exit {done.returncode})", done.stdout + done.stderr)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed: list[str] = []
    for report in reports if isinstance(reports, list) else [reports]:
        results = report.get("results", {})
        for kind in counts:
            counts[kind] += len(results.get(f"{kind}_checks", []))
        failed += [
            f"{c['check_id']} {c['resource']} ({Path(c['file_path']).name}): {c['check_name']}"
            for c in results.get("failed_checks", [])
        ]
    summary = f"checkov: 2 templates, {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    ok = done.returncode == 0 and not failed
    return Result("checkov", ok, summary, "\n".join(failed) or done.stderr)


def role_policies(template: dict[str, Any], stage: str = "prod") -> dict[tuple[str, str], dict[str, Any]]:
    """(role logical id, policy name) -> the inline policy document, resolved in the placeholder account."""
    resolver = PlaceholderResolver(template, stage)
    found = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found[(name, policy["PolicyName"])] = resolver.resolve(policy["PolicyDocument"])
    return found


def parliament_findings(template: dict[str, Any]) -> list[tuple[str, Any]]:
    """(role logical id, finding) for every parliament finding at or above the minimum severity."""
    from parliament import analyze_policy_string, enhance_finding  # noqa: PLC0415 - only this check needs it
    from parliament.cli import is_finding_filtered  # noqa: PLC0415

    found = []
    for (role, _policy), document in role_policies(template).items():
        analyzed = analyze_policy_string(json.dumps(document), include_community_auditors=True)
        for raw in analyzed.findings:
            finding = enhance_finding(raw)  # severity and title from parliament's config
            if not is_finding_filtered(finding, PARLIAMENT_MINIMUM_SEVERITY):
                found.append((role, finding))
    return found


def check_parliament(template: dict[str, Any] | None = None) -> Result:
    template = template if template is not None else json.loads(TEMPLATE.read_text())
    findings = parliament_findings(template)
    new = [(role, f) for role, f in findings if (role, f.issue) not in PARLIAMENT_ALLOWED]
    policies = len(role_policies(template))
    allowed = len(findings) - len(new)
    summary = f"parliament: {policies} role policies, {len(new)} findings, {allowed} allowed"
    details = "\n".join(f"{role}: {f.issue} ({f.severity}) {f.title}: {f.detail}" for role, f in new)
    return Result("parliament", not new, summary, details)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sam", type=Path, help="the sam.json that `chalice package` wrote")
    parser.add_argument("--only", choices=["cfn-lint", "asl-validator", "checkov", "parliament"], action="append")
    parser.add_argument("--policies", action="store_true", help="print the resolved role policies and stop")
    args = parser.parse_args(argv)
    if args.policies:
        policies = role_policies(json.loads(TEMPLATE.read_text()))
        print(json.dumps({f"{role}/{name}": doc for (role, name), doc in policies.items()}, indent=2))
        return 0
    checks: dict[str, Callable[[], Result]] = {
        "cfn-lint": lambda: check_cfn_lint(args.sam),
        "asl-validator": check_asl,
        "checkov": lambda: check_checkov(args.sam),
        "parliament": check_parliament,
    }
    wanted = args.only or list(checks)
    if args.sam is None and {"cfn-lint", "checkov"} & set(wanted):
        parser.error("--sam is needed for cfn-lint and checkov")
    failed = 0
    for name in wanted:
        started = time.monotonic()
        result = checks[name]()
        if result.details.strip() and (not result.ok or name == "cfn-lint"):
            print(result.details.strip())
        print(f"{result.summary} [{'ok' if result.ok else 'FAILED'}, {time.monotonic() - started:.1f} s]")
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
