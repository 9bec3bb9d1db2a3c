"""Segments consumer: records per second per batch size.

Invokes the real ``segments`` handler (in process, on the embedded AWS) with Kinesis batches of
1, 10 and 100 Contact Lens records — each record one transcript segment, spread over 20
contacts — as the event source mapping would, and prints one JSON object: per batch size the
median records per second over the repeats, and each as a ratio to batch size 1 (same run).

    python bench/segments_throughput.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.harness import Harness

CONTACTS = 20


def batch(size: int, offset: int) -> dict:
    records = []
    for n in range(size):
        contact = f"bench-{(offset + n) % CONTACTS:04d}"
        segment = {"Transcript": {"Id": str(uuid.uuid4()), "ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER",
                                  "Content": "I would like to check my balance please", "BeginOffsetMillis": 1000 * n,
                                  "EndOffsetMillis": 1000 * n + 800, "Sentiment": "NEUTRAL"}}  # fmt: skip
        data = {"Version": "1.0.0", "Channel": "VOICE", "AccountId": "123456789012", "InstanceId": "bench",
                "ContactId": contact, "LanguageCode": "en-US", "EventType": "SEGMENTS",
                "Segments": [segment]}  # fmt: skip
        encoded = base64.b64encode(json.dumps(data).encode()).decode()
        records.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": contact, "sequenceNumber": f"{offset + n:056d}",
                        "data": encoded, "approximateArrivalTimestamp": time.time()},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-0:{offset + n}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/bench",
            "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench",
        })  # fmt: skip
    return {"Records": records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = (1, 10, 100)
    rates: dict[int, list[float]] = {s: [] for s in sizes}
    offset = 0
    with Harness() as harness:
        harness.invoke("segments", batch(1, 10_000_000))  # build the container first
        for _ in range(args.repeats):
            for size in sizes:  # interleaved: the machine's noise hits every size alike
                event = batch(size, offset)
                offset += size
                started = time.perf_counter()
                answer = harness.invoke("segments", event)
                seconds = time.perf_counter() - started
                if answer.get("batchItemFailures"):
                    raise SystemExit(f"batch of {size} reported failures: {answer}")
                rates[size].append(size / seconds)
    medians = {s: round(statistics.median(r), 1) for s, r in rates.items()}
    print(json.dumps({
        "records_per_second": medians,
        "ratio_to_batch_of_1": {s: round(m / medians[1], 2) for s, m in medians.items()},
        "repeats": args.repeats,
        "note": "each record is a read-modify-write of its contact's session (1 GetItem + 1 conditional PutItem)",
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
