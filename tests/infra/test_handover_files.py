"""infra/handover.asl.json and infra/contact-flow.json: valid JSON, every transition lands on a
state or action that exists, and they name only functions that exist."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import ROOT
from tests.infra.cfn import Resolver, load_template

ASL = json.loads((ROOT / "infra" / "handover.asl.json").read_text())
FLOW = json.loads((ROOT / "infra" / "contact-flow.json").read_text())
CHALICE = json.loads((ROOT / ".chalice" / "config.json").read_text())
FLOW_ACTION_TYPES = {
    "InvokeLambdaFunction", "ConnectParticipantWithLexBot", "UpdateContactAttributes", "Compare",
    "MessageParticipant", "UpdateContactTargetQueue", "TransferContactToQueue", "DisconnectParticipant",
}  # fmt: skip


def app_functions() -> set[str]:
    import app as app_module

    return set(app_module.app.handler_map)


def test_the_state_machine_transitions_land_on_states_that_exist() -> None:
    states = ASL["States"]
    assert ASL["StartAt"] in states
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target}"
        assert state["Type"] in ("Task", "Choice", "Succeed", "Fail")
        if state["Type"] == "Task":
            assert "Next" in state or state.get("End") is True


def test_the_state_machine_names_only_the_apps_handover_functions() -> None:
    text = json.dumps(ASL)
    names = set(re.findall(r"\$\{([^}]+)\}", text))
    machine = load_template()["Resources"]["HandoverStateMachine"]["Properties"]
    assert names == set(machine["DefinitionSubstitutions"])
    resolver = Resolver(load_template(), "dev")
    prefix = f"arn:aws:lambda:us-east-1:000000000000:function:{CHALICE['app_name']}-dev-"
    functions = {resolver.resolve(v).removeprefix(prefix) for v in machine["DefinitionSubstitutions"].values()}
    assert functions == {"handover_prepare", "handover_wait", "handover_callback"}
    assert functions <= app_functions() and functions <= set(CHALICE["stages"]["dev"]["lambda_functions"])
    assert "handover_agent_connected" in app_functions()


def test_the_wait_is_a_callback_task_with_timeouts_from_the_input() -> None:
    wait = ASL["States"]["WaitForAgent"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert (wait["TimeoutSecondsPath"], wait["HeartbeatSecondsPath"]) == ("$.wait_seconds", "$.heartbeat_seconds")
    assert any("States.Timeout" in c["ErrorEquals"] and c["Next"] == "OfferCallback" for c in wait["Catch"])


def flow_actions() -> dict[str, dict[str, Any]]:
    return {a["Identifier"]: a for a in FLOW["Actions"]}


def test_the_contact_flow_is_flow_language_whose_transitions_exist() -> None:
    actions = flow_actions()
    assert FLOW["Version"] == "2019-10-30" and FLOW["StartAction"] in actions
    assert len(actions) == len(FLOW["Actions"])
    for identifier, action in actions.items():
        assert action["Type"] in FLOW_ACTION_TYPES, identifier
        transitions = action["Transitions"]
        targets = [transitions.get("NextAction")] + [e["NextAction"] for e in transitions.get("Errors", [])]
        targets += [c["NextAction"] for c in transitions.get("Conditions", [])]
        for target in filter(None, targets):
            assert target in actions, f"{identifier} -> {target}"
        if action["Type"] != "DisconnectParticipant":
            assert transitions.get("Errors"), f"{identifier} has no error branch"


def test_the_flow_invokes_only_the_turn_function_and_warms_it_up_first() -> None:
    turn_arn = Resolver(load_template(), "dev").outputs()["TurnFunctionArn"]
    invokes = [a for a in FLOW["Actions"] if a["Type"] == "InvokeLambdaFunction"]
    assert {a["Parameters"]["LambdaFunctionARN"] for a in invokes} == {turn_arn}
    assert turn_arn.rsplit("-", 1)[-1] in app_functions()
    first = flow_actions()[FLOW["StartAction"]]
    assert first["Type"] == "InvokeLambdaFunction" and first["Parameters"]["LambdaInvocationAttributes"] == {
        "warmup": "true"
    }
    for action in invokes:
        assert action["Parameters"]["ResponseValidation"] == {"ResponseType": "STRING_MAP"}
        assert 0 < int(action["Parameters"]["InvocationTimeLimitSeconds"]) <= 8


def test_the_flow_follows_the_turn_contract() -> None:
    actions = flow_actions()
    turn = next(a for a in actions.values() if a["Parameters"].get("LambdaInvocationAttributes", {}).get("utterance"))
    keep = actions[turn["Transitions"]["NextAction"]]
    assert keep["Type"] == "UpdateContactAttributes" and keep["Parameters"]["Attributes"] == {"turn": "$.External.turn"}
    branch = actions[keep["Transitions"]["NextAction"]]
    assert branch["Parameters"]["ComparisonValue"] == "$.External.action"
    by_value = {c["Condition"]["Operands"][0]: c["NextAction"] for c in branch["Transitions"]["Conditions"]}
    assert set(by_value) == {"speak", "handover", "end"}
    assert actions[by_value["speak"]]["Transitions"]["NextAction"] == turn["Identifier"]  # the loop
    set_queue = actions[actions[by_value["handover"]]["Transitions"]["NextAction"]]
    assert set_queue["Type"] == "UpdateContactTargetQueue" and set_queue["Parameters"]["QueueId"] == "$.External.queue"
    transfer = actions[set_queue["Transitions"]["NextAction"]]
    assert {e["ErrorType"] for e in transfer["Transitions"]["Errors"]} == {"QueueAtCapacity", "NoMatchingError"}
    assert actions[actions[by_value["end"]]["Transitions"]["NextAction"]]["Type"] == "DisconnectParticipant"
    safe = actions[turn["Transitions"]["Errors"][0]["NextAction"]]  # a Lambda error or timeout
    assert safe["Type"] == "MessageParticipant" and actions[safe["Transitions"]["NextAction"]]["Type"] == (
        "UpdateContactTargetQueue"
    )
