"""Parsing Lex V2 code hook events and rendering Lex V2 responses."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.adapters.lex_events import (
    MAX_MESSAGE_CHARS,
    LexCodeHookEvent,
    LexContentType,
    LexContext,
    lex_context,
    parse_lex_turn,
    render_lex_answer,
)
from chalicelib.domain.conversation import Action, Reply, Source, SpeechPart
from chalicelib.errors import EventMalformedError, ResponseTooLargeError
from tests.conftest import load_json

FROM_CONNECT = "lex/lex-v2-codehook-input.from-connect.json"


def sample() -> dict[str, Any]:
    return copy.deepcopy(load_json(FROM_CONNECT))


def test_developer_guide_schema_sample_parses() -> None:
    parsed = LexCodeHookEvent.model_validate(load_json("lex/lex-v2-codehook-input.developer-guide.json"))
    assert parsed.messageVersion == "1.0"


def test_connect_sample_is_a_turn_of_the_contact() -> None:
    request = parse_lex_turn(sample())
    assert request.contact_id == "5b7e2c4a-0f3e-4c1d-9a55-2d7c1f0e8a11"
    assert (request.seq, request.source, request.channel) == (3, Source.LEX, "VOICE")
    assert request.utterance == "uh yeah I'd like to talk to an agent please"
    assert request.language == "en_US"


def test_contact_id_attribute_from_the_flow_wins_over_the_session_id() -> None:
    event = sample()
    event["sessionState"]["sessionAttributes"]["contact_id"] = "contact-from-flow"
    assert parse_lex_turn(event).contact_id == "contact-from-flow"


def test_first_turn_without_session_attributes_is_sequence_one() -> None:
    event = sample()
    event["sessionState"]["sessionAttributes"] = None
    assert parse_lex_turn(event).seq == 1


def test_unknown_enum_values_and_fields_are_tolerated() -> None:
    event = sample()
    event.update(inputMode="Telepathy", invocationSource="SomeNewHook", newTopLevelThing={"a": 1})
    event["interpretations"][0]["intent"]["state"] = "SomethingNew"
    assert parse_lex_turn(event).channel == "CHAT"


def test_missing_session_id_is_malformed() -> None:
    event = sample()
    del event["sessionId"]
    with pytest.raises(EventMalformedError, match="sessionId"):
        parse_lex_turn(event)


def test_speak_keeps_listening_with_elicit_intent() -> None:
    reply = Reply(Action.SPEAK, (SpeechPart("How can I help?"),), "greeting")
    answer = render_lex_answer(reply, 4, LexContext({"customerTier": "gold"}, "FallbackIntent"), end_timeout_ms=600)
    assert answer == {
        "sessionState": {
            "sessionAttributes": {
                "customerTier": "gold",
                "action": "speak",
                "turn": "4",
                "intent": "greeting",
                "tier": "0",
                "x-amz-lex:audio:end-timeout-ms:*:*": "600",
            },
            "dialogAction": {"type": "ElicitIntent"},
        },
        "messages": [{"contentType": "SSML", "content": "<speak>How can I help?</speak>"}],
    }


@pytest.mark.parametrize("action", [Action.HANDOVER, Action.END])
def test_handover_and_end_close_the_intent_as_fulfilled(action: Action) -> None:
    reply = Reply(action, (SpeechPart("Bye"),), "x", 0, (), "Billing")
    state = render_lex_answer(reply, 2, LexContext(intent_name="FallbackIntent"), end_timeout_ms=600)["sessionState"]
    assert state["dialogAction"] == {"type": "Close"}
    assert state["intent"] == {"name": "FallbackIntent", "state": "Fulfilled"}
    assert state["sessionAttributes"]["action"] == action.value
    assert ("queue" in state["sessionAttributes"]) is (action is Action.HANDOVER)


def test_message_over_lex_limit_is_refused() -> None:
    reply = Reply(Action.SPEAK, (SpeechPart("x" * MAX_MESSAGE_CHARS),), "long")
    with pytest.raises(ResponseTooLargeError):
        render_lex_answer(reply, 2, LexContext(), end_timeout_ms=600)


def test_context_is_read_leniently_from_a_broken_event() -> None:
    broken = {"sessionState": {"sessionAttributes": {"turn": "2", "bad": 5}, "intent": "nope"}, "inputMode": 7}
    assert lex_context(broken) == LexContext({"turn": "2"}, None, LexContentType.SSML)


def test_response_sample_has_the_fields_we_render() -> None:
    published = load_json("lex/lex-v2-codehook-response.developer-guide.json")
    rendered = render_lex_answer(
        Reply(Action.END, (SpeechPart("Bye"),), "goodbye"), 2, LexContext(intent_name="Fallback"), end_timeout_ms=600
    )
    assert set(rendered) <= set(published)
    assert set(rendered["sessionState"]) <= set(published["sessionState"])


@pytest.mark.parametrize(
    ("input_mode", "request_attributes", "expected"),
    [
        ("Speech", {}, LexContentType.SSML),
        ("DTMF", {}, LexContentType.SSML),
        ("Text", {}, LexContentType.PLAIN_TEXT),
        ("text", {}, LexContentType.PLAIN_TEXT),
        ("Speech", {"x-amz-lex:accept-content-types": "PlainText"}, LexContentType.PLAIN_TEXT),
        ("Text", {"x-amz-lex:accept-content-types": "SSML"}, LexContentType.SSML),
        ("Text", {"x-amz-lex:accept-content-types": "PlainText,SSML"}, LexContentType.PLAIN_TEXT),
        ("Speech", {"x-amz-lex:accept-content-types": "plaintext, ssml"}, LexContentType.SSML),
        ("Speech", {"x-amz-lex:accept-content-types": "CustomPayload"}, LexContentType.PLAIN_TEXT),
        (None, {"x-amz-lex:channel-type": "Twilio-SMS"}, LexContentType.PLAIN_TEXT),
        ("Text", {"x-amz-lex:channel-type": "Slack"}, LexContentType.PLAIN_TEXT),
    ],
)
def test_the_answer_takes_the_content_type_the_channel_accepts(
    input_mode: str | None, request_attributes: dict[str, str], expected: LexContentType
) -> None:
    event = {**sample(), "inputMode": input_mode, "requestAttributes": request_attributes}
    assert lex_context(event).content_type is expected


def test_a_text_channel_reads_the_reply_as_plain_text_and_is_a_chat() -> None:
    event = {**sample(), "inputMode": "Text"}
    reply = Reply(Action.SPEAK, (SpeechPart("I heard "), SpeechPart("4471", say_as="digits"), SpeechPart(" & more")),
                  "account_digits")  # fmt: skip
    answer = render_lex_answer(reply, 4, lex_context(event), end_timeout_ms=400)
    assert answer["messages"] == [{"contentType": "PlainText", "content": "I heard 4471 & more"}]
    assert parse_lex_turn(event).channel == "CHAT"
