"""Kinesis records of Contact Lens real-time segments and of contact records (CTR), parsed
with pydantic into the domain's types. Unknown fields are ignored; a record that is not one
of these (not JSON, an unknown schema version or event type, no ContactId) is a named,
permanent error, so the batch skips it instead of retrying it forever."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.adapters.validation import error_locations
from chalicelib.domain.contact_analysis import Segment, SegmentKind
from chalicelib.domain.contact_outcome import ContactRecordFacts
from chalicelib.errors import EventMalformedError, EventTypeUnknownError

SEGMENT_VERSIONS = frozenset({"1.0.0"})
SEGMENT_EVENT_TYPES = frozenset({"STARTED", "SEGMENTS", "COMPLETED", "FAILED"})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Transcript(_Lenient):
    Id: str
    ParticipantRole: str = ""
    Content: str = ""
    BeginOffsetMillis: int = Field(default=0, ge=0)
    EndOffsetMillis: int = Field(default=0, ge=0)
    Sentiment: str | None = None


class _Utterance(_Lenient):
    Id: str
    ParticipantRole: str = ""
    PartialContent: str = ""
    BeginOffsetMillis: int = Field(default=0, ge=0)
    EndOffsetMillis: int = Field(default=0, ge=0)


class _Categories(_Lenient):
    MatchedCategories: list[str] = Field(default_factory=list)


class _Summary(_Lenient):
    Content: str | None = None
    Status: str | None = None


class _SegmentItem(_Lenient):
    Transcript: _Transcript | None = None
    Utterance: _Utterance | None = None
    Categories: _Categories | None = None
    PostContactSummary: _Summary | None = None


class ContactLensEvent(_Lenient):
    Version: str
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
    try:
        event = ContactLensEvent.model_validate(raw)
    except ValidationError as exc:
        raise EventMalformedError(f"segment record invalid at {error_locations(exc)}") from exc
    if event.Version not in SEGMENT_VERSIONS:
        raise EventTypeUnknownError(f"Contact Lens schema version {event.Version[:20]!r} is not handled")
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


class _Agent(_Lenient):
    ConnectedToAgentTimestamp: str | None = None


class _Queue(_Lenient):
    EnqueueTimestamp: str | None = None


class ContactTraceRecord(_Lenient):
    ContactId: str = Field(min_length=1)
    LastUpdateTimestamp: str
    InitiationTimestamp: str
    DisconnectTimestamp: str | None = None
    DisconnectReason: str | None = None
    Agent: _Agent | None = None
    Queue: _Queue | None = None
    Attributes: dict[str, str] | None = None


def parse_contact_record(data: bytes) -> ContactRecordFacts:
    """The facts of one contact record (CTR) on the Kinesis stream.

    Raises:
        EventMalformedError: not JSON, not a contact record, or a timestamp that does not parse.
    """
    raw = _json(data)
    try:
        record = ContactTraceRecord.model_validate(raw)
        return ContactRecordFacts(
            contact_id=record.ContactId,
            last_update_ms=_epoch_ms(record.LastUpdateTimestamp),
            initiated_ms=_epoch_ms(record.InitiationTimestamp),
            disconnected_ms=_epoch_ms(record.DisconnectTimestamp) if record.DisconnectTimestamp else None,
            disconnect_reason=record.DisconnectReason or "",
            agent_connected=bool(record.Agent and record.Agent.ConnectedToAgentTimestamp),
            queued=bool(record.Queue and record.Queue.EnqueueTimestamp),
            attributes=tuple(sorted((record.Attributes or {}).items())),
        )
    except ValidationError as exc:
        raise EventMalformedError(f"contact record invalid at {error_locations(exc)}") from exc
    except ValueError as exc:
        raise EventMalformedError("contact record has a timestamp that does not parse") from exc


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventMalformedError("stream record is not JSON") from exc
