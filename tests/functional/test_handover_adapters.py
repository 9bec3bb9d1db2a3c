"""The Step Functions and Connect adapters against botocore's Stubber and moto, and the task
handlers' error names against the state machine's Retry and Catch."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib import errors
from chalicelib.adapters.connect_contact_attributes import ConnectContactAttributes
from chalicelib.adapters.stepfunctions_handover import StepFunctionsHandoverWorkflow
from chalicelib.domain.handover import CALLER_NUMBER_TOKEN, HandoverRequest
from tests.conftest import ROOT

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:switchboard-dev-handover"
REQUEST = HandoverRequest("c-1", 4, "caller_asked", "GeneralSupport", callback_ref=CALLER_NUMBER_TOKEN)
ASL = json.loads((ROOT / "infra" / "handover.asl.json").read_text())


def client(service: str) -> Any:
    return boto3.session.Session(region_name="us-east-1").client(service)


def test_the_same_handover_started_twice_is_one_execution_and_a_reuse_counts_as_started() -> None:
    from moto import mock_aws

    with mock_aws():
        sfn = client("stepfunctions")
        iam = client("iam")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        arn = sfn.create_state_machine(name="switchboard-dev-handover", definition=definition, roleArn=role)[
            "stateMachineArn"
        ]
        workflow = StepFunctionsHandoverWorkflow(sfn, arn)
        first = workflow.start(REQUEST)
        second = workflow.start(REQUEST)  # same name and input while running: the same execution
        reused = workflow.start(HandoverRequest("c-1", 4, "repeated_failure", "GeneralSupport"))  # other input
        assert (first.execution, first.already_started) == ("c-1-4", False)
        assert second.execution == "c-1-4"
        assert reused.already_started  # ExecutionAlreadyExists: started before
        assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["c-1-4"]


def test_the_start_input_is_sorted_json_and_errors_are_mapped() -> None:
    sfn = client("stepfunctions")
    workflow = StepFunctionsHandoverWorkflow(sfn, ARN)
    with Stubber(sfn) as stub:
        expected = {"stateMachineArn": ARN, "name": "c-1-4",
                    "input": json.dumps(REQUEST.as_input(), sort_keys=True, separators=(",", ":"))}  # fmt: skip
        stub.add_response("start_execution", {"executionArn": ARN + ":c-1-4", "startDate": 0}, expected)
        stub.add_client_error("start_execution", "ExecutionAlreadyExists")
        stub.add_client_error("start_execution", "ThrottlingException", http_status_code=400)
        stub.add_client_error("start_execution", "StateMachineDoesNotExist")
        assert not workflow.start(REQUEST).already_started
        assert workflow.start(REQUEST).already_started
        with pytest.raises(errors.HandoverWorkflowUnavailableError):
            workflow.start(REQUEST)
        with pytest.raises(errors.HandoverWorkflowMissingError):
            workflow.start(REQUEST)


def test_resume_sends_task_success_and_a_closed_task_is_not_an_error() -> None:
    sfn = client("stepfunctions")
    workflow = StepFunctionsHandoverWorkflow(sfn, ARN)
    with Stubber(sfn) as stub:
        stub.add_response("send_task_success", {}, {"taskToken": "t-1", "output": '{"agent": "a"}'})
        stub.add_client_error("send_task_success", "TaskTimedOut")
        stub.add_client_error("send_task_success", "ServiceUnavailable", http_status_code=503)
        assert workflow.resume("t-1", {"agent": "a"}) is True
        assert workflow.resume("t-1", {"agent": "a"}) is False
        with pytest.raises(errors.HandoverWorkflowUnavailableError):
            workflow.resume("t-1", {"agent": "a"})


def test_contact_attributes_go_to_the_initial_contact_of_the_instance() -> None:
    connect = client("connect")
    attributes = ConnectContactAttributes(connect, "instance-1")
    with Stubber(connect) as stub:
        wanted = {"InstanceId": "instance-1", "InitialContactId": "c-1", "Attributes": {"handover_summary": "s"}}
        stub.add_response("update_contact_attributes", {}, wanted)
        stub.add_client_error("update_contact_attributes", "ThrottlingException", http_status_code=429)
        stub.add_client_error("update_contact_attributes", "ResourceNotFoundException", http_status_code=404)
        attributes.update("c-1", {"handover_summary": "s"})
        with pytest.raises(errors.ContactAttributesUnavailableError):
            attributes.update("c-1", {"handover_summary": "s"})
        with pytest.raises(errors.ContactAttributesRejectedError):
            attributes.update("c-1", {"handover_summary": "s"})


def asl_error_names() -> set[str]:
    names: set[str] = set()
    for state in ASL["States"].values():
        for rule in (*state.get("Retry", []), *state.get("Catch", [])):
            names.update(rule["ErrorEquals"])
    return names


def test_every_error_name_in_the_state_machine_is_a_python_error_or_a_service_one() -> None:
    for name in asl_error_names():
        if name.startswith(("States.", "Lambda.")):
            continue
        error = getattr(errors, name, None)
        assert isinstance(error, type) and issubclass(error, errors.AppError), name


def test_retried_errors_are_the_retryable_ones() -> None:
    for state in ASL["States"].values():
        for rule in state.get("Retry", []):
            for name in rule["ErrorEquals"]:
                if not name.startswith("Lambda."):
                    assert getattr(errors, name).retryable, name
        for rule in state.get("Catch", [])[:-1]:  # the last one catches everything left
            for name in rule["ErrorEquals"]:
                if name != "States.Timeout":
                    assert not getattr(errors, name).retryable, name


@pytest.mark.parametrize(
    ("function", "event", "error"),
    [
        ("handover_prepare", {"contact_id": "nobody", "seq": 1, "reason": "caller_asked", "queue": "Q"},
         "HandoverSessionMissingError"),
        ("handover_prepare", {"contact_id": "c-1"}, "HandoverInputMalformedError"),
        ("handover_callback", {"contact_id": "nobody", "seq": 1, "reason": "caller_asked", "queue": "Q"},
         "HandoverSessionMissingError"),
        ("handover_wait", {"contact_id": "nobody", "execution": "nobody-1", "task_token": "t"},
         "HandoverSessionMissingError"),
    ],
)  # fmt: skip
def test_the_task_handlers_fail_with_the_names_the_state_machine_catches(
    moto_dynamodb: Any, function: str, event: dict[str, Any], error: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalice.local import LambdaContext

    import app as app_module
    from chalicelib import bootstrap

    monkeypatch.setenv("SWITCHBOARD_CONNECT_INSTANCE_ID", "11111111-2222-4333-8444-555555555555")
    bootstrap.reset()

    handler = app_module.app.handler_map[function]
    with pytest.raises(errors.AppError) as raised:
        handler(event, LambdaContext(function, memory_size=512))
    assert type(raised.value).__name__ == error
    assert error in asl_error_names()


def test_the_callback_steps_input_carries_a_vault_token_never_a_number() -> None:
    from chalicelib.adapters.handover_events import parse_task_input

    event = {"contact_id": "c-1", "seq": 4, "reason": "caller_asked", "queue": "Q"}
    assert parse_task_input({**event, "callback_ref": CALLER_NUMBER_TOKEN}).callback_ref == CALLER_NUMBER_TOKEN
    assert parse_task_input(REQUEST.as_input()) == REQUEST
    assert "callback_number" not in REQUEST.as_input()
    with pytest.raises(errors.HandoverInputMalformedError, match="callback_ref"):
        parse_task_input({**event, "callback_ref": "+15555550100"})
    # An execution started before the vault (its input named the number): no number, a voicemail.
    assert parse_task_input({**event, "callback_number": "+15555550100"}).callback_ref is None
