"""The handover state machine executed on the embedded AWS (moto's Step Functions interpreter),
its tasks run in process by the Chalice handlers: outside business hours straight to the
callback, and a failing task ends the execution with the Python error's name."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.calls import connect_event
from sim.harness import SIM_HANDOVER_FILE, Harness

pytestmark = pytest.mark.embedded_aws


@pytest.fixture(scope="module")
def closed_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Agents never in: every handover goes to the callback at once."""
    policy = json.loads(SIM_HANDOVER_FILE.read_text())
    policy["business_hours"] = {"utc_offset_minutes": 0, "days": [0], "opens": "00:00", "closes": "00:00"}
    path: Path = tmp_path_factory.mktemp("handover") / "closed.json"
    path.write_text(json.dumps(policy))
    with Harness(handover_file=path) as harness:
        yield harness


def finished(harness: Harness, name: str) -> dict[str, Any]:
    sfn = harness.stepfunctions()
    arn = harness.state_machines["HandoverStateMachine"].replace(":stateMachine:", ":execution:") + ":" + name
    for _ in range(200):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"{name} still running")


def test_outside_business_hours_the_callback_is_booked_at_once(closed_harness: Harness) -> None:
    event = connect_event("closed-1", "agent please", None, caller_number="+15555550142")
    answer = closed_harness.invoke("turn", event)
    assert answer["action"] == "handover"
    execution = finished(closed_harness, "closed-1-1")
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["prepared"]["within_hours"] is False and "agent" not in output
    assert output["callback"]["status"] == "callback_booked"
    assert closed_harness.tool_servers.backend.calls_by_tool.get("book_callback") == 1
    # a redelivery of the turn starts nothing new
    assert closed_harness.invoke("turn", event) == answer
    names = [e["name"] for e in closed_harness.stepfunctions().list_executions(
        stateMachineArn=closed_harness.state_machines["HandoverStateMachine"])["executions"]]  # fmt: skip
    assert names.count("closed-1-1") == 1


def test_a_task_error_ends_the_execution_with_the_python_error_name(closed_harness: Harness) -> None:
    sfn = closed_harness.stepfunctions()
    request = {"contact_id": "nobody", "seq": 1, "reason": "caller_asked", "queue": "GeneralSupport",
               "wait_seconds": 3, "heartbeat_seconds": 2}  # fmt: skip
    sfn.start_execution(
        stateMachineArn=closed_harness.state_machines["HandoverStateMachine"],
        name="nobody-1",
        input=json.dumps(request),
    )
    execution = finished(closed_harness, "nobody-1")
    assert execution["status"] == "FAILED"
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    failed = [e for e in history if e["type"] == "ExecutionFailed"]
    assert failed[-1]["executionFailedEventDetails"]["error"] == "HandoverSessionMissingError"
    task_failures = [e["lambdaFunctionFailedEventDetails"]["error"] for e in history
                     if "lambdaFunctionFailedEventDetails" in e]  # fmt: skip
    assert task_failures == ["HandoverSessionMissingError"]  # permanent: caught, not retried
