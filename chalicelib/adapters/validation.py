"""Naming where an event failed validation, without its values (they may hold PII)."""

from __future__ import annotations

from pydantic import ValidationError


def error_locations(exc: ValidationError, limit: int = 5) -> str:
    """``Details.ContactData.ContactId (missing), ...`` for the first ``limit`` errors."""
    return ", ".join(".".join(str(p) for p in e["loc"]) + f" ({e['type']})" for e in exc.errors()[:limit])
