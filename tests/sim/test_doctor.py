"""``python -m sim doctor``: a stage as packaged is fully wired, and each way of shipping it
half-wired is found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.__main__ import main
from sim.doctor import diagnose
from tests.conftest import ROOT

CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
STREAMING_FLOW = {
    "Version": "2019-10-30",
    "StartAction": "stream",
    "Actions": [
        {"Identifier": "stream", "Type": "UpdateContactMediaStreamingBehavior",
         "Parameters": {"MediaStreamingState": "Enabled", "MediaStreamType": "Audio",
                        "Participants": [{"ParticipantType": "Customer", "MediaDirections": ["From", "To"]}]},
         "Transitions": {}},
    ],
}  # fmt: skip


def config_with(tmp_path: Path, stage: str, **changes: str | None) -> Path:
    """A copy of ``.chalice/config.json`` with the stage's variables changed (None: removed)."""
    config: dict[str, Any] = json.loads(json.dumps(CONFIG))
    variables = config["stages"][stage]["environment_variables"]
    for name, value in changes.items():
        if value is None:
            variables.pop(name, None)
        else:
            variables[name] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def errors(reports: list[Any]) -> list[str]:
    return [f"{r.function}: {e}" for r in reports for e in r.errors]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_shipped_stage_wires_real_adapters_and_sets_every_feature(stage: str, capsys: Any) -> None:
    assert main(["doctor", "--stage", stage, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    turn = next(f for f in report["functions"] if f["function"] == "turn")
    assert turn["adapters"]["handle_turn.store"].endswith("DynamoDbSessionStore")
    assert turn["adapters"]["handle_turn.models.api_key"].endswith("SecretsManagerSecret")
    assert turn["adapters"]["handle_turn.handover"].endswith("StepFunctionsHandoverWorkflow")
    assert turn["adapters"]["handle_turn.tools.vault"].endswith("KmsVault")
    callback = next(f for f in report["functions"] if f["function"] == "handover_callback")
    assert callback["adapters"]["offer_callback.tools.vault"].endswith("KmsVault")
    assert turn["features"]["vault"] == turn["features"]["redaction_key"] == "on"
    prepare = next(f for f in report["functions"] if f["function"] == "handover_prepare")
    assert prepare["adapters"]["prepare_handover.attributes"].endswith("ConnectContactAttributes")
    transcriber = next(f for f in report["functions"] if f["function"] == "transcriber")
    assert transcriber["adapters"]["transcribe_call.speech"].endswith("TranscribeStreamingSpeechToText")


def test_a_stage_without_the_connect_instance_fails_with_a_named_start_up_error(tmp_path: Path) -> None:
    path = config_with(tmp_path, "prod", SWITCHBOARD_CONNECT_INSTANCE_ID=None)
    found = errors(diagnose("prod", path))
    assert "handover_prepare: cannot start: SettingMissingError: SWITCHBOARD_CONNECT_INSTANCE_ID is not set " \
           "(the stack's ConnectInstanceId)" in found  # fmt: skip
    assert any("contact_attributes is silently off" in e for e in found)
    assert main(["doctor", "--stage", "prod", "--config", str(path)]) == 1


@pytest.mark.parametrize(
    ("variable", "finding"),
    [
        ("SWITCHBOARD_TRACING_ENABLED", "tracing is silently off"),
        ("SWITCHBOARD_TOOLS_MCP_URL", "tools_mcp is silently off"),
        ("SWITCHBOARD_MODEL_SECRET_ARN", "model_secret is silently off"),
        ("SWITCHBOARD_HANDOVER_STATE_MACHINE_ARN", "handover_workflow is silently off"),
        ("SWITCHBOARD_SESSION_KEY_ARN", "vault is silently off"),
        ("SWITCHBOARD_REDACTION_KEY_SECRET_ARN", "redaction_key is silently off"),
    ],
)
def test_a_feature_the_stage_does_not_set_is_silently_off(tmp_path: Path, variable: str, finding: str) -> None:
    found = errors(diagnose("dev", config_with(tmp_path, "dev", **{variable: None})))
    assert any(finding in e for e in found), found


def test_speech_off_while_the_flow_streams_media_is_found(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(STREAMING_FLOW))
    path = config_with(tmp_path, "dev", SWITCHBOARD_SPEECH_ENABLED="false")
    assert any("the contact flow streams media but speech is off" in e for e in errors(diagnose("dev", path, flow)))
    assert not errors(diagnose("dev", config_with(tmp_path, "dev"), flow))


def test_an_endpoint_on_loopback_is_a_stand_in(tmp_path: Path) -> None:
    path = config_with(tmp_path, "dev", SWITCHBOARD_MODEL_BASE_URL="http://127.0.0.1:8765/v1")
    assert any("SWITCHBOARD_MODEL_BASE_URL points at loopback" in e for e in errors(diagnose("dev", path)))
