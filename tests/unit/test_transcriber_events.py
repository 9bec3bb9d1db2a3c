"""The transcriber's invocation event and its continuation, and the continuation adapter."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.adapters.lambda_continuation import LambdaContinuation
from chalicelib.adapters.transcriber_events import MAX_RETRIES, parse_transcriber_event
from chalicelib.domain.speech import MediaPosition
from chalicelib.errors import TranscriberContinuationFailedError, TranscriberInvocationMalformedError
from chalicelib.usecases.transcribe_call import TranscriptionOutcome
from tests.conftest import load_json

SAMPLE = load_json("kvs/kvs-transcriber-invocation.realtime-transcription-sample.json")


def test_the_connect_sample_parses() -> None:
    invocation = parse_transcriber_event(SAMPLE)
    assert invocation.contact_id == SAMPLE["connectContactId"]
    assert invocation.start == MediaPosition(SAMPLE["startFragmentNum"])
    assert invocation.language_code == "en-US"
    assert invocation.transcription_enabled


def flow_event(parameters: dict[str, str]) -> dict[str, Any]:
    """Connect's ContactFlowEvent from the flow's asynchronous Invoke Lambda block, after media
    streaming started (AWS's published sample, with the contact's media stream)."""
    event: dict[str, Any] = load_json("connect/connect-contact-flow-event.admin-guide.json")
    contact = event["Details"]["ContactData"]
    contact["ContactId"] = "c-flow"
    contact["LanguageCode"] = "en-US"
    contact["MediaStreams"] = {"Customer": {"Audio": {
        "StreamARN": "arn:aws:kinesisvideo:us-east-1:123456789012:stream/switchboard-dev-connect-c-flow/1",
        "StartFragmentNumber": "91343852333181432392682062607743920146264440551", "StartTimestamp": "1571360125131",
    }}}  # fmt: skip
    event["Details"]["Parameters"] = parameters
    return event


def test_the_flows_invocation_parses_from_its_parameters_and_the_contact() -> None:
    invocation = parse_transcriber_event(flow_event({"transcriptionEnabled": "true", "languageCode": "es-US"}))
    assert invocation.contact_id == "c-flow"
    assert invocation.stream_arn.endswith("switchboard-dev-connect-c-flow/1")
    assert invocation.start == MediaPosition("91343852333181432392682062607743920146264440551")
    assert invocation.language_code == "es-US"  # the block's parameter wins over the contact's
    assert invocation.transcription_enabled is True


def test_the_flows_invocation_without_media_is_a_named_error() -> None:
    event = flow_event({})
    del event["Details"]["ContactData"]["MediaStreams"]
    with pytest.raises(TranscriberInvocationMalformedError, match="streamARN"):
        parse_transcriber_event(event)


def test_a_continuation_resumes_at_its_position() -> None:
    invocation = parse_transcriber_event({**SAMPLE, "position": {"fragment_number": "917", "timecode_ms": 4200}})
    assert invocation.start == MediaPosition("917", 4200)


@pytest.mark.parametrize(
    "event",
    [None, [], {}, {**SAMPLE, "streamARN": "arn:aws:s3:::bucket"}, {**SAMPLE, "position": {"timecode_ms": 1}}],
    ids=["none", "list", "empty", "not-kvs", "position-without-fragment"],
)
def test_a_malformed_event_is_a_named_error_without_its_values(event: Any) -> None:
    with pytest.raises(TranscriberInvocationMalformedError) as raised:
        parse_transcriber_event(event)
    assert "arn:aws:s3" not in str(raised.value)


def test_continue_carries_the_checkpoint_and_resets_the_attempts() -> None:
    invocation = parse_transcriber_event({**SAMPLE, "attempt": 3})
    follow_up = invocation.next_event(TranscriptionOutcome("continue", MediaPosition("917", 4200)))
    assert follow_up is not None
    assert follow_up["position"] == {"fragment_number": "917", "timecode_ms": 4200}
    assert follow_up["attempt"] == 0
    assert parse_transcriber_event(follow_up).start == MediaPosition("917", 4200)
    assert follow_up["streamARN"] == SAMPLE["streamARN"]


def test_a_continuation_that_got_nowhere_counts_as_a_retry_and_the_chain_ends() -> None:
    """A function timeout under ``stop_before_ms`` makes every run continue at once from where it
    started: without the count, the transcriber would re-invoke itself for ever."""
    event: dict[str, Any] | None = dict(SAMPLE)
    invocations = 0
    while event is not None and invocations < 100:
        invocation = parse_transcriber_event(event)
        invocations += 1
        event = invocation.next_event(TranscriptionOutcome("continue", invocation.start))
    assert invocations == MAX_RETRIES + 1


def test_retries_are_counted_and_given_up_after_the_limit() -> None:
    retry = TranscriptionOutcome("retry", MediaPosition("917", 4200))
    assert parse_transcriber_event(SAMPLE).next_event(retry)["attempt"] == 1  # type: ignore[index]
    assert parse_transcriber_event({**SAMPLE, "attempt": MAX_RETRIES}).next_event(retry) is None
    assert parse_transcriber_event(SAMPLE).next_event(TranscriptionOutcome("ended", MediaPosition("9"))) is None


def lambda_client() -> Any:
    return boto3.session.Session().client("lambda", region_name="us-east-1")


def test_the_continuation_is_an_asynchronous_invoke_of_the_function() -> None:
    client = lambda_client()
    event = {"connectContactId": "c-1", "position": {"fragment_number": "9", "timecode_ms": 3}}
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": "switchboard-dev-transcriber",
                "InvocationType": "Event",
                "Payload": json.dumps(event).encode(),
            },
        )
        LambdaContinuation(client)(event, "switchboard-dev-transcriber")
        stub.assert_no_pending_responses()


def test_a_refused_continuation_is_a_named_retryable_error() -> None:
    client = lambda_client()
    with Stubber(client) as stub:
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
        with pytest.raises(TranscriberContinuationFailedError, match="TooManyRequestsException") as raised:
            LambdaContinuation(client, "switchboard-dev-transcriber")({"a": 1})
    assert raised.value.retryable
