"""The session table as every DynamoDB adapter uses it: its keys and TTL, the one free-slot
condition, the one mapping of the client's errors, and the usage each request is billed.

The item types and their keys are listed in ``dynamodb_store.py``. Each adapter
(``DynamoDbSessionStore``, ``DynamoDbToolJournal``, ``DynamoDbSpeculationStore``,
``DynamoDbTranscriptStore``) is a ``DynamoDbTable``: it builds its items and says what a refused
condition means for it; the requests, their errors and their metering are here, once.

Billing (on-demand): a strongly consistent read is 1 read unit per 4 KB of the item (1 when
nothing is found), a query 1 per 4 KB of what it returns (at least 1 a page); a write is 1 write
unit per KB of the item, 2 in a transaction, whether or not its condition passes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.ports import UsageMeter
from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.errors import StoreUnavailableError

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELLED = "TransactionCanceledException"
# Another transaction holds one of the items: the same as a failed condition for the caller.
TRANSACTION_CONFLICTS = frozenset({"TransactionConflictException", "TransactionInProgressException"})
READ_UNIT_BYTES, WRITE_UNIT_BYTES = 4096, 1024

Item = dict[str, Any]
Condition = tuple[str, dict[str, Any]]  # the expression and its values


def contact_pk(contact_id: str) -> str:
    return f"CONTACT#{contact_id}"


def item_key(contact_id: str, sk: str) -> Item:
    return {PARTITION_KEY: {"S": contact_pk(contact_id)}, SORT_KEY: {"S": sk}}


def free_slot(now_ms: int) -> Condition:
    """The condition of a put that creates an item: none is stored under its key, or only an
    expired one (DynamoDB deletes expired items up to days late; they count as absent)."""
    return f"attribute_not_exists({SORT_KEY}) OR {TTL_ATTRIBUTE} <= :now", {":now": {"N": str(now_ms // 1000)}}


def version_condition(version: int, now_ms: int) -> Condition:
    """The condition of a put computed from ``version`` of an item (0: none was stored)."""
    if version == 0:
        return free_slot(now_ms)
    return "version = :expected", {":expected": {"N": str(version)}}


def expired(item: Item, now_ms: int) -> bool:
    """An item whose TTL has passed (DynamoDB deletes it late): read as absent."""
    expires = item.get(TTL_ATTRIBUTE, {}).get("N")
    return expires is not None and int(expires) <= now_ms // 1000


def item_size(item: Item) -> int:
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


def billed_units(item: Item, unit_bytes: int) -> int:
    return max(1, math.ceil(item_size(item) / unit_bytes))


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@dataclass(frozen=True)
class Refused:
    """A request DynamoDB refused as it was asked to: a failed condition (``existing`` holds the
    stored item when the put asked for it), or a cancelled transaction (``reasons``, per item)."""

    code: str
    existing: Item | None = None
    reasons: tuple[str, ...] = ()


class DynamoDbTable:
    """One table, through a low-level boto3 client; the base of every DynamoDB adapter.

    Args:
        client: the boto3 DynamoDB client (moto, a Stubber, the real one).
        table_name: the session table.
        ttl_seconds: how long the adapter's items live (their ``expires_at``).
        usage: where each request's read and write units are recorded (the invocation's meter).
    """

    def __init__(self, client: Any, table_name: str, ttl_seconds: int, usage: UsageMeter | None = None) -> None:
        self._client = client
        self._table = table_name
        self._ttl_seconds = ttl_seconds
        self._usage = usage

    def _expires_at(self, now_ms: int) -> dict[str, str]:
        return {"N": str(now_ms // 1000 + self._ttl_seconds)}

    def _get(self, key: Item, now_ms: int) -> Item | None:
        """The item, strongly consistent; None when there is none or it expired."""
        with self._mapped("GetItem"):
            item: Item | None = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        self._record(UsageKind.DYNAMODB_READ_UNITS, billed_units(item, READ_UNIT_BYTES) if item else 1)
        return None if item is None or expired(item, now_ms) else item

    def _query(self, pk: str, sk_prefix: str, now_ms: int) -> list[Item]:
        """Every live item of the partition whose sort key starts with ``sk_prefix``, in order."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PARTITION_KEY} = :pk AND begins_with({SORT_KEY}, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": sk_prefix}},
            "ConsistentRead": True,
        }
        found: list[Item] = []
        while True:
            with self._mapped("Query"):
                page = self._client.query(**query)
            self._record(
                UsageKind.DYNAMODB_READ_UNITS, max(1, sum(billed_units(i, READ_UNIT_BYTES) for i in page["Items"]))
            )
            found.extend(i for i in page["Items"] if not expired(i, now_ms))
            if not page.get("LastEvaluatedKey"):
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _put(self, item: Item, condition: Condition | None = None, *, return_existing: bool = False) -> Refused | None:
        """Store ``item`` (under ``condition``); the refusal when the condition failed."""
        request: dict[str, Any] = {"TableName": self._table, "Item": item}
        if condition is not None:
            request |= {"ConditionExpression": condition[0], "ExpressionAttributeValues": condition[1]}
        if return_existing:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            with self._mapped("PutItem", refusals={CONDITION_FAILED}):
                self._client.put_item(**request)
        except _RefusedError as refused:
            return refused.refused
        finally:
            self._record(UsageKind.DYNAMODB_WRITE_UNITS, billed_units(item, WRITE_UNIT_BYTES))
        return None

    def _update(self, key: Item, update: str, condition: str, names: dict[str, str], values: Item) -> Refused | None:
        """Set attributes of an existing item (under ``condition``); the refusal when it failed."""
        try:
            with self._mapped("UpdateItem", refusals={CONDITION_FAILED}):
                self._client.update_item(TableName=self._table, Key=key, UpdateExpression=update,
                                         ConditionExpression=condition, ExpressionAttributeNames=names,
                                         ExpressionAttributeValues=values)  # fmt: skip
        except _RefusedError as refused:
            return refused.refused
        finally:
            self._record(UsageKind.DYNAMODB_WRITE_UNITS, 1)
        return None

    def _transact_puts(self, puts: list[tuple[Item, Condition]]) -> Refused | None:
        """Store every item under its condition, all or none; the refusal (with the reason of each
        item, in order) when a condition failed or another transaction held an item."""
        items = [{"Put": {"TableName": self._table, "Item": item, "ConditionExpression": expression,
                          "ExpressionAttributeValues": values}} for item, (expression, values) in puts]  # fmt: skip
        try:
            with self._mapped("TransactWriteItems", refusals={TRANSACTION_CANCELLED, *TRANSACTION_CONFLICTS}):
                # botocore fills ClientRequestToken once per call: its own retry cannot apply it twice.
                self._client.transact_write_items(TransactItems=items)
        except _RefusedError as refused:
            return refused.refused
        finally:
            self._record(UsageKind.DYNAMODB_WRITE_UNITS, sum(2 * billed_units(i, WRITE_UNIT_BYTES) for i, _ in puts))
        return None

    @contextmanager
    def _mapped(self, request: str, refusals: frozenset[str] | set[str] = frozenset()) -> Iterator[None]:
        """The one mapping of the client's errors: a code in ``refusals`` is the answer the
        request asked for (``Refused``); anything else is ``StoreUnavailableError`` naming the
        request and the code (the client's own bounded retries are behind it)."""
        try:
            yield
        except ClientError as exc:
            code = error_code(exc)
            if code in refusals:
                reasons = tuple(r.get("Code", "None") for r in exc.response.get("CancellationReasons", []))
                raise _RefusedError(Refused(code, exc.response.get("Item"), reasons)) from exc
            raise StoreUnavailableError(f"DynamoDB {request} failed: {code}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"DynamoDB {request} failed: {type(exc).__name__}") from exc

    def _record(self, kind: UsageKind, units: int) -> None:
        if self._usage is not None:
            self._usage.record(Usage(kind, Decimal(units)))


class _RefusedError(Exception):
    """Carries a ``Refused`` out of ``_mapped`` to the request that expects it (never further)."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.code)
        self.refused = refused
