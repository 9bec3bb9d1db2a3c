"""``TranscriptStore`` in the session table: the live transcript as one item beside the session.

``pk = CONTACT#<id>``, ``sk = TRANSCRIPT``; attributes: version (N), state (the transcript as
JSON, validated on the way back), expires_at. Writes are conditional on the version read.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError

from chalicelib.adapters.dynamodb_store import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, contact_pk, expired
from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.errors import SessionVersionConflictError, StoreDataCorruptError, StoreUnavailableError

TRANSCRIPT_SK = "TRANSCRIPT"
_TRANSCRIPT = TypeAdapter(LiveTranscript)


class DynamoDbTranscriptStore:
    def __init__(self, client: Any, table_name: str, ttl_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._ttl_seconds = ttl_seconds

    def load(self, contact_id: str, now_ms: int) -> tuple[LiveTranscript, int]:
        key = {PARTITION_KEY: {"S": contact_pk(contact_id)}, SORT_KEY: {"S": TRANSCRIPT_SK}}
        try:
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailableError(f"transcript read failed: {type(exc).__name__}") from exc
        if item is None or expired(item, now_ms):
            return LiveTranscript(), 0
        try:
            return _TRANSCRIPT.validate_json(item["state"]["S"]), int(item["version"]["N"])
        except (ValidationError, KeyError) as exc:
            raise StoreDataCorruptError("stored transcript does not match the transcript model") from exc

    def save(self, contact_id: str, transcript: LiveTranscript, version: int, now_ms: int) -> int:
        item = {
            PARTITION_KEY: {"S": contact_pk(contact_id)},
            SORT_KEY: {"S": TRANSCRIPT_SK},
            "version": {"N": str(version + 1)},
            "state": {"S": _TRANSCRIPT.dump_json(transcript).decode("utf-8")},
            TTL_ATTRIBUTE: {"N": str(now_ms // 1000 + self._ttl_seconds)},
        }
        if version == 0:
            condition, values = (
                f"attribute_not_exists({SORT_KEY}) OR {TTL_ATTRIBUTE} <= :now",
                {":now": {"N": str(now_ms // 1000)}},
            )
        else:
            condition, values = "version = :expected", {":expected": {"N": str(version)}}
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression=condition, ExpressionAttributeValues=values
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise SessionVersionConflictError(f"transcript changed since version {version}") from exc
            raise StoreUnavailableError(
                f"transcript write failed: {exc.response.get('Error', {}).get('Code')}"
            ) from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"transcript write failed: {type(exc).__name__}") from exc
        return version + 1
