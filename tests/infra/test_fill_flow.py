"""``infra/fill_flow.py``: the checked-in flow's placeholders filled from a stack's outputs and an
instance's queues into a flow ready to import; a missing output or queue is a named error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.scripts import load_script
from tests.conftest import ROOT

fill_flow = load_script("infra/fill_flow.py")
FLOW = json.loads((ROOT / "infra" / "contact-flow.json").read_text())
INSTANCE = "arn:aws:connect:us-east-1:111122223333:instance/5d2e8a10-0000-4000-8000-000000000abc"
QUEUE_NAMES = ("BasicQueue", "GeneralSupport", "AccountServices", "FraudTeam", "Complaints", "Bereavement",
               "GeneralSupportSpanish", "AccountServicesSpanish", "FraudTeamSpanish")  # fmt: skip
# As `aws cloudformation describe-stacks --query 'Stacks[0].Outputs'` and `aws connect list-queues` print them.
FUNCTION = "arn:aws:lambda:us-east-1:111122223333:function:switchboard-prod-"
OUTPUTS = [
    {"OutputKey": "TurnFunctionArn", "OutputValue": f"{FUNCTION}turn"},
    {"OutputKey": "TranscriberFunctionArn", "OutputValue": f"{FUNCTION}transcriber"},
    {
        "OutputKey": "LexBotAliasArn",
        "OutputValue": "arn:aws:lex:us-east-1:111122223333:bot-alias/ABCDEFGHIJ/KLMNOPQRST",
    },
    {"OutputKey": "SessionTableName", "OutputValue": "switchboard-prod-sessions"},
]
QUEUES = {"QueueSummaryList": [{"Id": f"q-{n}", "Arn": f"{INSTANCE}/queue/q-{n}", "Name": name, "QueueType": "STANDARD"}
                               for n, name in enumerate(QUEUE_NAMES)]}  # fmt: skip


def _files(tmp_path: Path, outputs: Any = OUTPUTS, queues: Any = QUEUES) -> tuple[str, str]:
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    (tmp_path / "queues.json").write_text(json.dumps(queues))
    return str(tmp_path / "outputs.json"), str(tmp_path / "queues.json")


def test_the_filled_flow_has_the_stacks_arns_and_each_queue_by_name(tmp_path: Path) -> None:
    outputs, queues = _files(tmp_path)
    out = tmp_path / "flow.json"
    assert fill_flow.main(["--stage", "prod", "--outputs", outputs, "--queues", queues, "--out", str(out)]) == 0
    filled = json.loads(out.read_text())
    text = json.dumps(filled)
    assert "${" not in text
    actions = {a["Identifier"]: a for a in filled["Actions"]}
    assert actions["take-turn"]["Parameters"]["LambdaFunctionARN"] == OUTPUTS[0]["OutputValue"]
    assert actions["start-transcriber"]["Parameters"]["LambdaFunctionARN"] == OUTPUTS[1]["OutputValue"]
    assert actions["greet"]["Parameters"]["LexV2Bot"]["AliasArn"] == OUTPUTS[2]["OutputValue"]
    assert actions["queue-FraudTeam"]["Parameters"]["QueueId"] == f"{INSTANCE}/queue/q-3"
    assert actions["set-default-queue"]["Parameters"]["QueueId"] == f"{INSTANCE}/queue/q-1"  # GeneralSupport
    assert filled["Metadata"]["name"] == "Switchboard (prod)"
    from sim.flow_language import ContactFlow

    ContactFlow.parse(filled)  # a flow a user can import: no placeholder, every rule kept


def test_the_default_out_is_under_out_never_the_checked_in_flow(tmp_path: Path) -> None:
    outputs, queues = _files(tmp_path)
    checked_in = str(ROOT / "infra" / "contact-flow.json")
    before = (ROOT / "infra" / "contact-flow.json").read_text()
    assert fill_flow.main(["--stage", "prod", "--outputs", outputs, "--queues", queues, "--out", checked_in]) == 2
    assert (ROOT / "infra" / "contact-flow.json").read_text() == before
    assert fill_flow.main(["--stage", "prod", "--outputs", outputs, "--queues", queues]) == 0
    assert (ROOT / "out" / "contact-flow.prod.json").exists()


def test_a_missing_output_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs, queues = _files(tmp_path, outputs=[o for o in OUTPUTS if o["OutputKey"] != "LexBotAliasArn"])
    out = tmp_path / "flow.json"
    assert fill_flow.main(["--stage", "prod", "--outputs", outputs, "--queues", queues, "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("FlowOutputMissingError: stack outputs missing: LexBotAliasArn")
    assert not out.exists()


def test_a_missing_queue_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fewer = {"QueueSummaryList": [q for q in QUEUES["QueueSummaryList"] if q["Name"] != "Bereavement"]}
    outputs, queues = _files(tmp_path, queues=fewer)
    assert fill_flow.main(["--stage", "prod", "--outputs", outputs, "--queues", queues, "--out", "x.json"]) == 2
    assert capsys.readouterr().err.startswith("FlowQueueMissingError: queues missing from the instance: Bereavement")


def test_outputs_of_another_stage_are_refused() -> None:
    outputs = fill_flow.outputs_by_key(OUTPUTS)
    with pytest.raises(fill_flow.FlowStageMismatchError):
        fill_flow.fill(FLOW, outputs, fill_flow.queue_arns(QUEUES), stage="dev")


def test_inputs_that_are_not_what_the_aws_cli_prints_are_named() -> None:
    with pytest.raises(fill_flow.FlowInputUnreadableError):
        fill_flow.outputs_by_key([{"Key": "TurnFunctionArn"}])
    with pytest.raises(fill_flow.FlowInputUnreadableError):
        fill_flow.queue_arns({"Queues": []})
    assert fill_flow.outputs_by_key({"Stacks": [{"Outputs": OUTPUTS}]})["LexBotAliasArn"].endswith("KLMNOPQRST")
    with pytest.raises(fill_flow.FlowPlaceholderUnknownError):
        fill_flow.fill({"Actions": [{"x": "${Agent:Bob}"}]}, {}, {})
