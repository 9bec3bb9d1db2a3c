"""The transcriber's invocation event, validated at the boundary, and the event it re-invokes
itself with.

The first invocation comes from the contact flow: its *Invoke AWS Lambda function* block
(asynchronous, after *Start media streaming*) sends Connect's ``ContactFlowEvent``, whose
``Details.Parameters`` carry the names of Amazon Connect's real-time transcription sample
(``streamARN``, ``startFragmentNum``, ``connectContactId``, ``languageCode``, flags as strings);
what the flow leaves out is taken from ``Details.ContactData`` (``MediaStreams.Customer.Audio``,
``ContactId``, ``LanguageCode``). The sample's own trigger sends those names at the top level,
which is accepted too. A continuation is that flat event plus ``position`` (the checkpoint to
resume at) and ``attempt`` (consecutive retries after a failure; a continuation for time resets
it when the run got somewhere: ``next_event``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.adapters.validation import error_locations
from chalicelib.domain.speech import MediaPosition
from chalicelib.errors import AppError, TranscriberInvocationMalformedError
from chalicelib.usecases.transcribe_call import TranscriptionOutcome

# Consecutive retries of a failing stream before the transcriber gives up on the call (the
# turn handler goes on without a live transcript).
MAX_RETRIES = 5


class PositionInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fragment_number: str = Field(min_length=1, max_length=128)
    timecode_ms: int = Field(default=-1, ge=-1)


class TranscriberInvocation(BaseModel):
    """What the transcriber is asked to do (aliases: the trigger's names)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    stream_arn: str = Field(alias="streamARN", min_length=1, max_length=1024, pattern=r"^arn:aws[a-z-]*:kinesisvideo:")
    start_fragment_number: str = Field(alias="startFragmentNum", min_length=1, max_length=128)
    contact_id: str = Field(alias="connectContactId", min_length=1, max_length=256)
    language_code: str | None = Field(default=None, alias="languageCode", max_length=16)
    transcription_enabled: bool = Field(default=True, alias="transcriptionEnabled")
    position: PositionInput | None = None
    attempt: int = Field(default=0, ge=0)

    @property
    def start(self) -> MediaPosition:
        if self.position is not None:
            return MediaPosition(self.position.fragment_number, self.position.timecode_ms)
        return MediaPosition(self.start_fragment_number)

    def next_event(self, outcome: TranscriptionOutcome) -> dict[str, Any] | None:
        """The event to re-invoke with, or None (the stream ended, failed, or kept failing).

        A continuation for time resets ``attempt`` only when the run moved the checkpoint on: one
        that stopped where it started (its invocation had less time left than ``stop_before_ms``
        from the start: a function timeout configured under it) counts as a retry, so a run that
        cannot make progress re-invokes at most ``MAX_RETRIES`` times instead of for ever."""
        progressed = outcome.checkpoint != self.start
        if outcome.outcome == "continue" and progressed:
            attempt = 0
        elif outcome.outcome in ("continue", "retry") and self.attempt < MAX_RETRIES:
            attempt = self.attempt + 1
        else:
            return None
        position = {
            "fragment_number": outcome.checkpoint.fragment_number,
            "timecode_ms": outcome.checkpoint.timecode_ms,
        }
        return {
            **self.model_dump(by_alias=True, exclude={"position", "attempt"}),
            "position": position,
            "attempt": attempt,
        }


def _from_contact_flow(event: dict[str, Any]) -> dict[str, Any]:
    """The flat invocation from Connect's ``ContactFlowEvent``: the block's parameters, and the
    contact's own data for what they leave out."""
    details = event.get("Details")
    if not isinstance(details, dict):
        return event
    parameters = details.get("Parameters") if isinstance(details.get("Parameters"), dict) else {}
    contact = details.get("ContactData") if isinstance(details.get("ContactData"), dict) else {}
    streams = contact.get("MediaStreams") if isinstance(contact.get("MediaStreams"), dict) else {}
    customer = streams.get("Customer") if isinstance(streams.get("Customer"), dict) else {}
    audio = customer.get("Audio") if isinstance(customer.get("Audio"), dict) else {}
    known = {
        "streamARN": audio.get("StreamARN"),
        "startFragmentNum": audio.get("StartFragmentNumber"),
        "connectContactId": contact.get("ContactId"),
        "languageCode": contact.get("LanguageCode"),
    }
    given = {k: v for k, v in parameters.items() if v not in (None, "")}
    return {**{k: v for k, v in known.items() if v not in (None, "")}, **given}


def parse_transcriber_event(event: Any) -> TranscriberInvocation:
    """The invocation, or ``TranscriberInvocationMalformedError`` naming where it is wrong."""
    try:
        return TranscriberInvocation.model_validate(_from_contact_flow(event) if isinstance(event, dict) else event)
    except ValidationError as exc:
        raise TranscriberInvocationMalformedError(f"transcriber event invalid at {error_locations(exc)}") from exc


def rejected_answer(exc: AppError) -> dict[str, Any]:
    """The answer to an event that cannot be processed (retrying it would not help)."""
    return {"status": "rejected", "error": type(exc).__name__}
