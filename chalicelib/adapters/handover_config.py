"""``chalicelib/data/handover.json`` (or the file a stage names) into the domain's
``HandoverPolicy``, validated: a topic the domain cannot recognise is a configuration error, and
so is a language's queue variant of a queue the file does not name, or a language's topic phrase
for a topic the domain does not recognise."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chalicelib.domain.handover import TOPIC_PATTERNS, BusinessHours, HandoverPolicy, topic_patterns
from chalicelib.errors import ConfigurationInvalidError

_WINDOWS = Literal["morning", "afternoon", "evening"]
_LANGUAGE = r"^[a-z]{2,3}-[A-Z]{2}$"  # Connect's xx-XX


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
    # language -> queue -> that language's queue (a queue without one is kept)
    language_queues: dict[str, dict[str, str]] = Field(default_factory=dict)
    # language -> topic -> phrases naming it in that language (English: the domain's patterns)
    topic_phrases: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    @field_validator("human_only_topics")
    @classmethod
    def _known_topics(cls, topics: list[str]) -> list[str]:
        unknown = set(topics) - set(TOPIC_PATTERNS)
        if unknown:
            raise ValueError(f"topics the domain does not recognise: {sorted(unknown)}")
        return topics

    @field_validator("language_queues", "topic_phrases")
    @classmethod
    def _languages(cls, by_language: dict[str, Any]) -> dict[str, Any]:
        bad = [language for language in by_language if not re.match(_LANGUAGE, language)]
        if bad:
            raise ValueError(f"languages are xx-XX (Connect's LanguageCode), not {bad}")
        return by_language

    @field_validator("topic_phrases")
    @classmethod
    def _known_phrase_topics(cls, by_language: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for language, phrases in by_language.items():
            unknown = set(phrases) - set(TOPIC_PATTERNS)
            if unknown:
                raise ValueError(f"{language}: topics the domain does not recognise: {sorted(unknown)}")
            empty = [topic for topic, words in phrases.items() if not any(w.strip() for w in words)]
            if empty:
                raise ValueError(f"{language}: topics without a phrase: {empty}")
        return by_language


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
    named = {*data.queues.values(), data.default_queue}
    for language, variants in data.language_queues.items():
        if set(variants) - named:
            raise ConfigurationInvalidError(f"{path.name}: {language} has variants of queues the file does not "
                                            f"name: {sorted(set(variants) - named)}")  # fmt: skip
    hours = data.business_hours
    return HandoverPolicy(
        human_only_topics=tuple(data.human_only_topics),
        queues=tuple(sorted(data.queues.items())),
        default_queue=default_queue or data.default_queue,
        hours=BusinessHours(hours.utc_offset_minutes, tuple(hours.days), _minutes(hours.opens), _minutes(hours.closes)),
        wait_seconds=data.wait_seconds,
        heartbeat_seconds=data.heartbeat_seconds,
        callback_window=data.callback_window,
        language_queues=tuple(sorted((k, tuple(sorted(v.items()))) for k, v in data.language_queues.items())),
        topic_packs=tuple(sorted((k, tuple(sorted(topic_patterns(v).items()))) for k, v in data.topic_phrases.items())),
    )
