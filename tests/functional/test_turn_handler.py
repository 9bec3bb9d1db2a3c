"""The ``turn`` Lambda through Chalice's test client, on DynamoDB (moto)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb_store import contact_pk
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.dialogue import DialoguePolicy
from chalicelib.usecases.handle_turn import HandleTurn
from sim.calls import connect_event
from tests.conftest import load_json
from tests.languages import EN

TABLE = "switchboard-dev-sessions"


def items(ddb: Any, contact: str) -> list[dict[str, Any]]:
    return ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": contact_pk(contact)}},
    )["Items"]


def count_requests(client: Any) -> list[str]:
    """Every HTTP request the app's DynamoDB client sends, by operation."""
    sent: list[str] = []
    client.meta.events.register(
        "before-send.dynamodb",
        lambda request, **_: sent.append(request.headers["X-Amz-Target"].decode().split(".")[-1]),
    )
    return sent


def test_a_call_advances_the_turn_and_ends(lambda_client: Any, moto_dynamodb: Any) -> None:
    first = lambda_client.lambda_.invoke("turn", connect_event("c-1", "hi", None)).payload
    assert (first["action"], first["turn"]) == ("speak", "2")
    assert first["prompt"].startswith("<speak>") and first["prompt"].endswith("</speak>")
    second = lambda_client.lambda_.invoke("turn", connect_event("c-1", "ok bye", first["turn"])).payload
    assert (second["action"], second["turn"]) == ("end", "3")
    assert sorted(i["sk"]["S"] for i in items(moto_dynamodb, "c-1")) == ["SESSION", "TURN#000001", "TURN#000002"]


def test_agent_request_answers_handover_with_a_queue(lambda_client: Any) -> None:
    answer = lambda_client.lambda_.invoke("turn", connect_event("c-2", "agent!", None)).payload
    assert answer["action"] == "handover" and answer["queue"]


def test_new_turn_costs_two_requests_and_a_duplicate_one(lambda_client: Any) -> None:
    lambda_client.lambda_.invoke("turn", connect_event("c-3", "hello", None))  # builds the client
    sent = count_requests(bootstrap.container().dynamodb_client)
    event = connect_event("c-3", "my account is 4 4 7 1", "2")
    first = lambda_client.lambda_.invoke("turn", event).payload
    assert sent == ["GetItem", "TransactWriteItems"]
    sent.clear()
    retried = lambda_client.lambda_.invoke("turn", event).payload
    assert sent == ["GetItem"]
    assert retried == first


def test_concurrent_duplicates_in_separate_containers_store_one_turn_and_answer_alike(
    lambda_client: Any, moto_dynamodb: Any
) -> None:
    """Connect's retry can run in another Lambda container while the first is still working:
    each has its own client and use case; all read before any writes (the worst case)."""
    from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore
    from chalicelib.adapters.turn_events import read_turn_event
    from chalicelib.settings import get_settings
    from tests.fakes import BarrierSessionStore

    lambda_client.lambda_.invoke("turn", connect_event("c-4", "hello", None))
    event = connect_event("c-4", "my account is 5 5 1 2 0 9", "2")
    parties = 4
    containers = [bootstrap.Container(get_settings()) for _ in range(parties)]
    barrier = threading.Barrier(parties, timeout=10)
    results: list[Any] = []
    lock = threading.Lock()

    def deliver(container: bootstrap.Container) -> None:
        store = BarrierSessionStore(DynamoDbSessionStore(container.dynamodb_client, TABLE, 3600), barrier)
        handle = HandleTurn(store, container.clock, DialoguePolicy(), container.envelope, words=EN)
        # A generous deadline: what is tested is that one commits and the others answer from it,
        # not how fast four in-process writers get through moto on a loaded machine.
        deadline = Deadline(started_at_ms=container.clock.monotonic_ms(), hard_ms=20_000)
        result = handle(read_turn_event(event).request_within(2000), deadline)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=deliver, args=(c,)) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == parties
    assert len({r.reply for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    session = next(i for i in items(moto_dynamodb, "c-4") if i["sk"]["S"] == "SESSION")
    assert session["version"]["N"] == "2"
    retried = lambda_client.lambda_.invoke("turn", event).payload
    assert retried["intent"] == "account_digits" and retried["turn"] == "3"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ("not an object", "EventMalformedError"),
        (
            {"Name": "ContactFlowEvent", "Details": {"ContactData": {}, "Parameters": {"utterance": "hi"}}},
            "EventMalformedError",
        ),
        ({"Name": "ScheduledEvent", "Details": {}}, "EventTypeUnknownError"),
        ("empty", "UtteranceEmptyError"),
        ("100kb", "UtteranceTooLongError"),
    ],
)
def test_bad_input_gets_a_safe_answer_a_named_error_and_no_state(
    lambda_client: Any, moto_dynamodb: Any, caplog: pytest.LogCaptureFixture, event: Any, error: str
) -> None:
    if event == "empty":
        event = connect_event("c-bad", "   ", "3")
    elif event == "100kb":
        event = connect_event("c-bad", "blah " * 20_480, "3")
    answer = lambda_client.lambda_.invoke("turn", event).payload
    assert answer["action"] == "speak" and "<speak>" in answer["prompt"]
    assert answer["turn"] == (
        "3"
        if isinstance(event, dict) and "Details" in event and event["Details"].get("ContactData", {}).get("Attributes")
        else "1"
    )
    assert items(moto_dynamodb, "c-bad") == []
    assert [getattr(r, "error", None) for r in caplog.records] == [error]
    assert "blah blah" not in caplog.text + str([r.__dict__ for r in caplog.records])


