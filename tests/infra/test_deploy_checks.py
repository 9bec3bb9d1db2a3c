"""The deploy checks of ``make package`` (infra/check_deploy.py): their pins, parliament on the
role policies, and checkov's inline skips, each with its reason, on the resources chalice
generates (infra/chalice-merge.json) and on infra/template.json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from chalice.utils import to_cfn_resource_name

from tests.conftest import ROOT
from tests.infra.cfn import check_deploy, load_template

MERGE = json.loads((ROOT / "infra" / "chalice-merge.json").read_text())
CHALICE_CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
PROD_FUNCTIONS = CHALICE_CONFIG["stages"]["prod"]["lambda_functions"]
# What every function chalice packages fails, and why it is skipped, not fixed (infra/chalice-merge.json).
EVERY_FUNCTION = {"CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}


def checkov_skips(resource: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["comment"] for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}


def test_the_merge_template_adds_only_checkov_skips_to_chalices_own_logical_ids() -> None:
    functions = {to_cfn_resource_name(name) for name in PROD_FUNCTIONS}
    assert set(MERGE["Resources"]) == functions | {f"{f}LogGroup" for f in functions}
    assert set(MERGE) == {"Metadata", "Resources"}
    for name, resource in MERGE["Resources"].items():
        assert set(resource) == {"Metadata"}, name
        assert set(resource["Metadata"]) == {"checkov"}, name


def test_each_function_skips_the_checks_chalice_deploy_cannot_satisfy_and_reserved_concurrency_only_without_it() -> (
    None
):
    for name, config in PROD_FUNCTIONS.items():
        skipped = set(checkov_skips(MERGE["Resources"][to_cfn_resource_name(name)]))
        reserves = "reserved_concurrency" in config
        assert skipped == EVERY_FUNCTION | (set() if reserves else {"CKV_AWS_115"}), name
        assert set(checkov_skips(MERGE["Resources"][f"{to_cfn_resource_name(name)}LogGroup"])) == {"CKV_AWS_158"}


@pytest.mark.parametrize("document", ["infra/chalice-merge.json", "infra/template.json"])
def test_every_checkov_skip_names_a_check_and_gives_its_reason(document: str) -> None:
    resources = json.loads((ROOT / document).read_text())["Resources"]
    for name, resource in resources.items():
        for check, comment in checkov_skips(resource).items():
            assert re.fullmatch(r"CKV_AWS_\d+", check), name
            assert len(comment) >= 60, f"{name} {check}: a reason, not a label"


def test_the_dead_letter_reasons_say_how_each_function_is_invoked() -> None:
    def reason(function: str) -> str:
        return checkov_skips(MERGE["Resources"][function])["CKV_AWS_116"]

    assert "synchronously" in reason("Turn")
    assert "event source mapping" in reason("Segments") and "event source mapping" in reason("ContactRecords")
    for task in ("HandoverPrepare", "HandoverWait", "HandoverCallback"):
        assert "state machine" in reason(task), task


def test_parliament_finds_nothing_in_the_role_policies_and_nothing_is_allowed_without_a_reason() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "check_deploy.py"), "--only", "parliament"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^parliament: \d+ role policies, 0 findings", done.stdout, re.MULTILINE), done.stdout
    for (role, issue), why in check_deploy.PARLIAMENT_ALLOWED.items():
        assert role in load_template()["Resources"] and issue and len(why) >= 40


def test_parliament_reads_every_inline_policy_of_every_role_fully_resolved() -> None:
    template = load_template()
    policies = check_deploy.role_policies(template)
    roles = {name for name, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert {role for role, _ in policies} == roles
    text = json.dumps(list(policies.values()))
    assert not re.search(r"Fn::|\"Ref\"|\$\{", text)  # every intrinsic function resolved
    assert "arn:aws:kms:us-east-1:000000000000:key/" in text


def test_the_tools_are_pinned() -> None:
    package = json.loads((ROOT / "tools" / "package.json").read_text())
    lock = json.loads((ROOT / "tools" / "package-lock.json").read_text())
    version = package["dependencies"]["asl-validator"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert lock["packages"]["node_modules/asl-validator"]["version"] == version
    checkov = (ROOT / "tools" / "requirements-checkov.txt").read_text().splitlines()
    pins = [line for line in checkov if line and not line.startswith("#")]
    assert "checkov==3.3.30" in pins
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", line) for line in pins), "every line an exact pin"
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert any(re.fullmatch(r"parliament==[\d.]+", line) for line in dev)
