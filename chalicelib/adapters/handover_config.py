"""``chalicelib/data/handover.json`` (or the file a stage names) into the domain's
``HandoverPolicy``, validated: a topic the domain cannot recognise is a configuration error."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chalicelib.domain.handover import TOPIC_PATTERNS, BusinessHours, HandoverPolicy
from chalicelib.errors import ConfigurationInvalidError

_WINDOWS = Literal["morning", "afternoon", "evening"]


class _Hours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    utc_offset_minutes: int = Field(ge=-14 * 60, le=14 * 60)
    days: list[int] = Field(min_length=1)
    opens: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    closes: str = Field(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if not set(days) <= set(range(7)):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return days


class _HandoverFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str = Field(default="", alias="_comment")
    human_only_topics: list[str] = Field(default_factory=list)
    queues: dict[str, str] = Field(default_factory=dict)
    default_queue: str = Field(min_length=1)
    business_hours: _Hours
    wait_seconds: int = Field(ge=1, le=365 * 24 * 3600)
    heartbeat_seconds: int = Field(ge=1, le=365 * 24 * 3600)
    callback_window: _WINDOWS = "morning"

    @field_validator("human_only_topics")
    @classmethod
    def _known_topics(cls, topics: list[str]) -> list[str]:
        unknown = set(topics) - set(TOPIC_PATTERNS)
        if unknown:
            raise ValueError(f"topics the domain does not recognise: {sorted(unknown)}")
        return topics


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def load_handover_policy(path: Path, default_queue: str | None = None) -> HandoverPolicy:
    """The handover policy in ``path``.

    Raises:
        ConfigurationInvalidError: unreadable, not the schema, an unknown topic, or a wait
            shorter than its heartbeat.
    """
    try:
        data = _HandoverFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    if data.heartbeat_seconds >= data.wait_seconds:
        raise ConfigurationInvalidError(f"{path.name}: heartbeat_seconds must be below wait_seconds")
    hours = data.business_hours
    return HandoverPolicy(
        human_only_topics=tuple(data.human_only_topics),
        queues=tuple(sorted(data.queues.items())),
        default_queue=default_queue or data.default_queue,
        hours=BusinessHours(hours.utc_offset_minutes, tuple(hours.days), _minutes(hours.opens), _minutes(hours.closes)),
        wait_seconds=data.wait_seconds,
        heartbeat_seconds=data.heartbeat_seconds,
        callback_window=data.callback_window,
    )
