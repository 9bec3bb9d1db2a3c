"""``SessionStore`` on one DynamoDB table.

Key schema (declared in ``infra/template.json``; a test checks they agree):

=========  =====================  ==================  ====================================
item       pk                     sk                  other attributes
=========  =====================  ==================  ====================================
session    ``CONTACT#<id>``       ``SESSION``         version (N), last_seq, status, state
turn       ``CONTACT#<id>``       ``TURN#<seq:06d>``  seq (N), digest, record
=========  =====================  ==================  ====================================

Every item carries ``expires_at`` (N, epoch seconds), the table's TTL attribute. DynamoDB
deletes expired items up to days late, so reads treat them as absent and conditions treat them
as free.

A new turn costs one strongly consistent ``GetItem`` and one ``TransactWriteItems`` whose two
puts are conditional: the turn item must not exist, and the session must still have the
version it was read at. botocore fills the transaction's ``ClientRequestToken`` once per call,
so its own retry after a timeout cannot apply the write twice.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.session_codec import session_from_json, session_to_json, turn_from_json, turn_to_json
from chalicelib.domain.ports import TurnMeter
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.errors import (
    SessionVersionConflictError,
    StoreUnavailableError,
    TurnAlreadyRecordedError,
)

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"
SESSION_SK = "SESSION"

_FREE = f"attribute_not_exists({SORT_KEY}) OR {TTL_ATTRIBUTE} <= :now"


def contact_pk(contact_id: str) -> str:
    return f"CONTACT#{contact_id}"


def turn_sk(seq: int) -> str:
    return f"TURN#{seq:06d}"


class DynamoDbSessionStore:
    """Sessions and turns in DynamoDB, through a low-level boto3 client."""

    def __init__(self, client: Any, table_name: str, ttl_seconds: int, usage: TurnMeter | None = None) -> None:
        self._client = client
        self._table = table_name
        self._ttl_seconds = ttl_seconds
        self._usage = usage

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        item = self._get(contact_pk(contact_id), SESSION_SK, now_ms)
        if item is None:
            return None
        return session_from_json(item["state"]["S"], int(item["version"]["N"]))

    def load_turn(self, contact_id: str, seq: int, now_ms: int) -> TurnRecord | None:
        item = self._get(contact_pk(contact_id), turn_sk(seq), now_ms)
        return None if item is None else turn_from_json(item["record"]["S"])

    def commit_turn(self, turn: TurnRecord, session: Session, now_ms: int) -> Session:
        stored = session.evolve(version=session.version + 1)
        pk = contact_pk(session.contact_id)
        expires_at = {"N": str(now_ms // 1000 + self._ttl_seconds)}
        now = {":now": {"N": str(now_ms // 1000)}}
        if session.version == 0:
            session_condition, session_values = _FREE, now
        else:
            session_condition, session_values = "version = :expected", {":expected": {"N": str(session.version)}}
        turn_item = {
            PARTITION_KEY: {"S": pk},
            SORT_KEY: {"S": turn_sk(turn.seq)},
            "seq": {"N": str(turn.seq)},
            "digest": {"S": turn.digest},
            "record": {"S": turn_to_json(turn)},
            TTL_ATTRIBUTE: expires_at,
        }
        session_item = self._session_item(stored, now_ms)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": turn_item, "ConditionExpression": _FREE,
                             "ExpressionAttributeValues": now}},
                    {"Put": {"TableName": self._table, "Item": session_item, "ConditionExpression": session_condition,
                             "ExpressionAttributeValues": session_values}},
                ]
            )  # fmt: skip
        except ClientError as exc:
            raise _commit_error(exc, turn, session) from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"DynamoDB transaction failed: {type(exc).__name__}") from exc
        finally:
            # A transaction is billed whether or not its conditions pass: 2 WRU per KB per item.
            self._record(
                UsageKind.DYNAMODB_WRITE_UNITS, sum(2 * _units(item, 1024) for item in (turn_item, session_item))
            )
        return stored

    def save_session(self, session: Session, now_ms: int) -> Session:
        stored = session.evolve(version=session.version + 1)
        item = self._session_item(stored, now_ms)
        if session.version == 0:
            condition, values = _FREE, {":now": {"N": str(now_ms // 1000)}}
        else:
            condition, values = "version = :expected", {":expected": {"N": str(session.version)}}
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression=condition, ExpressionAttributeValues=values
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise SessionVersionConflictError(f"session changed since version {session.version}") from exc
            raise StoreUnavailableError(f"DynamoDB PutItem failed: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"DynamoDB PutItem failed: {type(exc).__name__}") from exc
        finally:
            self._record(UsageKind.DYNAMODB_WRITE_UNITS, _units(item, 1024))
        return stored

    def load_turns(self, contact_id: str, now_ms: int) -> tuple[TurnRecord, ...]:
        records: list[TurnRecord] = []
        start: dict[str, Any] | None = None
        while True:
            query: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": f"{PARTITION_KEY} = :pk AND begins_with({SORT_KEY}, :turn)",
                "ExpressionAttributeValues": {":pk": {"S": contact_pk(contact_id)}, ":turn": {"S": "TURN#"}},
                "ConsistentRead": True,
            }
            if start:
                query["ExclusiveStartKey"] = start
            try:
                page = self._client.query(**query)
            except (ClientError, BotoCoreError) as exc:
                raise StoreUnavailableError(f"DynamoDB Query failed: {type(exc).__name__}") from exc
            self._record(UsageKind.DYNAMODB_READ_UNITS, max(1, sum(_units(i, 4096) for i in page["Items"])))
            records.extend(turn_from_json(i["record"]["S"]) for i in page["Items"] if not expired(i, now_ms))
            start = page.get("LastEvaluatedKey")
            if not start:
                return tuple(records)

    def _session_item(self, stored: Session, now_ms: int) -> dict[str, Any]:
        return {
            PARTITION_KEY: {"S": contact_pk(stored.contact_id)},
            SORT_KEY: {"S": SESSION_SK},
            "version": {"N": str(stored.version)},
            "last_seq": {"N": str(stored.last_seq)},
            "status": {"S": stored.status.value},
            "state": {"S": session_to_json(stored)},
            TTL_ATTRIBUTE: {"N": str(now_ms // 1000 + self._ttl_seconds)},
        }

    def _get(self, pk: str, sk: str, now_ms: int) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise StoreUnavailableError(f"DynamoDB GetItem failed: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"DynamoDB GetItem failed: {type(exc).__name__}") from exc
        item: dict[str, Any] | None = response.get("Item")
        # A strongly consistent read: 1 RRU per 4 KB of the item (1 when nothing is found).
        self._record(UsageKind.DYNAMODB_READ_UNITS, _units(item, 4096) if item else 1)
        if item is None or expired(item, now_ms):
            return None
        return item

    def _record(self, kind: UsageKind, units: int) -> None:
        if self._usage is not None:
            self._usage.record(Usage(kind, Decimal(units)))


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (strings in UTF-8,
    numbers about one byte per two digits plus one)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode("utf-8"))
        if "S" in value:
            size += len(value["S"].encode("utf-8"))
        elif "N" in value:
            size += (len(value["N"].lstrip("-").replace(".", "")) + 1) // 2 + 1
        else:
            size += len(str(value).encode("utf-8"))
    return size


def _units(item: dict[str, Any], unit_bytes: int) -> int:
    return max(1, math.ceil(item_size(item) / unit_bytes))


def expired(item: dict[str, Any], now_ms: int) -> bool:
    """An item whose TTL has passed (DynamoDB deletes it late): read as absent."""
    expires = item.get(TTL_ATTRIBUTE, {}).get("N")
    return expires is not None and int(expires) <= now_ms // 1000


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _commit_error(exc: ClientError, turn: TurnRecord, session: Session) -> Exception:
    """Map a failed transaction to what the use case should do about it."""
    code = _code(exc)
    if code == "TransactionCanceledException":
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        turn_reason, session_reason = [*reasons, "None", "None"][:2]
        if turn_reason == "ConditionalCheckFailed":
            return TurnAlreadyRecordedError(f"turn {turn.seq} is already recorded")
        if session_reason == "ConditionalCheckFailed" or "TransactionConflict" in reasons:
            return SessionVersionConflictError(f"session changed since version {session.version}")
        return StoreUnavailableError(f"DynamoDB transaction cancelled: {reasons}")
    if code in ("TransactionConflictException", "TransactionInProgressException"):
        return SessionVersionConflictError(f"DynamoDB {code}")
    return StoreUnavailableError(f"DynamoDB TransactWriteItems failed: {code}")
