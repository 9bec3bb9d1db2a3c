"""Kinesis records of Contact Lens real-time segments and of contact records (CTR), parsed
with pydantic into the domain's types. Unknown fields are ignored and enum values are read
whatever their case; a record that is not one of these (not JSON, an unknown schema version or
event type, no ContactId) is a named, permanent error, so the batch skips it instead of retrying
it forever. The schema version is read first: a record of another version (Contact Lens' chat
analytics write ``Version 2.0.0`` with ``StreamingEventType``) is an unknown version, not a
malformed voice record."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import Field, ValidationError

from chalicelib.adapters.connect_events import ContactChannel, ContactInitiationMethod
from chalicelib.adapters.validation import Lenient, error_locations, lenient_enum
from chalicelib.domain.contact_analysis import Segment, SegmentKind
from chalicelib.domain.contact_outcome import ContactRecordFacts
from chalicelib.errors import EventMalformedError, EventTypeUnknownError

SEGMENT_VERSIONS = frozenset({"1.0.0"})
SEGMENT_EVENT_TYPES = frozenset({"STARTED", "SEGMENTS", "COMPLETED", "FAILED"})
M = TypeVar("M", bound=Lenient)


class _Spoken(Lenient):
    """Who said something and when (offsets from the contact's start)."""

    Id: str
    ParticipantRole: str = ""
    BeginOffsetMillis: int = Field(default=0, ge=0)
    EndOffsetMillis: int = Field(default=0, ge=0)


class _Transcript(_Spoken):
    Content: str = ""
    Sentiment: str | None = None


class _Utterance(_Spoken):
    PartialContent: str = ""


class _Categories(Lenient):
    MatchedCategories: list[str] = Field(default_factory=list)


class _Summary(Lenient):
    Content: str | None = None
    Status: str | None = None


class _SegmentItem(Lenient):
    Transcript: _Transcript | None = None
    Utterance: _Utterance | None = None
    Categories: _Categories | None = None
    PostContactSummary: _Summary | None = None


class _Versioned(Lenient):
    Version: str


class ContactLensEvent(_Versioned):
    ContactId: str = Field(min_length=1)
    EventType: str
    Channel: str | None = None
    Segments: list[_SegmentItem] = Field(default_factory=list)


def parse_segment_record(data: bytes, sequence: str = "") -> tuple[str, str, tuple[Segment, ...]]:
    """(contact id, event type, segments) of one Contact Lens Kinesis record.

    Raises:
        EventMalformedError: not JSON, or not shaped like a segment event.
        EventTypeUnknownError: an unknown schema version or event type.
    """
    raw = _json(data)
    version = _validated(_Versioned, raw, "segment record").Version
    if version not in SEGMENT_VERSIONS:
        raise EventTypeUnknownError(f"Contact Lens schema version {version[:20]!r} is not handled")
    event = _validated(ContactLensEvent, raw, "segment record")
    if event.EventType not in SEGMENT_EVENT_TYPES:
        raise EventTypeUnknownError(f"Contact Lens event type {event.EventType[:20]!r} is not handled")
    segments: list[Segment] = []
    for position, item in enumerate(event.Segments):
        if item.Transcript is not None:
            t = item.Transcript
            segments.append(Segment(SegmentKind.TRANSCRIPT, t.Id, t.ParticipantRole, t.Content, t.BeginOffsetMillis,
                                    t.EndOffsetMillis, t.Sentiment or ""))  # fmt: skip
        elif item.Utterance is not None:
            u = item.Utterance
            segments.append(Segment(SegmentKind.UTTERANCE, u.Id, u.ParticipantRole, u.PartialContent,
                                    u.BeginOffsetMillis, u.EndOffsetMillis))  # fmt: skip
        elif item.Categories is not None:
            # Categories carry no Id: the record's sequence number and position identify them.
            segments.append(Segment(SegmentKind.CATEGORIES, f"categories:{sequence}:{position}",
                                    categories=tuple(item.Categories.MatchedCategories)))  # fmt: skip
        elif item.PostContactSummary is not None and item.PostContactSummary.Content:
            segments.append(Segment(SegmentKind.SUMMARY, f"summary:{event.ContactId}",
                                    content=item.PostContactSummary.Content))  # fmt: skip
    return event.ContactId, event.EventType, tuple(segments)


class _Agent(Lenient):
    ConnectedToAgentTimestamp: str | None = None


class _Queue(Lenient):
    EnqueueTimestamp: str | None = None


class ContactTraceRecord(Lenient):
    ContactId: str = Field(min_length=1)
    LastUpdateTimestamp: str
    InitiationTimestamp: str
    DisconnectTimestamp: str | None = None
    DisconnectReason: str | None = None
    Agent: _Agent | None = None
    Queue: _Queue | None = None
    Attributes: dict[str, str] | None = None
    Channel: Annotated[ContactChannel | None, lenient_enum(ContactChannel)] = None
    InitiationMethod: Annotated[ContactInitiationMethod | None, lenient_enum(ContactInitiationMethod)] = None


def parse_contact_record(data: bytes) -> ContactRecordFacts:
    """The facts of one contact record (CTR) on the Kinesis stream.

    Raises:
        EventMalformedError: not JSON, not a contact record, or a timestamp that does not parse.
    """
    record = _validated(ContactTraceRecord, _json(data), "contact record")
    try:
        return ContactRecordFacts(
            contact_id=record.ContactId,
            last_update_ms=_epoch_ms(record.LastUpdateTimestamp),
            initiated_ms=_epoch_ms(record.InitiationTimestamp),
            disconnected_ms=_epoch_ms(record.DisconnectTimestamp) if record.DisconnectTimestamp else None,
            disconnect_reason=record.DisconnectReason or "",
            agent_connected=bool(record.Agent and record.Agent.ConnectedToAgentTimestamp),
            queued=bool(record.Queue and record.Queue.EnqueueTimestamp),
            attributes=tuple(sorted((record.Attributes or {}).items())),
            channel=(record.Channel or ContactChannel.UNKNOWN).value,
            initiation_method=(record.InitiationMethod or ContactInitiationMethod.UNKNOWN).value,
        )
    except ValueError as exc:
        raise EventMalformedError("contact record has a timestamp that does not parse") from exc


def _validated(model: type[M], raw: Any, what: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise EventMalformedError(f"{what} invalid at {error_locations(exc)}") from exc


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventMalformedError("stream record is not JSON") from exc
