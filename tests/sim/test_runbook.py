"""The deploy runbook (``docs/deploying.md``) run offline, on the embedded AWS: the stack created
through CloudFormation, the model key stored, the stage configuration written by
``infra/stage_config.py`` from the stack's outputs, the functions packaged by ``chalice package``
— and every name and ARN the packaged functions are configured with exists there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sim.deployment import APP_NAME, deploy
from sim.embedded_aws import EmbeddedAws
from tests.conftest import ROOT

FUNCTIONS = sorted(json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["prod"]["lambda_functions"])


def package(config: Path, stage: str, workdir: Path) -> dict[str, Any]:
    """``chalice package --stage STAGE`` of the project with ``config`` as its configuration.
    Offline: the copy's requirements.txt is empty, so chalice downloads no wheels (the packaged
    dependencies are not what is checked here; ``make package`` builds them)."""
    project = workdir / "project"
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "app.py", project / "app.py")
    (project / ".chalice").mkdir()
    shutil.copy(config, project / ".chalice" / "config.json")
    (project / "requirements.txt").write_text("")
    out = workdir / "packaged"
    chalice = Path(sys.executable).with_name("chalice")
    done = subprocess.run(
        [str(chalice), "package", "--stage", stage, str(out)],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(workdir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((out / "sam.json").read_text())  # type: ignore[no-any-return]


class Existence:
    """Whether a name or ARN a function is configured with exists on the embedded AWS."""

    def __init__(self, session: Any, endpoint_url: str) -> None:
        self._client = lambda service: session.client(service, endpoint_url=endpoint_url)

    def variable(self, name: str, value: str) -> bool:
        if name == "SWITCHBOARD_TABLE_NAME":
            return bool(self._client("dynamodb").describe_table(TableName=value)["Table"])
        if name == "SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN":
            return bool(self._client("stepfunctions").describe_state_machine(stateMachineArn=value))
        if name == "SWITCHBOARD_MODEL_SECRET_ARN":  # step 3 stored the key in it
            return bool(self._client("secretsmanager").get_secret_value(SecretId=value)["SecretString"])
        if name == "SWITCHBOARD_REDACTION_KEY_SECRET_ARN":  # the stack generated its value
            return len(self._client("secretsmanager").get_secret_value(SecretId=value)["SecretString"]) == 64
        if name == "SWITCHBOARD_SESSION_KEY_ARN":  # the vault makes its data keys under it
            # (not DescribeKey: moto keeps a CloudFormation key's policy as an object and fails it)
            return len(self._client("kms").generate_data_key(KeyId=value, KeySpec="AES_256")["Plaintext"]) == 32
        if name == "SWITCHBOARD_CONNECT_INSTANCE_ID":
            return bool(self._client("connect").describe_instance(InstanceId=value)["Instance"])
        if name == "SWITCHBOARD_TRANSCRIBER_FUNCTION_NAME":
            return bool(self._client("lambda").get_function(FunctionName=value))
        if name == "SWITCHBOARD_AWS_REGION":
            return value == "us-east-1"
        raise AssertionError(f"{name}={value}: a configured name or ARN this test does not know how to check")

    def role(self, arn: str) -> bool:
        return bool(self._client("iam").get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]["Arn"] == arn)


def names_and_arns(environment: dict[str, str]) -> dict[str, str]:
    """The variables whose values name an AWS resource (everything else is a switch, a number, a
    log setting or a URL of the back office)."""
    named = {"SWITCHBOARD_TABLE_NAME", "SWITCHBOARD_TRANSCRIBER_FUNCTION_NAME", "SWITCHBOARD_CONNECT_INSTANCE_ID",
             "SWITCHBOARD_AWS_REGION"}  # fmt: skip
    return {k: v for k, v in environment.items() if k in named or v.startswith("arn:")}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_runbook_offline_configures_every_function_with_what_the_stack_made(stage: str, tmp_path: Path) -> None:
    with EmbeddedAws() as aws:
        session = aws.boto_session()
        deployment = deploy(session, aws.endpoint_url, stage, FUNCTIONS, tmp_path / "sim")
        # Step 4 as the runbook runs it: describe-stacks' outputs into stage_config.py.
        outputs = tmp_path / "stack-outputs.json"
        outputs.write_text(json.dumps([{"OutputKey": k, "OutputValue": v} for k, v in deployment.outputs.items()]))
        config = tmp_path / "config.json"
        shutil.copy(ROOT / ".chalice" / "config.json", config)
        done = subprocess.run(
            [sys.executable, str(ROOT / "infra" / "stage_config.py"), "--stage", stage, "--outputs", str(outputs),
             "--config", str(config)], capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert deployment.chalice_config_path is not None
        assert json.loads(config.read_text()) == json.loads(deployment.chalice_config_path.read_text())
        sam = package(config, stage, tmp_path)
        exists = Existence(session, aws.endpoint_url)
        functions = {r["Properties"]["Handler"].split(".", 1)[1]: r["Properties"] for r in sam["Resources"].values()
                     if r["Type"] == "AWS::Serverless::Function"}  # fmt: skip
        assert sorted(functions) == FUNCTIONS
        for name, props in functions.items():
            packaged = deployment.function(name)
            # What the simulator runs each function with is what chalice packages.
            assert props["Environment"]["Variables"] == packaged.environment, name
            assert (props["MemorySize"], props["Timeout"], props["Role"]) == (
                packaged.memory_mb, packaged.timeout_s, packaged.role_arn,
            ), name  # fmt: skip
            assert exists.role(props["Role"]), props["Role"]
            for variable, value in names_and_arns(props["Environment"]["Variables"]).items():
                assert exists.variable(variable, value), f"{name}: {variable}={value}"
        # Step 5 again with ConsumersDeployed=true: the consumers' mappings and Lex's permission.
        lambdas = session.client("lambda", endpoint_url=aws.endpoint_url)
        mappings = lambdas.list_event_source_mappings()["EventSourceMappings"]
        mapped = {m["FunctionArn"].rsplit(":", 1)[-1] for m in mappings}
        assert mapped == {f"{APP_NAME}-{stage}-segments", f"{APP_NAME}-{stage}-contact_records"}
        assert deployment.outputs["LexBotAliasArn"].startswith("arn:aws:lex:")
