"""What Amazon Connect would put on the two Kinesis streams for a replayed call — Contact Lens
real-time segments and the contact record — sent through Kinesis on the embedded AWS and read
back into the real consumers, as an event source mapping would (batches, partial failures
retried from the first failed record).

The segments are made from the call as replayed: the caller's words end when the turn reached
us (``at_ms``); each reply plays from when it was answered, at a calm 2.5 words a second; a
turn with ``barge_in_after_ms`` starts speaking that long into the previous reply. They are
sent out of order and one of them twice, as Connect may.
"""

from __future__ import annotations

import base64
import functools
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sim.calls import DEFAULT_LANGUAGE, RecordedCall
from sim.harness import Harness

WORDS_PER_SECOND = 2.5
CALLS_START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MAX_DELIVERIES = 3


def speaking_ms(text: str) -> int:
    return int(len(text.split()) / WORDS_PER_SECOND * 1000)


class StreamFeed:
    """The two streams of the embedded AWS and the consumers behind them."""

    def __init__(self, harness: Harness, seed: int = 7, invoke: Callable[[str, Any], Any] | None = None) -> None:
        self._harness = harness
        self._invoke = invoke or harness.invoke  # sim load: an execution environment of the pool
        self._kinesis = harness.aws.boto_session().client("kinesis", endpoint_url=harness.aws.endpoint_url)
        self._random = random.Random(seed)
        self._positions: dict[tuple[str, str], str] = {}  # (stream, shard) -> last sequence read
        self.streams = self._provision(harness.stage)
        self.deliveries = 0
        # What the records did, for ``sim load``'s checks and fault counts.
        self.acknowledged_segments: dict[str, set[str]] = {}  # contact -> segment ids its consumer took
        self.acknowledged_records: set[str] = set()  # contacts whose contact record was taken
        self.poisoned_batches = 0  # batches still failing after MAX_DELIVERIES
        self.sent = {"duplicate_records": 0, "out_of_order_records": 0, "malformed_records": 0}

    def _provision(self, stage: str) -> dict[str, str]:
        """The stack's two streams (logical id -> name), which must have their event source
        mappings: this is Lambda's poller for them."""
        deployment = self._harness.deployment
        if deployment is None:
            raise RuntimeError("start the harness first")
        names = {"SegmentsStream": deployment.outputs["SegmentsStreamName"],
                 "RecordsStream": deployment.outputs["RecordsStreamName"]}  # fmt: skip
        lambdas = self._harness.aws.boto_session().client("lambda", endpoint_url=self._harness.aws.endpoint_url)
        try:
            mapped = {m["EventSourceArn"].rsplit("/", 1)[-1] for m in
                      lambdas.list_event_source_mappings()["EventSourceMappings"]}  # fmt: skip
        finally:
            lambdas.close()
        unmapped = sorted(set(names.values()) - mapped)
        if unmapped:
            raise RuntimeError(f"streams without an event source mapping in the stack: {unmapped}")
        return names

    def publish_call(self, call: RecordedCall, report: dict[str, Any], index: int, malformed: bool = False) -> None:
        """Put the call's segment records and its contact record (twice, and an older copy);
        ``malformed``: also a truncated record, an unknown event type and a wrong field type."""
        contact = call.contact_id
        # Contact Lens analyses in the language the flow's analytics block names (a Spanish call
        # under an en-US analytics block is analysed as English), else the contact's.
        language = str((report.get("flow") or {}).get("analytics_language") or call.language)
        segment_event = functools.partial(self._segment_event, language=language)
        items = self._segments(call, report)
        in_order = list(items)
        self._random.shuffle(items)
        self.sent["out_of_order_records"] += sum(1 for a, b in zip(items, in_order, strict=True) if a is not b)
        records: list[Any] = [segment_event(contact, "STARTED", [])]
        records += [segment_event(contact, "SEGMENTS", [item]) for item in items]
        records.append(records[1])  # delivered twice
        self.sent["duplicate_records"] += 1
        if malformed:
            records += [b'{"Version": "1.0.0", "ContactId": "' + contact.encode() + b'", "Segm',
                        {**segment_event(contact, "SEGMENTS", []), "EventType": "TELEPATHY"},
                        {**segment_event(contact, "SEGMENTS", []), "Segments": "not a list"}]  # fmt: skip
            self.sent["malformed_records"] += 3
        records.append(segment_event(contact, "COMPLETED", []))
        self._put("SegmentsStream", contact, records)
        ctr = self._contact_record(call, report, index)
        older = {**ctr, "LastUpdateTimestamp": ctr["DisconnectTimestamp"]}
        self._put("RecordsStream", contact, [ctr, ctr, older])
        self.sent["duplicate_records"] += 2

    def drain(self) -> None:
        """Read both streams into their consumers until nothing is left."""
        while self._drain("SegmentsStream", "segments") | self._drain("RecordsStream", "contact_records"):
            pass

    # --- what Connect would send ------------------------------------------------------------

    def _segments(self, call: RecordedCall, report: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        prompt_begin: int | None = None
        prompt_end = 0
        for n, (turn, row) in enumerate(zip(call.turns, report["turns"], strict=False)):
            if turn.barge_in_after_ms is not None and prompt_begin is not None:
                begin = prompt_begin + turn.barge_in_after_ms
            else:
                # The recorded timings are approximate: a caller not marked as barging in waited
                # for the reply to finish.
                begin = max(turn.at_ms - speaking_ms(turn.caller), prompt_end + 300)
            end = begin + speaking_ms(turn.caller)
            items.append(_transcript(f"{call.contact_id}-caller-{n}", "CUSTOMER", turn.caller, begin, end,
                                     turn.sentiment))  # fmt: skip
            prompt_begin = end + int(row["latency_ms"]["total"])
            prompt_end = prompt_begin + speaking_ms(row["reply"])
            items.append(_transcript(f"{call.contact_id}-prompt-{n}", "SYSTEM", row["reply"], prompt_begin,
                                     prompt_end, "NEUTRAL"))  # fmt: skip
        return items

    def _segment_event(
        self, contact: str, event_type: str, segments: list[dict[str, Any]], language: str = DEFAULT_LANGUAGE
    ) -> dict[str, Any]:
        event: dict[str, Any] = {"Version": "1.0.0", "Channel": "VOICE", "AccountId": "123456789012",
                                 "InstanceId": "sim-instance", "ContactId": contact, "LanguageCode": language,
                                 "EventType": event_type}  # fmt: skip
        if segments:
            event["Segments"] = segments
        return event

    def _contact_record(self, call: RecordedCall, report: dict[str, Any], index: int) -> dict[str, Any]:
        start = CALLS_START + timedelta(minutes=10 * index)
        end = start + timedelta(seconds=report["duration_s"])
        record: dict[str, Any] = {
            "AWSContactTraceRecordFormatVersion": "2017-03-10",
            "ContactId": call.contact_id,
            "Channel": "VOICE",
            "InitiationMethod": "INBOUND",
            "InitiationTimestamp": _iso(start),
            "ConnectedToSystemTimestamp": _iso(start),
            "DisconnectTimestamp": _iso(end),
            "DisconnectReason": {"completed": "CONTACT_FLOW_DISCONNECT", "handover": "AGENT_DISCONNECT"}.get(
                report["outcome"], "CUSTOMER_DISCONNECT"
            ),
            "LastUpdateTimestamp": _iso(end + timedelta(seconds=5)),
            "CustomerEndpoint": {"Address": call.caller_number, "Type": "TELEPHONE_NUMBER"},
            "Attributes": {},
            "Agent": None,
            "Queue": None,
        }
        if report["outcome"] == "handover":
            # The simulated agent takes the call a minute after the transfer.
            record["Queue"] = {"Name": "GeneralSupport", "EnqueueTimestamp": _iso(end)}
            record["Agent"] = {"ConnectedToAgentTimestamp": _iso(end + timedelta(minutes=1))}
            record["DisconnectTimestamp"] = _iso(end + timedelta(minutes=4))
            record["LastUpdateTimestamp"] = _iso(end + timedelta(minutes=4, seconds=5))
        return record

    # --- Kinesis and the event source mapping ------------------------------------------------

    def _put(self, logical_id: str, contact: str, payloads: list[Any]) -> None:
        self._kinesis.put_records(
            StreamName=self.streams[logical_id],
            Records=[{"Data": p if isinstance(p, bytes) else json.dumps(p).encode(), "PartitionKey": contact}
                     for p in payloads],
        )  # fmt: skip

    def _drain(self, logical_id: str, function_name: str) -> bool:
        """One read of each shard into the consumer; True if there were records."""
        stream = self.streams[logical_id]
        read = False
        for shard in self._kinesis.list_shards(StreamName=stream)["Shards"]:
            shard_id = shard["ShardId"]
            after = self._positions.get((stream, shard_id))
            iterator = self._kinesis.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id,
                **({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after} if after
                   else {"ShardIteratorType": "TRIM_HORIZON"}),
            )["ShardIterator"]  # fmt: skip
            records = self._kinesis.get_records(ShardIterator=iterator, Limit=100)["Records"]
            if records:
                read = True
                self._deliver(stream, shard_id, function_name, records)
                self._positions[(stream, shard_id)] = records[-1]["SequenceNumber"]
        return read

    def _deliver(self, stream: str, shard_id: str, function_name: str, records: list[dict[str, Any]]) -> None:
        """Invoke the consumer; on partial failures, retry from the first failed record."""
        pending = records
        for _ in range(MAX_DELIVERIES):
            self.deliveries += 1
            answer = self._invoke(function_name, _esm_event(stream, shard_id, pending))
            failed = [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
            first = next((i for i, r in enumerate(pending) if r["SequenceNumber"] in failed), len(pending))
            self._acknowledge(function_name, pending[:first])
            if not failed:
                return
            pending = pending[first:]
        self.poisoned_batches += 1

    def _acknowledge(self, function_name: str, records: list[dict[str, Any]]) -> None:
        """Records the consumer took (before the first it reported as failed)."""
        for record in records:
            try:
                payload = json.loads(record["Data"])
            except ValueError:
                continue  # a malformed record: taken and skipped, nothing to find in the session
            if not isinstance(payload, dict):
                continue
            contact = str(payload.get("ContactId", ""))
            if function_name == "contact_records":
                self.acknowledged_records.add(contact)
                continue
            segments = payload.get("Segments")
            for segment in segments if isinstance(segments, list) else ():
                transcript = segment.get("Transcript") if isinstance(segment, dict) else None
                if isinstance(transcript, dict) and transcript.get("Id"):
                    self.acknowledged_segments.setdefault(contact, set()).add(str(transcript["Id"]))


def _transcript(seg_id: str, role: str, content: str, begin: int, end: int, sentiment: str) -> dict[str, Any]:
    return {"Transcript": {"Id": seg_id, "ParticipantId": role, "ParticipantRole": role, "Content": content,
                           "BeginOffsetMillis": begin, "EndOffsetMillis": end, "Sentiment": sentiment}}  # fmt: skip


def _esm_event(stream: str, shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    arn = f"arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"
    return {"Records": [
        {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                     "sequenceNumber": r["SequenceNumber"], "data": base64.b64encode(r["Data"]).decode(),
                     "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
         "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard_id}:{r['SequenceNumber']}",
         "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/sim",
         "awsRegion": "us-east-1", "eventSourceARN": arn}
        for r in records
    ]}  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_contact_results(harness: Harness, call: RecordedCall, report: dict[str, Any]) -> None:
    """What the consumers made of the call, read back from the session: the contact's outcome
    and KPI from its contact record, and per turn what the caller heard of an interrupted reply."""
    services = harness.services()
    session = services.session_store.load(call.contact_id, services.clock.now_ms())
    closure = session.closed if session else None
    report["contact_outcome"] = closure.outcome if closure else None
    report["kpi_neutral_positive"] = closure.kpi_neutral_positive if closure else None
    if closure is not None:
        report["contact_record"] = {"duration_s": closure.duration_s, "cost_usd": float(closure.cost_usd),
                                    "disconnect_reason": closure.disconnect_reason}  # fmt: skip
    if session is None:
        return
    heard = {m.seq: m.text for m in session.history if m.role == "assistant" and m.seq in session.interrupted_seqs}
    for row in report["turns"]:
        answered = row.get("answered_seq")
        if answered in heard:
            row["heard"] = heard[answered]
    report["caller_sentiments"] = list(session.caller_sentiments)
