"""``SpeculationStore`` in the session table: one item per speculative turn.

``pk = CONTACT#<id>``, ``sk = SPEC#<seq:06d>#<transcript hash>``; attributes: state, record (the
speculation as JSON, validated on the way back), expires_at. ``start`` is a conditional put, so
two triggers for the same words make one speculation.
"""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError

from chalicelib.adapters.dynamodb_store import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, contact_pk, expired
from chalicelib.domain.speculation import Speculation
from chalicelib.errors import StoreDataCorruptError, StoreUnavailableError

_SPECULATION = TypeAdapter(Speculation)
SPEC_PREFIX = "SPEC#"


def speculation_sk(seq: int, transcript: str) -> str:
    return f"{SPEC_PREFIX}{seq:06d}#{hashlib.sha256(transcript.encode()).hexdigest()[:16]}"


class DynamoDbSpeculationStore:
    def __init__(self, client: Any, table_name: str, ttl_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._ttl_seconds = ttl_seconds

    def start(self, speculation: Speculation, now_ms: int) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(speculation, now_ms),
                ConditionExpression=f"attribute_not_exists({SORT_KEY})",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailableError(
                f"speculation write failed: {exc.response.get('Error', {}).get('Code')}"
            ) from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"speculation write failed: {type(exc).__name__}") from exc
        return True

    def finish(self, speculation: Speculation, now_ms: int) -> None:
        try:
            self._client.put_item(TableName=self._table, Item=self._item(speculation, now_ms))
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailableError(f"speculation write failed: {type(exc).__name__}") from exc

    def get(self, contact_id: str, seq: int, transcript: str, now_ms: int) -> Speculation | None:
        key = {PARTITION_KEY: {"S": contact_pk(contact_id)}, SORT_KEY: {"S": speculation_sk(seq, transcript)}}
        try:
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailableError(f"speculation read failed: {type(exc).__name__}") from exc
        return None if item is None or expired(item, now_ms) else _speculation(item)

    def load_all(self, contact_id: str, now_ms: int) -> tuple[Speculation, ...]:
        found: list[Speculation] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PARTITION_KEY} = :pk AND begins_with({SORT_KEY}, :spec)",
            "ExpressionAttributeValues": {":pk": {"S": contact_pk(contact_id)}, ":spec": {"S": SPEC_PREFIX}},
            "ConsistentRead": True,
        }
        try:
            while True:
                page = self._client.query(**query)
                found.extend(_speculation(i) for i in page["Items"] if not expired(i, now_ms))
                if not page.get("LastEvaluatedKey"):
                    return tuple(found)
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailableError(f"speculation query failed: {type(exc).__name__}") from exc

    def _item(self, speculation: Speculation, now_ms: int) -> dict[str, Any]:
        return {
            PARTITION_KEY: {"S": contact_pk(speculation.contact_id)},
            SORT_KEY: {"S": speculation_sk(speculation.seq, speculation.transcript)},
            "state": {"S": speculation.state.value},
            "record": {"S": _SPECULATION.dump_json(speculation).decode("utf-8")},
            TTL_ATTRIBUTE: {"N": str(now_ms // 1000 + self._ttl_seconds)},
        }


def _speculation(item: dict[str, Any]) -> Speculation:
    try:
        return _SPECULATION.validate_json(item["record"]["S"])
    except (ValidationError, KeyError) as exc:
        raise StoreDataCorruptError("stored speculation does not match the speculation model") from exc
