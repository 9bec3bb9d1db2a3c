"""Sessions and turn records to and from JSON, validated by pydantic.

The domain's frozen dataclasses are the schema: pydantic validates them directly, so there is
no second copy of every field to keep in step.
"""

from __future__ import annotations

import json

from pydantic import TypeAdapter, ValidationError

from chalicelib.domain.session import Session, TurnRecord
from chalicelib.errors import StoreDataCorruptError

_SESSION = TypeAdapter(Session)
_TURN = TypeAdapter(TurnRecord)


def session_to_json(session: Session) -> str:
    """The session without its version (the store keeps the version as its own attribute)."""
    return _SESSION.dump_json(session, exclude={"version"}).decode("utf-8")


def session_from_json(data: str, version: int) -> Session:
    try:
        return _SESSION.validate_python({**json.loads(data), "version": version})
    except (ValidationError, ValueError, TypeError) as exc:
        raise StoreDataCorruptError("stored session does not match the session model") from exc


def turn_to_json(turn: TurnRecord) -> str:
    return _TURN.dump_json(turn).decode("utf-8")


def turn_from_json(data: str) -> TurnRecord:
    try:
        return _TURN.validate_json(data)
    except ValidationError as exc:
        raise StoreDataCorruptError("stored turn does not match the turn model") from exc
