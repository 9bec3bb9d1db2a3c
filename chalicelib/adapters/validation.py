"""What the event parsers share: lenient models, enums read whatever their case, and naming
where an event failed validation without its values (they may hold PII)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

E = TypeVar("E", bound=StrEnum)
UNKNOWN = "UNKNOWN"


class Lenient(BaseModel):
    """An AWS event or record: fields we do not read are ignored (AWS adds them), values frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def error_locations(exc: ValidationError, limit: int = 5) -> str:
    """``Details.ContactData.ContactId (missing), ...`` for the first ``limit`` errors."""
    return ", ".join(".".join(str(p) for p in e["loc"]) + f" ({e['type']})" for e in exc.errors()[:limit])


def known_or_unknown(enum: type[E], value: object) -> E | None:
    """``value`` as a member of ``enum`` whatever its case and surrounding blanks (``"Voice"`` is
    ``VOICE``); a value ``enum`` does not know is its ``UNKNOWN`` member; None stays None."""
    if value is None or isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().upper())
    except ValueError:
        return enum(UNKNOWN)


def lenient_enum(enum: type[StrEnum]) -> BeforeValidator:
    """A field validator for ``Annotated[SomeEnum | None, lenient_enum(SomeEnum)]``."""
    return BeforeValidator(lambda value: known_or_unknown(enum, value))


def _empty_if_null(value: Any) -> Any:
    return {} if value is None else value


# A map or list AWS may send as null: read as empty.
NULL_AS_EMPTY = BeforeValidator(_empty_if_null)
NULL_AS_NO_ITEMS = BeforeValidator(lambda value: [] if value is None else value)


def as_map(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: for reading an event leniently."""
    return value if isinstance(value, dict) else {}
