"""``SessionStore`` on one DynamoDB table (``dynamodb_table.py`` holds the requests).

Key schema (declared in ``infra/template.json``; a test checks they agree), one partition per
contact:

==========  =====================  ===================================  =========================================
item        pk                     sk                                   other attributes
==========  =====================  ===================================  =========================================
session     ``CONTACT#<id>``       ``SESSION``                          version (N), last_seq, status, state
turn        ``CONTACT#<id>``       ``TURN#<seq:06d>``                   seq (N), digest, record
tool call   ``CONTACT#<id>``       ``TOOL#<seq:06d>#<index:02d>``       tool, arguments, args_hash, idempotency_key,
                                                                        state, result (``dynamodb_journal.py``)
speculation ``CONTACT#<id>``       ``SPEC#<seq:06d>#<words hash>``      state, record (``dynamodb_speculation.py``)
transcript  ``CONTACT#<id>``       ``TRANSCRIPT``                       version (N), state (``dynamodb_transcript.py``)
==========  =====================  ===================================  =========================================

Every item carries ``expires_at`` (N, epoch seconds), the table's TTL attribute. DynamoDB
deletes expired items up to days late, so reads treat them as absent and conditions treat them
as free (``dynamodb_table.free_slot``).

A new turn costs one strongly consistent ``GetItem`` and one ``TransactWriteItems`` whose two
puts are conditional: the turn item must not exist, and the session must still have the
version it was read at. botocore fills the transaction's ``ClientRequestToken`` once per call,
so its own retry after a timeout cannot apply the write twice.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb_table import (
    PARTITION_KEY,
    SORT_KEY,
    TRANSACTION_CONFLICTS,
    TTL_ATTRIBUTE,
    DynamoDbTable,
    Refused,
    contact_pk,
    free_slot,
    item_key,
    version_condition,
)
from chalicelib.adapters.session_codec import session_from_json, session_to_json, turn_from_json, turn_to_json
from chalicelib.domain.session import Session, TurnRecord
from chalicelib.errors import SessionVersionConflictError, StoreUnavailableError, TurnAlreadyRecordedError

__all__ = ["PARTITION_KEY", "SESSION_SK", "SORT_KEY", "TTL_ATTRIBUTE", "DynamoDbSessionStore", "contact_pk"]

SESSION_SK = "SESSION"
TURN_PREFIX = "TURN#"


def turn_sk(seq: int) -> str:
    return f"{TURN_PREFIX}{seq:06d}"


class DynamoDbSessionStore(DynamoDbTable):
    """Sessions and turns (``SessionStore`` for the turn, ``SessionRepository`` for the others)."""

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        item = self._get(item_key(contact_id, SESSION_SK), now_ms)
        return None if item is None else session_from_json(item["state"]["S"], int(item["version"]["N"]))

    def load_turn(self, contact_id: str, seq: int, now_ms: int) -> TurnRecord | None:
        item = self._get(item_key(contact_id, turn_sk(seq)), now_ms)
        return None if item is None else turn_from_json(item["record"]["S"])

    def load_turns(self, contact_id: str, now_ms: int) -> tuple[TurnRecord, ...]:
        return tuple(turn_from_json(i["record"]["S"]) for i in self._query(contact_pk(contact_id), TURN_PREFIX, now_ms))

    def commit_turn(self, turn: TurnRecord, session: Session, now_ms: int) -> Session:
        stored = session.evolve(version=session.version + 1)
        turn_item = {
            **item_key(turn.contact_id, turn_sk(turn.seq)),
            "seq": {"N": str(turn.seq)},
            "digest": {"S": turn.digest},
            "record": {"S": turn_to_json(turn)},
            TTL_ATTRIBUTE: self._expires_at(now_ms),
        }
        session_item = self._session_item(stored, now_ms)
        refused = self._transact_puts(
            [(turn_item, free_slot(now_ms)), (session_item, version_condition(session.version, now_ms))]
        )
        if refused is not None:
            raise _commit_error(refused, turn, session)
        return stored

    def save_session(self, session: Session, now_ms: int) -> Session:
        stored = session.evolve(version=session.version + 1)
        if self._put(self._session_item(stored, now_ms), version_condition(session.version, now_ms)) is not None:
            raise SessionVersionConflictError(f"session changed since version {session.version}")
        return stored

    def _session_item(self, stored: Session, now_ms: int) -> dict[str, Any]:
        return {
            **item_key(stored.contact_id, SESSION_SK),
            "version": {"N": str(stored.version)},
            "last_seq": {"N": str(stored.last_seq)},
            "status": {"S": stored.status.value},
            "state": {"S": session_to_json(stored)},
            TTL_ATTRIBUTE: self._expires_at(now_ms),
        }


def _commit_error(refused: Refused, turn: TurnRecord, session: Session) -> Exception:
    """What a refused commit means for the use case."""
    if refused.code in TRANSACTION_CONFLICTS:
        return SessionVersionConflictError(f"DynamoDB {refused.code}")
    turn_reason, session_reason = [*refused.reasons, "None", "None"][:2]
    if turn_reason == "ConditionalCheckFailed":
        return TurnAlreadyRecordedError(f"turn {turn.seq} is already recorded")
    if session_reason == "ConditionalCheckFailed" or "TransactionConflict" in refused.reasons:
        return SessionVersionConflictError(f"session changed since version {session.version}")
    return StoreUnavailableError(f"DynamoDB transaction cancelled: {list(refused.reasons)}")
