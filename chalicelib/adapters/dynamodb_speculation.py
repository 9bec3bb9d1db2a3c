"""``SpeculationStore`` in the session table: one item per speculative turn.

``pk = CONTACT#<id>``, ``sk = SPEC#<seq:06d>#<hash of the words' key>`` (``Speculation.key``,
not its transcript: the words as heard stay in the record); attributes: state, record (the
speculation as JSON, validated on the way back), expires_at. ``start`` is a conditional put, so
two triggers for the same words make one speculation.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chalicelib.adapters.dynamodb_table import TTL_ATTRIBUTE, DynamoDbTable, contact_pk, free_slot, item_key
from chalicelib.domain.speculation import Speculation
from chalicelib.errors import StoreDataCorruptError

_SPECULATION = TypeAdapter(Speculation)
SPEC_PREFIX = "SPEC#"


def speculation_sk(seq: int, key: str) -> str:
    return f"{SPEC_PREFIX}{seq:06d}#{hashlib.sha256(key.encode()).hexdigest()[:16]}"


class DynamoDbSpeculationStore(DynamoDbTable):
    def start(self, speculation: Speculation, now_ms: int) -> bool:
        return self._put(self._item(speculation, now_ms), free_slot(now_ms)) is None

    def finish(self, speculation: Speculation, now_ms: int) -> None:
        self._put(self._item(speculation, now_ms))

    def get(self, contact_id: str, seq: int, key: str, now_ms: int) -> Speculation | None:
        item = self._get(item_key(contact_id, speculation_sk(seq, key)), now_ms)
        return None if item is None else _speculation(item)

    def load_all(self, contact_id: str, now_ms: int) -> tuple[Speculation, ...]:
        return tuple(_speculation(i) for i in self._query(contact_pk(contact_id), SPEC_PREFIX, now_ms))

    def _item(self, speculation: Speculation, now_ms: int) -> dict[str, Any]:
        return {
            **item_key(speculation.contact_id, speculation_sk(speculation.seq, speculation.key)),
            "state": {"S": speculation.state.value},
            "record": {"S": _SPECULATION.dump_json(speculation).decode("utf-8")},
            TTL_ATTRIBUTE: self._expires_at(now_ms),
        }


def _speculation(item: dict[str, Any]) -> Speculation:
    try:
        return _SPECULATION.validate_json(item["record"]["S"])
    except (ValidationError, KeyError) as exc:
        raise StoreDataCorruptError("stored speculation does not match the speculation model") from exc
