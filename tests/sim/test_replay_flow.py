"""``sim replay`` plays recorded calls through the contact flow a user imports (filled for the
simulated instance) and the real handlers: the flow's blocks decide what happens, so a flow
without its turn attribute block fails the calls it used to complete."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.data_files import load_envelope
from sim.calls import CallTurn, RecordedCall, call_files, load_call, model_scripts
from sim.connect_instance import FLOW, simulated_connect
from sim.harness import Harness
from sim.replay import play_call, replay_call
from tests.conftest import ROOT

pytestmark = pytest.mark.embedded_aws

CALLS = ROOT / "events" / "calls"


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    calls = [load_call(p) for p in call_files([str(CALLS)])]
    with Harness(model_scripts=model_scripts(calls)) as started:
        yield started


def recorded(name: str, fresh: bool = False) -> RecordedCall:
    call = load_call(CALLS / f"{name}.json")
    return call.model_copy(update={"contact_id": str(uuid.uuid4())}) if fresh else call


def without_the_turn_attribute(flow: dict[str, Any]) -> dict[str, Any]:
    """The flow with ``UpdateContactAttributes turn = $.External.turn`` taken out."""
    broken = copy.deepcopy(flow)
    actions = {a["Identifier"]: a for a in broken["Actions"]}
    keep = actions.pop("keep-turn")
    actions["take-turn"]["Transitions"]["NextAction"] = keep["Transitions"]["NextAction"]
    broken["Actions"] = list(actions.values())
    return broken


def test_a_call_reaches_its_outcome_through_the_deployed_flow(harness: Harness) -> None:
    report = replay_call(harness, recorded("02-account-number-correction"), load_envelope(stage=harness.stage))
    assert report["outcome"] == "completed" and report["outcome_as_expected"]
    assert [t["answered_seq"] for t in report["turns"]] == [1, 2, 3, 4, 5]
    assert report["flow"]["turn_path"] == "InvokeLambda" and report["flow"]["ended_by"] == "disconnect"
    assert report["flow"]["contact_lens_real_time"]
    assert report["flow"]["media_streaming"].startswith("NoMatchingError")  # replay has no KVS media


def asked_twice() -> RecordedCall:
    """A caller who did not hear the greeting, twice running: two turns with the same words."""
    words = ["good morning", "sorry, what was that?", "sorry, what was that?", "that's it, have a good day"]
    turns = [CallTurn(at_ms=5000 * n, caller=w) for n, w in enumerate(words)]
    return RecordedCall(call="asked-twice", description="the same question twice", contact_id=str(uuid.uuid4()),
                        expect_outcome="completed", turns=turns)  # fmt: skip


def test_the_turn_attribute_tells_a_repeated_question_from_connects_retry(harness: Harness) -> None:
    envelope = load_envelope(stage=harness.stage)
    deployed = replay_call(harness, (call := asked_twice()), envelope)
    assert [t["answered_seq"] for t in deployed["turns"]] == [1, 2, 3, 4]
    services = harness.services()
    assert len(services.session_store.load_turns(call.contact_id, services.clock.now_ms())) == 4
    flow = simulated_connect(harness).parse(without_the_turn_attribute(json.loads(FLOW.read_text())))
    broken = replay_call(harness, (call := asked_twice()), envelope, flow=flow)
    # Without ``turn = $.External.turn`` every event carries no turn: the second "what was that?"
    # is taken for Connect's retry of the first and answered with its stored reply; it is never
    # stored — the conversation lost a turn the caller spoke.
    assert [t["answered_seq"] for t in broken["turns"]] == [1, 2, 2, 3]
    assert len(services.session_store.load_turns(call.contact_id, services.clock.now_ms())) == 3
    events = [t["seq"] for t in broken["turns"]]
    assert events == [1, 1, 1, 1]  # the sequence the flow sent never moved


def test_a_lex_call_is_handed_over_by_the_code_hook_to_the_workflows_queue(harness: Harness) -> None:
    report = replay_call(harness, recorded("08-lex-cancellation"), load_envelope(stage=harness.stage))
    assert report["outcome"] == "handover" and report["flow"]["turn_path"] == "LexCodeHook"
    assert report["flow"]["transferred"] and report["flow"]["queue"] == report["handover"]["queue"]


def test_the_code_hook_path_never_runs_the_flows_turn_block(harness: Harness) -> None:
    contact = play_call(harness, recorded("04-lex-repeat-and-goodbye", fresh=True))
    assert "take-turn" not in contact.path and contact.path.count("greet") == 1
    assert all(t.via == "lex" for t in contact.turns) and contact.outcome == "completed"
    sent = [t.event["sessionState"]["sessionAttributes"].get("turn") for t in contact.turns]
    assert sent == [None, "2", "3", "4", "5", "6", "7"]  # Lex kept the turn the code hook answered
