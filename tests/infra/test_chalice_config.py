""".chalice/config.json: what chalice resolves per stage and function, and that its
stack-derived values are the ones infra/template.json outputs (infra/stage_config.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chalice.config import Config
from chalice.deploy.validate import validate_configuration

from chalicelib.settings import Settings
from sim.scripts import load_script
from tests.conftest import ROOT
from tests.infra.cfn import Resolver, load_template

CONFIG_PATH = ROOT / ".chalice" / "config.json"
CONFIG = json.loads(CONFIG_PATH.read_text())
STAGES = ("dev", "prod")
CONNECT_SYNC_LIMIT_S = 8


def stage_config_module() -> Any:
    return load_script("infra/stage_config.py")


def resolved(stage: str, function: str = "turn") -> Config:
    """The configuration chalice itself resolves for one function of one stage."""
    return Config(chalice_stage=stage, function_name=function, config_from_disk=CONFIG)


@pytest.mark.parametrize("stage", STAGES)
def test_the_turn_timeout_is_well_under_connects_8_seconds(stage: str) -> None:
    assert resolved(stage).lambda_timeout < CONNECT_SYNC_LIMIT_S
    assert resolved(stage).lambda_timeout == 6


def test_turn_memory_per_stage() -> None:
    assert resolved("dev").lambda_memory_size == 1024
    assert resolved("prod").lambda_memory_size == 1769


@pytest.mark.parametrize("stage", STAGES)
def test_arm64_no_managed_role_xray_off_and_log_retention(stage: str) -> None:
    for function in CONFIG["stages"][stage]["lambda_functions"]:
        config = resolved(stage, function)
        assert config.lambda_architecture == "arm64"
        assert config.manage_iam_role is False
        assert config.iam_role_arn.startswith("arn:aws:iam::")
        assert not config.xray_enabled
        assert config.log_retention_in_days in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365)


@pytest.mark.parametrize("stage", STAGES)
def test_chalice_accepts_the_stage_configuration(stage: str) -> None:
    import app as app_module

    config = Config(
        chalice_stage=stage,
        user_provided_params={"chalice_app": app_module.app, "project_dir": str(ROOT)},
        config_from_disk=CONFIG,
    )
    validate_configuration(config)  # raises on an unknown architecture or a missing role ARN


def test_turn_has_reserved_concurrency_in_prod_only() -> None:
    assert resolved("prod").reserved_concurrency == 100
    assert resolved("dev").reserved_concurrency is None


def test_the_dev_stage_keeps_what_the_tests_and_the_code_rely_on() -> None:
    env = resolved("dev").environment_variables
    assert env["SWITCHBOARD_TABLE_NAME"] == "switchboard-dev-sessions"
    for stage in STAGES:
        for name in resolved(stage).environment_variables:
            assert name.startswith(("SWITCHBOARD_", "POWERTOOLS_")), name
            assert name not in ("SWITCHBOARD_AWS_ENDPOINT_URL", "SWITCHBOARD_MODEL_BASE_URL")
            # No key in the configuration: only the ARN of a secret or of a KMS key that holds one.
            assert "OPENAI" not in name and ("KEY" not in name or name.endswith(("_SECRET_ARN", "_KEY_ARN"))), name


@pytest.mark.parametrize("stage", STAGES)
def test_the_code_reads_the_stage_environment_correctly(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = resolved(stage).environment_variables
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.stage, settings.table_name, settings.aws_region) == (
        stage,
        f"switchboard-{stage}-sessions",
        "us-east-1",
    )
    assert settings.lambda_architecture == resolved(stage).lambda_architecture
    assert settings.aws_endpoint_url is None and settings.model_base_url is None


@pytest.mark.parametrize("stage", STAGES)
def test_the_committed_values_are_the_stack_outputs_in_the_placeholder_account(stage: str) -> None:
    outputs = Resolver(load_template(), stage).outputs()
    module = stage_config_module()
    stage_config = CONFIG["stages"][stage]
    for path, key in module.STAGE_OUTPUTS.items():
        node = stage_config
        for part in path:
            node = node[part]
        assert node == outputs[key], f"{'.'.join(path)} != output {key}"


def test_stage_config_writes_the_real_outputs_for_one_stage(tmp_path: Path) -> None:
    outputs = Resolver(load_template(), "prod").outputs()
    real = {k: v.replace("000000000000", "123456789012").replace("us-east-1", "eu-west-2") for k, v in outputs.items()}
    real["ModelSecretArn"] += "-AbCdEf"
    described = [{"OutputKey": k, "OutputValue": v} for k, v in real.items()]
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(described))
    config_file = tmp_path / "config.json"
    config_file.write_text(CONFIG_PATH.read_text())
    done = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "stage_config.py"), "--stage", "prod", "--outputs", str(outputs_file),
         "--config", str(config_file)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = json.loads(config_file.read_text())
    prod, dev = written["stages"]["prod"], written["stages"]["dev"]
    assert prod["iam_role_arn"] == "arn:aws:iam::123456789012:role/switchboard-prod-turn"
    assert prod["lambda_functions"]["segments"]["iam_role_arn"].endswith(":role/switchboard-prod-stream-consumer")
    assert prod["environment_variables"]["SWITCHBOARD_AWS_REGION"] == "eu-west-2"
    assert prod["environment_variables"]["SWITCHBOARD_MODEL_SECRET_ARN"].endswith("model-api-key-AbCdEf")
    assert prod["lambda_functions"]["turn"]["reserved_concurrency"] == 100  # the rest is untouched
    assert dev == CONFIG["stages"]["dev"]


def test_stage_config_refuses_incomplete_outputs() -> None:
    module = stage_config_module()
    with pytest.raises(KeyError, match="TurnRoleArn"):
        module.apply_outputs(json.loads(CONFIG_PATH.read_text()), "prod", {"Region": "us-east-1"})
