"""The Kinesis consumers through Chalice's test client on DynamoDB (moto), with batches built
on AWS's Kinesis sample and a unique sequence number per record."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb_store import DynamoDbSessionStore
from chalicelib.domain.session import Session
from chalicelib.errors import StoreUnavailableError
from sim.calls import connect_event
from tests.conftest import load_json

SEGMENTS = load_json("contact-lens/contact-lens-voice-segments.json")
CTR = load_json("ctr/connect-contact-record.constructed-from-data-model.json")


def batch(*payloads: object) -> dict[str, Any]:
    """A Kinesis ESM event: one record per payload (bytes as they are, else JSON)."""
    sample = load_json("kinesis/kinesis-stream-lambda-event.json")
    template = sample["Records"][0]
    records = []
    for n, payload in enumerate(payloads):
        record = copy.deepcopy(template)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        record["kinesis"]["data"] = base64.b64encode(data).decode()
        record["kinesis"]["sequenceNumber"] = f"4959033827149025660855969253836157109592157598913658{n:04d}"
        record["eventID"] = f"shardId-000000000006:{record['kinesis']['sequenceNumber']}"
        records.append(record)
    return {"Records": records}


def segments_for(contact: str, *items: dict[str, Any], event_type: str = "SEGMENTS") -> dict[str, Any]:
    return {**SEGMENTS, "ContactId": contact, "EventType": event_type, "Segments": list(items)}


def transcript(
    seg_id: str, role: str, content: str, begin: int, end: int, sentiment: str = "NEUTRAL"
) -> dict[str, Any]:
    return {"Transcript": {"Id": seg_id, "ParticipantId": role, "ParticipantRole": role, "Content": content,
                           "BeginOffsetMillis": begin, "EndOffsetMillis": end, "Sentiment": sentiment}}  # fmt: skip


def session(contact: str) -> Session:
    services = bootstrap.container()
    found = services.session_store.load(contact, services.clock.now_ms())
    assert found is not None
    return found


def test_the_aws_sample_applies_sentiment_categories_and_summary(lambda_client: Any) -> None:
    answer = lambda_client.lambda_.invoke("segments", batch(segments_for("c-s1", *SEGMENTS["Segments"]))).payload
    assert answer == {"batchItemFailures": []}
    s = session("c-s1")
    assert s.caller_sentiments == ("NEGATIVE",)
    assert s.categories == ("CreditCardRelated", "CardBrokenIssue")
    assert s.contact_lens_summary.startswith("Customer contacted Example Corp")


def test_mixed_batch_reports_exactly_the_retryable_failures(
    lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_client.lambda_.invoke("segments", batch(segments_for("c-warm", event_type="STARTED")))
    store = bootstrap.container().session_store
    original = DynamoDbSessionStore.save_session

    def flaky(self: DynamoDbSessionStore, s: Session, now_ms: int) -> Session:
        if s.contact_id == "c-down":
            raise StoreUnavailableError("throttled")
        return original(self, s, now_ms)

    monkeypatch.setattr(DynamoDbSessionStore, "save_session", flaky)
    event = batch(
        segments_for("c-ok", transcript("t1", "CUSTOMER", "hi", 0, 500)),
        b"{truncated json",
        {**segments_for("c-ok", transcript("t2", "CUSTOMER", "x", 600, 900)), "Version": "9.9.9"},
        segments_for("c-down", transcript("t3", "CUSTOMER", "hello", 0, 500)),
        {**segments_for("c-ok", transcript("t4", "CUSTOMER", "y", 1000, 1200)), "EventType": "SOMETHING_NEW"},
    )
    failures = lambda_client.lambda_.invoke("segments", event).payload["batchItemFailures"]
    assert [f["itemIdentifier"] for f in failures] == [event["Records"][3]["kinesis"]["sequenceNumber"]]
    assert store.load("c-ok", 0 + bootstrap.container().clock.now_ms()).seen_segments == ("t1",)  # type: ignore[union-attr]


def test_duplicates_and_reordering_give_the_same_session(lambda_client: Any) -> None:
    items = [transcript(f"t{i}", "CUSTOMER", f"words {i}", i * 1000, i * 1000 + 500, s)
             for i, s in enumerate(["NEUTRAL", "NEGATIVE", "NEGATIVE"])]  # fmt: skip
    in_order = [segments_for("c-a", item) for item in items]
    shuffled = [segments_for("c-b", item) for item in (items[2], items[0], items[2], items[1], items[0])]
    lambda_client.lambda_.invoke("segments", batch(*in_order))
    lambda_client.lambda_.invoke("segments", batch(*shuffled[:2]))
    lambda_client.lambda_.invoke("segments", batch(*shuffled[2:]))
    a, b = session("c-a"), session("c-b")
    assert set(a.seen_segments) == set(b.seen_segments) == {"t0", "t1", "t2"}
    assert a.negative_sentiment and b.negative_sentiment
    assert sorted(a.caller_sentiments) == sorted(b.caller_sentiments)


def test_barge_in_cuts_the_prompt_in_history_to_what_the_caller_heard(lambda_client: Any) -> None:
    lambda_client.lambda_.invoke("turn", connect_event("c-barge", "hello", None))
    prompt = "Hi, thanks for calling. How can I help you today?"  # 10 words, playing 10 000 -> 14 000 ms
    event = batch(segments_for(
        "c-barge",
        transcript("p1", "SYSTEM", prompt, 10_000, 14_000),
        transcript("c1", "CUSTOMER", "yeah I need my balance", 12_000, 13_500),
    ))  # fmt: skip
    lambda_client.lambda_.invoke("segments", event)
    s = session("c-barge")
    assistant = [m for m in s.history if m.role == "assistant"]
    assert assistant[-1].text == "Hi, thanks for calling. How…"  # half the time: 5 of 10 words
    assert s.interrupted_seqs == (1,)
    lambda_client.lambda_.invoke("segments", event)  # redelivered: cut once only
    assert session("c-barge").history == s.history


def test_a_turn_and_a_consumer_writing_the_same_session_lose_nothing(lambda_client: Any) -> None:
    lambda_client.lambda_.invoke("turn", connect_event("c-race", "hello", None))
    store = bootstrap.container().session_store
    original = DynamoDbSessionStore.save_session
    raced = {"done": False}

    def racing(self: DynamoDbSessionStore, s: Session, now_ms: int) -> Session:
        if not raced["done"]:  # a turn commits between the consumer's read and its write
            raced["done"] = True
            lambda_client.lambda_.invoke("turn", connect_event("c-race", "my account is 4 4 7 1 9", "2"))
        return original(self, s, now_ms)

    DynamoDbSessionStore.save_session = racing  # type: ignore[method-assign]
    try:
        lambda_client.lambda_.invoke(
            "segments", batch(segments_for("c-race", transcript("n1", "CUSTOMER", "x", 0, 9, "NEGATIVE")))
        )
    finally:
        DynamoDbSessionStore.save_session = original  # type: ignore[method-assign]
    final = store.load("c-race", bootstrap.container().clock.now_ms())
    assert final is not None and final.last_seq == 2 and final.caller_sentiments == ("NEGATIVE",)


def ctr(contact: str, updated: str, **changes: Any) -> dict[str, Any]:
    return {**CTR, "ContactId": contact, "LastUpdateTimestamp": updated, **changes}


def test_contact_record_closes_the_session_and_an_older_copy_is_ignored(lambda_client: Any) -> None:
    lambda_client.lambda_.invoke("turn", connect_event("c-ctr", "agent please", None))
    lambda_client.lambda_.invoke("contact_records", batch(ctr("c-ctr", "2024-01-01T10:13:05Z")))
    first = session("c-ctr").closed
    assert first is not None and first.outcome == "handover" and first.kpi_neutral_positive
    assert first.duration_s == 720 and float(first.cost_usd) > 0.038 * 12 * 0.99
    older = ctr("c-ctr", "2024-01-01T10:12:59Z", Attributes={"survey_score": "1"})
    lambda_client.lambda_.invoke("contact_records", batch(older, older))
    assert session("c-ctr").closed == first
    newer = ctr("c-ctr", "2024-01-01T10:20:00Z", Attributes={"survey_score": "1"})
    lambda_client.lambda_.invoke("contact_records", batch(newer))
    assert session("c-ctr").closed.kpi_neutral_positive is False  # type: ignore[union-attr]


def test_a_contact_record_of_a_contact_the_bot_never_handled_is_skipped_and_counted(
    lambda_client: Any, moto_dynamodb: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The stream carries every contact of the instance (agent-only, outbound, chat): no session
    is created for them, no write is paid, and the KPI does not count them."""
    sent = []
    client = bootstrap.container().dynamodb_client
    client.meta.events.register("before-send.dynamodb", lambda request, **_: sent.append(request))
    outbound = ctr("c-agent-only", "2024-01-01T10:13:05Z", Channel="Voice", InitiationMethod="OUTBOUND")
    answer = lambda_client.lambda_.invoke("contact_records", batch(outbound)).payload
    assert answer == {"batchItemFailures": []}
    pk = {":pk": {"S": "CONTACT#c-agent-only"}}
    found = moto_dynamodb.query(TableName="switchboard-dev-sessions", KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues=pk)["Items"]  # fmt: skip
    assert found == []
    assert len(sent) == 1  # the session's read, nothing else
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert any(blob.get("ContactRecordsWithoutSession") == [1.0] or blob.get("ContactRecordsWithoutSession") == 1.0
               for blob in blobs)  # fmt: skip
    assert "+15555550100" not in caplog.text