def test_store_failure_gets_a_safe_answer_that_keeps_the_sequence(
    lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    lambda_client.lambda_.invoke("turn", connect_event("c-5", "hello", None))

    def unreachable(**_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(bootstrap.container().dynamodb_client, "get_item", unreachable)
    answer = lambda_client.lambda_.invoke("turn", connect_event("c-5", "my account is 4 4 7 1", "2")).payload
    assert (answer["action"], answer["turn"], answer["intent"]) == ("speak", "2", "fallback")


def test_lex_event_gets_a_lex_answer(lambda_client: Any) -> None:
    event = load_json("lex/lex-v2-codehook-input.from-connect.json")
    event["sessionState"]["sessionAttributes"] = {"turn": "3", "customerTier": "gold"}
    answer = lambda_client.lambda_.invoke("turn", event).payload
    state = answer["sessionState"]
    assert state["dialogAction"]["type"] == "Close"  # the sample asks for an agent
    assert state["sessionAttributes"] == {
        **state["sessionAttributes"],
        "action": "handover",
        "turn": "4",
        "customerTier": "gold",
    }
    assert answer["messages"][0]["contentType"] == "SSML"


def test_version_race_on_dynamodb_rereads_and_keeps_both_changes(lambda_client: Any, moto_dynamodb: Any) -> None:
    """Another writer (say, the segments consumer) bumps the session between the turn's read
    and its write: the turn's write is refused, it re-reads and re-applies, nothing is lost."""
    from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore
    from chalicelib.adapters.session_codec import session_to_json
    from chalicelib.adapters.turn_events import read_turn_event
    from tests.fakes import RecordingSessionStore

    lambda_client.lambda_.invoke("turn", connect_event("c-6", "my account is 4 4 7 1 9", None))
    services = bootstrap.container()
    store = RecordingSessionStore(DynamoDbSessionStore(services.dynamodb_client, TABLE, 3600))

    def other_writer() -> None:
        current = store.inner.load("c-6", services.clock.now_ms())
        assert current is not None
        bumped = replace(current, channel="VOICE-RECORDED-BY-OTHER-WRITER")
        moto_dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": contact_pk("c-6")}, "sk": {"S": "SESSION"}},
            UpdateExpression="SET version = :v, #s = :state",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":v": {"N": str(current.version + 1)},
                ":state": {"S": session_to_json(bumped)},
            },
        )

    store.before_commit = other_writer
    handle = HandleTurn(store, services.clock, DialoguePolicy(), services.envelope, words=EN)
    result = handle(
        read_turn_event(connect_event("c-6", "yes", "2")).request_within(2000), services.turn_deadline(None)
    )
    assert store.calls == ["load", "commit_turn", "load", "commit_turn"]
    final = store.inner.load("c-6", services.clock.now_ms())
    assert final is not None
    assert (final.version, final.account_number, final.channel) == (3, "44719", "VOICE-RECORDED-BY-OTHER-WRITER")
    assert result.attempts == 2


@pytest.mark.parametrize(
    "text_channel",
    [{"inputMode": "Text"}, {"requestAttributes": {"x-amz-lex:accept-content-types": "PlainText"}},
     {"inputMode": "Text", "requestAttributes": {"x-amz-lex:channel-type": "Twilio-SMS"}}],
    ids=["text_input", "accepts_plain_text", "sms_channel"],
)  # fmt: skip
def test_a_lex_text_channel_gets_plain_text_also_in_the_fallback(lambda_client: Any, text_channel: Any) -> None:
    event = {**load_json("lex/lex-v2-codehook-input.from-connect.json"), **text_channel}
    event["inputTranscript"] = "hello"
    answer = lambda_client.lambda_.invoke("turn", event).payload
    assert answer["messages"] == [{"contentType": "PlainText", "content": answer["messages"][0]["content"]}]
    assert "<speak>" not in answer["messages"][0]["content"]
    del event["sessionId"]  # malformed: the safe answer, in the channel's format all the same
    fallback = lambda_client.lambda_.invoke("turn", event).payload
    assert fallback["messages"][0]["contentType"] == "PlainText"
    assert fallback["sessionState"]["sessionAttributes"]["turn"] == "3"
