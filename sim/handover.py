"""The handover workflow of a replayed call: let an agent answer (or nobody), wait for the
execution to finish on the embedded AWS, and report what the workflow did."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.domain.handover import execution_name
from sim.harness import Harness

POLL_S = 0.05
WAIT_FOR_TASK_S = 10.0
WAIT_FOR_END_S = 20.0


def follow_handover(
    harness: Harness,
    contact_id: str,
    outcome: str,
    agent_answers: bool = True,
    invoke: Callable[[str, Any], Any] | None = None,
) -> dict[str, Any] | None:
    """For a call that ended in a handover: the workflow's ``reason``, ``status`` (the
    execution's), ``summary``, ``queue`` and ``callback``; None for other calls.

    ``agent_answers``: an agent takes the call as soon as the workflow waits for one (the
    ``handover_agent_connected`` function resumes it); otherwise nobody does, and the wait
    times out into the callback. ``invoke`` runs that function (default: in this process).
    """
    if outcome != "handover":
        return None
    sfn = harness.stepfunctions()
    arn = harness.state_machines.get("HandoverStateMachine")
    execution = _execution(sfn, arn, contact_id)
    if execution is None:
        return {"reason": None, "status": "NOT_STARTED", "summary": "", "queue": None, "callback": None}
    if agent_answers and _waits_for_agent(harness, sfn, contact_id, execution):
        (invoke or harness.invoke)("handover_agent_connected", {"contact_id": contact_id, "agent": "sim-agent"})
    status = _finished(sfn, execution)
    session = harness.services().session_store.load(contact_id, harness.services().clock.now_ms())
    state = session.handover if session is not None else None
    return {
        "execution": execution.rsplit(":", 1)[-1],
        "reason": state.reason if state else None,
        "status": status,
        "handover_status": state.status if state else None,
        "summary": state.summary if state else "",
        "queue": state.queue if state else None,
        "callback": state.callback if state else None,
    }


def handover_lines(call: dict[str, Any]) -> list[str]:
    """The handover of one call in ``sim replay``'s text report."""
    handover = call.get("handover")
    if not handover:
        return []
    lines = [
        f"  handover: {handover['status']} ({handover.get('handover_status')}), reason {handover['reason']}, "
        f"queue {handover['queue']}, callback {handover['callback']}"
    ]
    if handover.get("summary"):
        lines.append(f"        summary: {handover['summary']}")
    return lines


def _execution(sfn: Any, arn: str | None, contact_id: str) -> str | None:
    if arn is None:
        return None
    prefix = execution_name(contact_id, 0)[: -len("-0")] + "-"
    found = [e for e in sfn.list_executions(stateMachineArn=arn)["executions"] if e["name"].startswith(prefix)]
    return found[-1]["executionArn"] if found else None


def _waits_for_agent(harness: Harness, sfn: Any, contact_id: str, execution: str) -> bool:
    """True once the wait task stored its token; False if the execution went another way."""
    deadline = time.monotonic() + WAIT_FOR_TASK_S
    services = harness.services()
    while time.monotonic() < deadline:
        session = services.session_store.load(contact_id, services.clock.now_ms())
        if session is not None and session.handover is not None and session.handover.task_token:
            return True
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return False
        time.sleep(POLL_S)
    return False


def _finished(sfn: Any, execution: str) -> str:
    deadline = time.monotonic() + WAIT_FOR_END_S
    while True:
        status = str(sfn.describe_execution(executionArn=execution)["status"])
        if status != "RUNNING" or time.monotonic() > deadline:
            return status
        time.sleep(POLL_S)