def test_neither_stream_leaves_caller_data_in_the_table(lambda_client: Any, moto_dynamodb: Any) -> None:
    """A card number Contact Lens did not redact is stored as its label; the caller's number in
    the contact record (CustomerEndpoint) is not stored at all."""
    lambda_client.lambda_.invoke("turn", connect_event("c-pii", "hello", None))
    said = transcript("pii-1", "CUSTOMER", "my card number is 4111 1111 1111 1111", 4000, 7000)
    lambda_client.lambda_.invoke("segments", batch(segments_for("c-pii", said)))
    endpoint = {"Address": "+12065550123", "Type": "TELEPHONE_NUMBER"}
    answer = lambda_client.lambda_.invoke(
        "contact_records", batch(ctr("c-pii", "2024-01-01T10:13:05Z", CustomerEndpoint=endpoint))
    ).payload
    assert answer == {"batchItemFailures": []}
    assert [s.content for s in session("c-pii").spans if s.role == "CUSTOMER"] == ["my card number is [CARD]"]
    assert session("c-pii").closed is not None
    items = moto_dynamodb.query(TableName="switchboard-dev-sessions", KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": "CONTACT#c-pii"}})["Items"]  # fmt: skip
    stored = json.dumps(items)
    assert "4111" not in stored and "2065550123" not in stored
