"""Parsing Amazon Connect ContactFlowEvents and rendering STRING_MAP answers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from chalicelib.adapters.connect_events import (
    MAX_RESPONSE_BYTES,
    ContactChannel,
    ContactFlowEvent,
    ContactInitiationMethod,
    parse_connect_turn,
    render_connect_answer,
)
from chalicelib.domain.conversation import Action, Reply, Source, SpeechPart
from chalicelib.errors import EventMalformedError, EventTypeUnknownError, ResponseTooLargeError
from tests.conftest import load_json

ADMIN_GUIDE = "connect/connect-contact-flow-event.admin-guide.json"
LAMBDA_GUIDE = "connect/connect-contact-flow-event.lambda-guide.json"


def with_turn(event: dict[str, Any], utterance: str = "hello", turn: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["Details"]["Parameters"] = {"utterance": utterance}
    if turn is not None:
        event["Details"]["ContactData"]["Attributes"]["turn"] = turn
    return event


@pytest.mark.parametrize("sample", [ADMIN_GUIDE, LAMBDA_GUIDE])
def test_aws_samples_parse(sample: str) -> None:
    event = load_json(sample)
    parsed = ContactFlowEvent.model_validate(event)
    assert parsed.Details.ContactData.ContactId == "4a573372-1f28-4e26-b97b-XXXXXXXXXXX"
    request = parse_connect_turn(with_turn(event, "hi there", "4"))
    assert (request.contact_id, request.seq, request.utterance, request.source) == (
        "4a573372-1f28-4e26-b97b-XXXXXXXXXXX", 4, "hi there", Source.CONNECT)  # fmt: skip


def test_admin_guide_sample_keeps_its_media_stream_and_placeholder_initiation_method() -> None:
    data = ContactFlowEvent.model_validate(load_json(ADMIN_GUIDE)).Details.ContactData
    assert data.MediaStreams and data.MediaStreams.Customer and data.MediaStreams.Customer.Audio
    assert data.MediaStreams.Customer.Audio.StartFragmentNumber == "100"
    # The published sample holds "INBOUND | OUTBOUND | TRANSFER | CALLBACK", not a value.
    assert data.InitiationMethod is ContactInitiationMethod.UNKNOWN


def test_first_turn_has_no_turn_attribute_and_is_sequence_one() -> None:
    assert parse_connect_turn(with_turn(load_json(LAMBDA_GUIDE))).seq == 1


@pytest.mark.parametrize("field", ["CustomerEndpoint", "Queue", "SystemEndpoint", "MediaStreams", "Attributes"])
def test_nullable_fields_may_be_null(field: str) -> None:
    event = with_turn(load_json(ADMIN_GUIDE))
    event["Details"]["ContactData"][field] = None
    assert parse_connect_turn(event).contact_id


def test_media_stream_fields_may_be_null() -> None:
    event = with_turn(load_json(ADMIN_GUIDE))
    event["Details"]["ContactData"]["MediaStreams"]["Customer"]["Audio"] = {
        "StreamARN": None, "StartTimestamp": None, "StopTimestamp": None, "StartFragmentNumber": None}  # fmt: skip
    assert parse_connect_turn(event).contact_id


@pytest.mark.parametrize(
    ("channel", "method", "expected_channel"),
    [("TASK", "QUEUE_TRANSFER", "TASK"), ("EMAIL", "API", "EMAIL"), ("HOLOGRAM", "TELEPATHY", "UNKNOWN")],
)
def test_unknown_and_newer_enum_values_are_tolerated(channel: str, method: str, expected_channel: str) -> None:
    event = with_turn(load_json(ADMIN_GUIDE))
    event["Details"]["ContactData"].update(Channel=channel, InitiationMethod=method)
    assert parse_connect_turn(event).channel == expected_channel
    assert ContactChannel(expected_channel)


def test_unknown_fields_are_ignored() -> None:
    event = with_turn(load_json(LAMBDA_GUIDE))
    event["Details"]["ContactData"]["SegmentAttributes"] = {"connect:Subtype": {"ValueString": "connect:Telephony"}}
    event["Details"]["SomethingNew"] = [1, 2, 3]
    assert parse_connect_turn(event).utterance == "hello"


def test_missing_contact_id_is_malformed() -> None:
    event = with_turn(load_json(LAMBDA_GUIDE))
    del event["Details"]["ContactData"]["ContactId"]
    with pytest.raises(EventMalformedError, match="ContactId"):
        parse_connect_turn(event)


def test_other_event_names_are_unknown_types() -> None:
    event = with_turn(load_json(LAMBDA_GUIDE))
    event["Name"] = "SomethingElseEvent"
    with pytest.raises(EventTypeUnknownError):
        parse_connect_turn(event)


@pytest.mark.parametrize("turn", ["abc", "0", "-2", "1.5"])
def test_turn_attribute_must_be_a_positive_integer(turn: str) -> None:
    with pytest.raises(EventMalformedError):
        parse_connect_turn(with_turn(load_json(LAMBDA_GUIDE), turn=turn))


def test_wrong_types_are_malformed_and_the_error_names_no_values() -> None:
    event = with_turn(load_json(LAMBDA_GUIDE), utterance="my secret 4471")
    event["Details"]["Parameters"]["utterance"] = {"not": "a string 4471"}
    with pytest.raises(EventMalformedError) as caught:
        parse_connect_turn(event)
    assert "4471" not in str(caught.value)


def test_answer_is_a_flat_map_of_strings_like_the_published_sample() -> None:
    sample = load_json("connect/connect-lambda-response.string-map.json")
    assert all(isinstance(v, str) for v in sample.values())
    reply = Reply(Action.HANDOVER, (SpeechPart("One moment & thanks"),), "agent", 0, (), "Billing")
    answer = render_connect_answer(reply, 5, end_timeout_ms=600)
    assert answer == {
        "action": "handover",
        "prompt": "<speak>One moment &amp; thanks</speak>",
        "turn": "5",
        "intent": "agent",
        "tier": "0",
        "end_timeout_ms": "600",
        "queue": "Billing",
    }
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items())


def test_answer_over_32_kb_is_refused() -> None:
    reply = Reply(Action.SPEAK, (SpeechPart("x" * (MAX_RESPONSE_BYTES + 1)),), "long")
    with pytest.raises(ResponseTooLargeError):
        render_connect_answer(reply, 2, end_timeout_ms=600)
    small = render_connect_answer(Reply(Action.SPEAK, (SpeechPart("ok"),), "short"), 2, end_timeout_ms=600)
    assert len(json.dumps(small).encode()) < MAX_RESPONSE_BYTES


@pytest.mark.parametrize(
    ("channel", "method", "expected"),
    [("Voice", "Inbound", ("VOICE", ContactInitiationMethod.INBOUND)),
     ("chat", "api", ("CHAT", ContactInitiationMethod.API)),
     (" VOICE ", "queue_transfer", ("VOICE", ContactInitiationMethod.QUEUE_TRANSFER))],
)  # fmt: skip
def test_enum_values_are_matched_whatever_their_case(
    channel: str, method: str, expected: tuple[str, ContactInitiationMethod]
) -> None:
    event = with_turn(load_json(ADMIN_GUIDE))
    event["Details"]["ContactData"].update(Channel=channel, InitiationMethod=method)
    data = ContactFlowEvent.model_validate(event).Details.ContactData
    assert (parse_connect_turn(event).channel, data.InitiationMethod) == expected
