"""Amazon Connect "Invoke AWS Lambda function" events in, STRING_MAP answers out.

The event (``Name: ContactFlowEvent``) is parsed leniently where Connect is lenient: unknown
fields are ignored, ``CustomerEndpoint``/``Queue``/``SystemEndpoint``/``MediaStreams`` may be
null, enum values are matched whatever their case (``"Voice"`` is ``VOICE``), and values we do
not know (a new ``Channel`` or ``InitiationMethod``) are kept as ``UNKNOWN`` instead of failing
the call. It is strict where a wrong value would corrupt state:
``ContactId`` must be there, and the ``turn`` attribute must be a positive integer.

The flow passes the caller's words as the block parameter ``utterance`` (from
``$.Lex.InputTranscript`` or ``$.StoredCustomerInput``) and keeps the ``turn`` we return in a
contact attribute of the same name, which comes back in ``Details.ContactData.Attributes``. The
answer's ``end_timeout_ms`` is the silence Lex should wait for while the caller answers the reply
(``domain/end_of_turn``): the flow's ``speak`` block passes it to Lex as
``x-amz-lex:audio:end-timeout-ms:*:*``.

The call's language: the contact attribute ``switchboard_language`` (set by the flow) wins over
the contact's ``LanguageCode``; either may be absent or odd (``domain/language`` resolves it). The
answer says the language the reply is in and the voice to speak it with, for the flow's "Set
voice" block: ``language`` (``es-US``, Connect's spelling), ``voice`` (the Amazon Polly voice id,
``Lupe``) and ``voice_engine`` (``neural``); the prompt is marked ``<lang xml:lang="es-US">``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from chalicelib.adapters.validation import NULL_AS_EMPTY, Lenient, as_map, error_locations, lenient_enum
from chalicelib.domain.conversation import Action, Reply, Source, TurnRequest
from chalicelib.domain.language import Language, first_locale
from chalicelib.domain.ssml import render_ssml
from chalicelib.errors import EventMalformedError, EventTypeUnknownError, ResponseTooLargeError

# Connect rejects a STRING_MAP answer of 32 KB or more of UTF-8.
MAX_RESPONSE_BYTES = 32 * 1024 - 1
TURN_ATTRIBUTE = "turn"
UTTERANCE_PARAMETER = "utterance"
END_TIMEOUT_FIELD = "end_timeout_ms"
WARMUP_PARAMETER = "warmup"
LANGUAGE_ATTRIBUTE = "switchboard_language"  # the flow's choice of language, in and out
LANGUAGE_FIELD, VOICE_FIELD, VOICE_ENGINE_FIELD = "language", "voice", "voice_engine"


class ContactChannel(StrEnum):
    VOICE = "VOICE"
    CHAT = "CHAT"
    TASK = "TASK"
    EMAIL = "EMAIL"
    UNKNOWN = "UNKNOWN"


class ContactInitiationMethod(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"
    TRANSFER = "TRANSFER"
    QUEUE_TRANSFER = "QUEUE_TRANSFER"
    CALLBACK = "CALLBACK"
    API = "API"
    DISCONNECT = "DISCONNECT"
    MONITOR = "MONITOR"
    EXTERNAL_OUTBOUND = "EXTERNAL_OUTBOUND"
    WEBRTC_API = "WEBRTC_API"
    AGENT_REPLY = "AGENT_REPLY"
    FLOW = "FLOW"
    UNKNOWN = "UNKNOWN"


class ConnectEndpoint(Lenient):
    Address: str | None = None
    Type: str | None = None


class ConnectQueue(Lenient):
    ARN: str | None = None
    Name: str | None = None
    OutboundCallerId: ConnectEndpoint | None = None


class ConnectAudioStream(Lenient):
    StreamARN: str | None = None
    StartTimestamp: str | None = None
    StopTimestamp: str | None = None
    StartFragmentNumber: str | None = None


class ConnectCustomerMedia(Lenient):
    Audio: ConnectAudioStream | None = None


class ConnectMediaStreams(Lenient):
    Customer: ConnectCustomerMedia | None = None


class ConnectContactData(Lenient):
    ContactId: str = Field(min_length=1)
    Attributes: Annotated[dict[str, str], NULL_AS_EMPTY] = Field(default_factory=dict)
    Channel: Annotated[ContactChannel | None, lenient_enum(ContactChannel)] = None
    InitiationMethod: Annotated[ContactInitiationMethod | None, lenient_enum(ContactInitiationMethod)] = None
    InitialContactId: str | None = None
    PreviousContactId: str | None = None
    InstanceARN: str | None = None
    LanguageCode: str | None = None
    CustomerEndpoint: ConnectEndpoint | None = None
    SystemEndpoint: ConnectEndpoint | None = None
    Queue: ConnectQueue | None = None
    MediaStreams: ConnectMediaStreams | None = None


class ConnectDetails(Lenient):
    ContactData: ConnectContactData
    Parameters: Annotated[dict[str, str], NULL_AS_EMPTY] = Field(default_factory=dict)


class ContactFlowEvent(Lenient):
    Name: Literal["ContactFlowEvent"]
    Details: ConnectDetails


@dataclass(frozen=True)
class FlowContext:
    """What the flow's event says about the invocation itself, read leniently (also from an
    event that fails to parse): the call's warm-up (``warmup = "true"``), and the ``turn``
    attribute as sent."""

    warmup: bool
    turn_attribute: str | None


def is_connect_event(event: dict[str, Any]) -> bool:
    return "Details" in event or "Name" in event


def flow_context(event: dict[str, Any]) -> FlowContext:
    details = as_map(event.get("Details"))
    attribute = as_map(as_map(details.get("ContactData")).get("Attributes")).get(TURN_ATTRIBUTE)
    return FlowContext(
        warmup=as_map(details.get("Parameters")).get(WARMUP_PARAMETER) == "true",
        turn_attribute=attribute if isinstance(attribute, str) else None,
    )


def parse_sequence(value: str | None) -> int:
    """The turn sequence from the flow's attribute: absent on the first turn."""
    if value is None or value == "":
        return 1
    if not value.isdigit() or int(value) < 1:
        raise EventMalformedError("the turn attribute is not a positive integer")
    return int(value)


