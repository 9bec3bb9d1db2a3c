"""``HandoverWorkflow`` on AWS Step Functions (a Standard state machine).

The execution is named after the handover (``{contact_id}-{seq}``), so a retried turn never
starts a second one: Step Functions answers a start with the name and input of a running
execution with that execution, and refuses any other reuse of the name with
``ExecutionAlreadyExists``, which here means "started before".
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.handover import HandoverRequest, WorkflowStart
from chalicelib.errors import HandoverWorkflowMissingError, HandoverWorkflowUnavailableError

# The task is no longer waiting: it timed out, was completed, or the execution ended.
_TASK_CLOSED = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class StepFunctionsHandoverWorkflow:
    """Start and resume the handover state machine through a boto3 ``stepfunctions`` client."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, request: HandoverRequest) -> WorkflowStart:
        name = request.execution_name
        try:
            self._client.start_execution(
                stateMachineArn=self._arn,
                name=name,
                input=json.dumps(request.as_input(), sort_keys=True, separators=(",", ":")),
            )
        except ClientError as exc:
            code = _code(exc)
            if code == "ExecutionAlreadyExists":
                return WorkflowStart(name, already_started=True)
            if code in ("StateMachineDoesNotExist", "InvalidArn", "StateMachineDeleting"):
                raise HandoverWorkflowMissingError(f"StartExecution: {code}") from exc
            raise HandoverWorkflowUnavailableError(f"StartExecution failed: {code}") from exc
        except BotoCoreError as exc:
            raise HandoverWorkflowUnavailableError(f"StartExecution failed: {type(exc).__name__}") from exc
        return WorkflowStart(name, already_started=False)

    def resume(self, task_token: str, output: dict[str, object]) -> bool:
        try:
            self._client.send_task_success(taskToken=task_token, output=json.dumps(output, sort_keys=True))
        except ClientError as exc:
            if _code(exc) in _TASK_CLOSED:
                return False
            raise HandoverWorkflowUnavailableError(f"SendTaskSuccess failed: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise HandoverWorkflowUnavailableError(f"SendTaskSuccess failed: {type(exc).__name__}") from exc
        return True


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))
