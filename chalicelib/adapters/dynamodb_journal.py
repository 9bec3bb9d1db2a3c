"""``ToolJournal`` in the session table: one item per side-effecting call of a turn.

``pk = CONTACT#<id>``, ``sk = TOOL#<seq:06d>#<index:02d>``; attributes: tool, arguments,
args_hash, idempotency_key, state (pending | done | failed), result, expires_at. The item is
created conditionally before the call, so two deliveries of one turn share one entry, and the
existing entry (its arguments and key) wins.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.dynamodb_store import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, contact_pk
from chalicelib.domain.ports import TurnMeter
from chalicelib.domain.tools import JournalEntry, JournalState
from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.errors import StoreUnavailableError


def journal_sk(seq: int, index: int) -> str:
    return f"TOOL#{seq:06d}#{index:02d}"


class DynamoDbToolJournal:
    def __init__(self, client: Any, table_name: str, ttl_seconds: int, usage: TurnMeter | None = None) -> None:
        self._client = client
        self._table = table_name
        self._ttl_seconds = ttl_seconds
        self._usage = usage

    def begin(self, entry: JournalEntry, now_ms: int) -> JournalEntry:
        item = {
            PARTITION_KEY: {"S": contact_pk(entry.contact_id)},
            SORT_KEY: {"S": journal_sk(entry.seq, entry.index)},
            "tool": {"S": entry.tool},
            "arguments": {"S": entry.arguments_json},
            "args_hash": {"S": entry.args_hash},
            "idempotency_key": {"S": entry.idempotency_key},
            "state": {"S": JournalState.PENDING.value},
            TTL_ATTRIBUTE: {"N": str(now_ms // 1000 + self._ttl_seconds)},
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=f"attribute_not_exists({SORT_KEY}) OR {TTL_ATTRIBUTE} <= :now",
                ExpressionAttributeValues={":now": {"N": str(now_ms // 1000)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if (
                exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
                and "Item" in exc.response
            ):
                return _entry(entry.contact_id, exc.response["Item"], entry.seq, entry.index)
            raise StoreUnavailableError(f"journal write failed: {exc.response.get('Error', {}).get('Code')}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"journal write failed: {type(exc).__name__}") from exc
        finally:
            self._record_write()
        return entry

    def finish(self, entry: JournalEntry, now_ms: int) -> None:
        names = {"#s": "state", "#r": "result"}
        values = {
            ":s": {"S": entry.state.value},
            ":r": {"S": entry.result_json or ""},
            ":k": {"S": entry.idempotency_key},
        }
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    PARTITION_KEY: {"S": contact_pk(entry.contact_id)},
                    SORT_KEY: {"S": journal_sk(entry.seq, entry.index)},
                },
                UpdateExpression="SET #s = :s, #r = :r",
                ConditionExpression="idempotency_key = :k",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailableError(f"journal update failed: {type(exc).__name__}") from exc
        finally:
            self._record_write()

    def _record_write(self) -> None:
        if self._usage is not None:
            self._usage.record(Usage(UsageKind.DYNAMODB_WRITE_UNITS, Decimal(1)))


def _entry(contact_id: str, item: dict[str, Any], seq: int, index: int) -> JournalEntry:
    result = item.get("result", {}).get("S") or None
    return JournalEntry(
        contact_id=contact_id,
        seq=seq,
        index=index,
        tool=item["tool"]["S"],
        arguments_json=item["arguments"]["S"],
        args_hash=item["args_hash"]["S"],
        idempotency_key=item["idempotency_key"]["S"],
        state=JournalState(item["state"]["S"]),
        result_json=result,
    )