def parse_connect_turn(event: dict[str, Any]) -> TurnRequest:
    """The caller's turn in a Connect ``ContactFlowEvent``.

    Raises:
        EventTypeUnknownError: ``Name`` is not ``ContactFlowEvent``.
        EventMalformedError: required fields are missing or of the wrong type.
    """
    name = event.get("Name")
    if name is not None and name != "ContactFlowEvent":
        raise EventTypeUnknownError(f"Connect event Name {str(name)[:40]!r} is not handled")
    try:
        parsed = ContactFlowEvent.model_validate(event)
    except ValidationError as exc:
        raise EventMalformedError(f"ContactFlowEvent invalid at {error_locations(exc)}") from exc
    data = parsed.Details.ContactData
    return TurnRequest(
        contact_id=data.ContactId,
        seq=parse_sequence(data.Attributes.get(TURN_ATTRIBUTE)),
        utterance=parsed.Details.Parameters.get(UTTERANCE_PARAMETER, ""),
        source=Source.CONNECT,
        channel=(data.Channel or ContactChannel.VOICE).value,
        language=first_locale(data.Attributes.get(LANGUAGE_ATTRIBUTE), data.LanguageCode),
        caller_number=_telephone(data.CustomerEndpoint),
    )


def _telephone(endpoint: ConnectEndpoint | None) -> str | None:
    """The caller's number (E.164) when the endpoint is a telephone number: the handover's
    callback goes there. Never logged."""
    if endpoint is None or not endpoint.Address or endpoint.Type != "TELEPHONE_NUMBER":
        return None
    return endpoint.Address


def render_connect_answer(
    reply: Reply, next_seq: int, *, end_timeout_ms: int, language: Language | None = None
) -> dict[str, str]:
    """The flat string map the flow reads as ``$.External.*``; ``end_timeout_ms`` is Lex's end
    timeout while the caller answers ``reply``; ``language`` the one it is in (``language``,
    ``voice`` and ``voice_engine`` in the answer; None: neither, and the prompt unmarked)."""
    answer = {
        "action": reply.action.value,
        "prompt": render_ssml(reply.speech, language),
        TURN_ATTRIBUTE: str(next_seq),
        "intent": reply.intent,
        "tier": str(reply.tier),
        END_TIMEOUT_FIELD: str(end_timeout_ms),
    }
    if reply.action is Action.HANDOVER and reply.queue:
        answer["queue"] = reply.queue
    if language is not None:
        answer |= {LANGUAGE_FIELD: language.locale, VOICE_FIELD: language.voice, VOICE_ENGINE_FIELD: language.engine}
    if len(json.dumps(answer, ensure_ascii=False).encode("utf-8")) > MAX_RESPONSE_BYTES:
        raise ResponseTooLargeError("answer exceeds Connect's 32 KB STRING_MAP limit")
    return answer
