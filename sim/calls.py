"""Recorded calls (``events/calls/*.json``) and the events they become.

A recorded call is what one caller said, turn by turn, with the time each turn arrived and how
it was delivered (Connect retries, the Lex format). Each turn becomes the event Amazon Connect
or Lex V2 would send, built on AWS's published sample in ``events/``, carrying the ``turn``
sequence the flow stored from our previous answer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
CONNECT_SAMPLE = EVENTS / "connect" / "connect-contact-flow-event.admin-guide.json"
LEX_SAMPLE = EVENTS / "lex" / "lex-v2-codehook-input.from-connect.json"


class ModelResponse(BaseModel):
    """What a model answered to this turn in the recorded call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    fault: str | None = None  # a fault the scripted endpoint injects on this turn
    by_tier: dict[str, ModelResponse] = Field(default_factory=dict, description="what another tier answered")
    after_tools: list[ModelResponse] = Field(default_factory=list, description="answers after each round of tools")


class CallTurn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at_ms: int = Field(ge=0, description="when the caller's words reached us, from the call's start")
    caller: str
    connect_retries: int = Field(default=0, ge=0, le=3, description="extra deliveries of the same event")
    model: ModelResponse | None = None
    sentiment: Literal["POSITIVE", "NEUTRAL", "NEGATIVE", "MIXED"] = "NEUTRAL"  # what Contact Lens heard
    barge_in_after_ms: int | None = Field(default=None, ge=0, description="caller spoke this far into the last reply")


class RecordedCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    call: str
    description: str
    format: Literal["connect", "lex"] = "connect"
    contact_id: str
    caller_number: str = "+15555550100"
    expect_outcome: Literal["completed", "handover", "abandoned"] | None = None
    turns: list[CallTurn] = Field(min_length=1)
    # After a handover: an agent takes the call (the workflow is resumed), or none does in time
    # (the wait times out and a callback is booked).
    handover_agent_answers: bool = True


def load_call(path: Path) -> RecordedCall:
    return RecordedCall.model_validate_json(path.read_text())


def model_scripts(calls: list[RecordedCall]) -> dict[str, dict[str, Any]]:
    """The caller's words -> what the model answered, from every call (for the scripted model
    endpoint). The same words scripted twice must have the same answer."""
    scripts: dict[str, dict[str, Any]] = {}
    for call in calls:
        for turn in call.turns:
            if turn.model is None:
                continue
            key = " ".join(turn.caller.lower().split())
            script = turn.model.model_dump(exclude_defaults=True)
            if scripts.get(key, script) != script:
                raise ValueError(f"{call.call}: {turn.caller!r} is scripted differently in another call")
            scripts[key] = script
    return scripts


def call_files(paths: list[str]) -> list[Path]:
    """Expand files and folders into the call files they hold, sorted."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return found


def connect_event(
    contact_id: str, utterance: str, turn_attribute: str | None, caller_number: str = "+15555550100"
) -> dict[str, Any]:
    """The ContactFlowEvent the "Invoke AWS Lambda function" block sends for one turn."""
    event = copy.deepcopy(_sample(CONNECT_SAMPLE))
    data = event["Details"]["ContactData"]
    data["ContactId"] = data["InitialContactId"] = data["PreviousContactId"] = contact_id
    data["InitiationMethod"] = "INBOUND"
    data["CustomerEndpoint"] = {"Address": caller_number, "Type": "TELEPHONE_NUMBER"}
    data["Attributes"] = {} if turn_attribute is None else {"turn": turn_attribute}
    event["Details"]["Parameters"] = {"utterance": utterance}
    return event


def warmup_event(contact_id: str) -> dict[str, Any]:
    """The flow's warm-up invocation at the start of the call (before the greeting)."""
    event = connect_event(contact_id, "", None)
    event["Details"]["Parameters"] = {"warmup": "true"}
    return event


def lex_event(contact_id: str, utterance: str, session_attributes: dict[str, str]) -> dict[str, Any]:
    """The Lex V2 code hook event for one turn; the flow passes the contact id as a session
    attribute, and Lex returns the attributes of our previous answer."""
    event = copy.deepcopy(_sample(LEX_SAMPLE))
    event["sessionId"] = contact_id
    event["inputTranscript"] = event["transcriptions"][0]["transcription"] = utterance
    event["sessionState"]["sessionAttributes"] = {"contact_id": contact_id, **session_attributes}
    return event


_samples: dict[Path, dict[str, Any]] = {}


def _sample(path: Path) -> dict[str, Any]:
    if path not in _samples:
        _samples[path] = json.loads(path.read_text())
    return _samples[path]
