"""The handover workflow's task inputs (what ``infra/handover.asl.json`` passes each Lambda),
validated at the boundary."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.adapters.validation import error_locations
from chalicelib.domain.handover import HandoverRequest
from chalicelib.errors import HandoverInputMalformedError

M = TypeVar("M", bound=BaseModel)


class HandoverTaskInput(BaseModel):
    """The execution's input (``HandoverRequest.as_input``); later states add keys, ignored here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1, max_length=256)
    seq: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=64)
    queue: str = Field(min_length=1, max_length=256)
    topic: str | None = None
    # The vault token of the number to call back ("[CALLER_PHONE]"), never the number.
    callback_ref: str | None = Field(default=None, max_length=64, pattern=r"^\[[A-Z][A-Z0-9_]*\]$")
    wait_seconds: int = Field(default=900, ge=1)
    heartbeat_seconds: int = Field(default=300, ge=1)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}-[A-Z]{2}$")  # the call's ("es-US")

    def request(self) -> HandoverRequest:
        return HandoverRequest(**self.model_dump())


class WaitTaskInput(BaseModel):
    """The wait task's payload: the contact, the execution and the token it waits on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1, max_length=256)
    execution: str = Field(min_length=1, max_length=80)
    task_token: str = Field(min_length=1, max_length=2048)


class AgentConnectedInput(BaseModel):
    """``{"contact_id": …, "agent": …}``; an EventBridge *Amazon Connect Contact Event*
    (``detail.contactId``) is accepted too."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1, max_length=256)
    agent: str = Field(default="", max_length=256)


def parse_task_input(event: Any) -> HandoverRequest:
    return _parse(HandoverTaskInput, event).request()


def parse_wait_input(event: Any) -> WaitTaskInput:
    return _parse(WaitTaskInput, event)


def parse_agent_connected(event: Any) -> AgentConnectedInput:
    if isinstance(event, dict) and isinstance(event.get("detail"), dict) and "contact_id" not in event:
        detail = event["detail"]
        agent = detail.get("agentInfo", {}).get("agentArn", "") if isinstance(detail.get("agentInfo"), dict) else ""
        event = {"contact_id": detail.get("contactId"), "agent": agent}
    return _parse(AgentConnectedInput, event)


def _parse(model: type[M], event: Any) -> M:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise HandoverInputMalformedError(f"{model.__name__} invalid at {error_locations(exc)}") from exc
