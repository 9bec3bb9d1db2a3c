"""What the turn handler costs beyond the database it cannot avoid.

Drives tier-0 turns through the real ``turn`` handler on the embedded AWS (moto server on
127.0.0.1) and, interleaved in the same run, the bare minimum a turn needs: one GetItem plus one
TransactWriteItems with raw boto3 on the same table and items of the same size. Prints one JSON
object. Targets: ``ratio`` (p50 / limit p50) at most 1.5; exactly 2 DynamoDB requests per new
turn and 1 per duplicate.

    python bench/turn_overhead.py [--contacts 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.calls import connect_event
from sim.harness import Harness
from sim.stats import percentile

SCRIPT = ["hello", "my account is 4 4 7 1 9", "yes", "thank you", "yes please"]  # tier 0, never ends the call


class RequestCounter:
    """Counts the HTTP requests a boto3 client sends."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        self.failed_attempts: dict[str, int] = {}
        client.meta.events.register("before-send.dynamodb", self._sent)
        client.meta.events.register("needs-retry.dynamodb", self._attempt_done)

    def _sent(self, **_: Any) -> None:
        self.count += 1

    def _attempt_done(self, response: Any = None, caught_exception: Any = None, **_: Any) -> None:
        """Note why an attempt failed (botocore decides whether to retry it)."""
        if caught_exception is not None:
            reason = type(caught_exception).__name__
        elif response is not None and response[0].status_code >= 400:
            reason = str(response[1].get("Error", {}).get("Code", response[0].status_code))
        else:
            return
        self.failed_attempts[reason] = self.failed_attempts.get(reason, 0) + 1


def raw_turn(client: Any, table: str, contact: str, seq: int, state: str, record: str) -> float:
    """The floor: the same two requests a turn makes, with nothing around them."""
    pk = {"S": f"CONTACT#{contact}"}
    started = time.perf_counter()
    item = client.get_item(TableName=table, Key={"pk": pk, "sk": {"S": "SESSION"}}, ConsistentRead=True).get("Item")
    version = int(item["version"]["N"]) if item else 0
    condition = "attribute_not_exists(sk)" if version == 0 else "version = :v"
    values = {} if version == 0 else {"ExpressionAttributeValues": {":v": {"N": str(version)}}}
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(sk)",
                     "Item": {"pk": pk, "sk": {"S": f"TURN#{seq:06d}"}, "record": {"S": record}}}},
            {"Put": {"TableName": table, "ConditionExpression": condition, **values,
                     "Item": {"pk": pk, "sk": {"S": "SESSION"}, "version": {"N": str(version + 1)},
                              "state": {"S": state}}}},
        ]
    )  # fmt: skip
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100, help=f"contacts; each makes {len(SCRIPT)} turns")
    args = parser.parse_args()

    from chalicelib import bootstrap

    with Harness() as harness:
        table = harness.tables["SessionTable"]
        harness.invoke("turn", connect_event("warm-up", "hello", None))  # builds the container
        services = bootstrap.container()
        counter = RequestCounter(services.dynamodb_client)
        raw_client = harness.aws.boto_session().client("dynamodb", endpoint_url=harness.aws.endpoint_url)

        sample = services.session_store.load("warm-up", services.clock.now_ms())
        assert sample is not None
        # Sizes of a real session and turn record, for the floor's items.
        from chalicelib.adapters.session_codec import session_to_json

        state = session_to_json(sample) * 3  # sessions grow over a call; the floor gets the larger one
        record = "x" * 600

        handler_ms: list[float] = []
        floor_ms: list[float] = []
        new_requests: list[int] = []
        for seq, words in enumerate(SCRIPT, start=1):
            for n in range(args.contacts):
                contact = f"bench-{n:05d}"
                event = connect_event(contact, words, None if seq == 1 else str(seq))
                before = counter.count
                started = time.perf_counter()
                answer = harness.invoke("turn", event)
                handler_ms.append((time.perf_counter() - started) * 1000)
                new_requests.append(counter.count - before)
                if answer.get("intent") == "fallback":
                    raise SystemExit(f"turn failed: {answer}")
                floor_ms.append(raw_turn(raw_client, table, f"floor-{n:05d}", seq, state, record))

        duplicate_requests: list[int] = []
        for n in range(args.contacts):
            event = connect_event(f"bench-{n:05d}", SCRIPT[-1], str(len(SCRIPT)))
            before = counter.count
            harness.invoke("turn", event)
            duplicate_requests.append(counter.count - before)

    p50, limit_p50 = statistics.median(handler_ms), statistics.median(floor_ms)
    result = {
        "turns": len(handler_ms),
        "p50_ms": round(p50, 3),
        "p99_ms": round(percentile(handler_ms, 0.99), 3),
        "limit_p50_ms": round(limit_p50, 3),
        "limit_p99_ms": round(percentile(floor_ms, 0.99), 3),
        "ratio": round(p50 / limit_p50, 3),
        "ddb_requests_per_turn": statistics.median(new_requests),
        # More than 2 only when botocore retried a request (a slow or failed answer from moto).
        "ddb_requests_per_turn_histogram": {str(k): new_requests.count(k) for k in sorted(set(new_requests))},
        "ddb_requests_per_duplicate": statistics.median(duplicate_requests),
        "ddb_failed_attempts": counter.failed_attempts,
        "duplicates": len(duplicate_requests),
        "target": {"ratio_max": 1.5, "ddb_requests_per_turn": 2, "ddb_requests_per_duplicate": 1},
        "aws": "embedded (moto server on 127.0.0.1)",
    }
    result["met"] = (
        result["ratio"] <= 1.5 and result["ddb_requests_per_turn"] == 2 and result["ddb_requests_per_duplicate"] == 1
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
