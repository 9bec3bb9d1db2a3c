"""``ToolJournal`` in the session table: one item per side-effecting call of a turn.

``pk = CONTACT#<id>``, ``sk = TOOL#<seq:06d>#<index:02d>``; attributes: tool, arguments,
args_hash, idempotency_key, state (pending | done | failed), result, expires_at. The item is
created conditionally before the call, so two deliveries of one turn share one entry, and the
existing entry (its arguments and key) wins.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb_table import TTL_ATTRIBUTE, DynamoDbTable, free_slot, item_key
from chalicelib.domain.tools import JournalEntry, JournalState
from chalicelib.errors import StoreUnavailableError


def journal_sk(seq: int, index: int) -> str:
    return f"TOOL#{seq:06d}#{index:02d}"


class DynamoDbToolJournal(DynamoDbTable):
    def begin(self, entry: JournalEntry, now_ms: int) -> JournalEntry:
        item = {
            **item_key(entry.contact_id, journal_sk(entry.seq, entry.index)),
            "tool": {"S": entry.tool},
            "arguments": {"S": entry.arguments_json},
            "args_hash": {"S": entry.args_hash},
            "idempotency_key": {"S": entry.idempotency_key},
            "state": {"S": JournalState.PENDING.value},
            TTL_ATTRIBUTE: self._expires_at(now_ms),
        }
        refused = self._put(item, free_slot(now_ms), return_existing=True)
        if refused is None:
            return entry
        if refused.existing is None:
            raise StoreUnavailableError("journal entry exists but was not returned")
        return _entry(entry.contact_id, refused.existing, entry.seq, entry.index)

    def finish(self, entry: JournalEntry, now_ms: int) -> None:
        refused = self._update(
            item_key(entry.contact_id, journal_sk(entry.seq, entry.index)),
            "SET #s = :s, #r = :r",
            "idempotency_key = :k",
            {"#s": "state", "#r": "result"},
            {":s": {"S": entry.state.value}, ":r": {"S": entry.result_json or ""}, ":k": {"S": entry.idempotency_key}},
        )
        if refused is not None:
            raise StoreUnavailableError("journal entry holds another idempotency key")


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
