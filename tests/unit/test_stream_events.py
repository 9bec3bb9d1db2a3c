"""Parsing the Kinesis records of Contact Lens segments and contact records: the real formats."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.stream_events import parse_contact_record, parse_segment_record
from chalicelib.errors import EventMalformedError, EventTypeUnknownError
from tests.conftest import EVENTS, load_json

CHAT_STARTED = EVENTS / "contact-lens" / "contact-lens-chat-started.json"
CTR = load_json("ctr/connect-contact-record.constructed-from-data-model.json")


def test_a_contact_lens_chat_record_is_an_unknown_schema_version_not_a_malformed_record() -> None:
    with pytest.raises(EventTypeUnknownError, match=r"schema version '2\.0\.0'"):
        parse_segment_record(CHAT_STARTED.read_bytes(), "1")


def test_a_record_without_a_version_is_malformed() -> None:
    record = {k: v for k, v in load_json("contact-lens/contact-lens-voice-started.json").items() if k != "Version"}
    with pytest.raises(EventMalformedError, match="Version"):
        parse_segment_record(json.dumps(record).encode(), "1")


@pytest.mark.parametrize(("channel", "expected"), [("VOICE", "VOICE"), ("Voice", "VOICE"), ("chat", "CHAT"),
                                                   ("HOLOGRAM", "UNKNOWN"), (None, "UNKNOWN")])  # fmt: skip
def test_a_contact_records_channel_is_read_whatever_its_case(channel: str | None, expected: str) -> None:
    facts = parse_contact_record(json.dumps({**CTR, "Channel": channel}).encode())
    assert facts.channel == expected
