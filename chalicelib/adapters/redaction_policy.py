"""The redaction policy file (``chalicelib/data/redaction.json``), validated by pydantic into the
domain's ``RedactionPolicy``. Read once per container (by ``bootstrap``), never during a turn."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.domain.redaction import Redactor
from chalicelib.domain.redaction_policy import Action, EntityKind, KindRule, RedactionPolicy
from chalicelib.errors import ConfigurationInvalidError

DATA = Path(__file__).resolve().parent.parent / "data"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _CueWindowFile(_Strict):
    before_chars: int = Field(ge=0, le=200)
    after_chars: int = Field(ge=0, le=200)


class _KindFile(_Strict):
    kind: EntityKind
    action: Action
    label: str = Field(pattern=r"^[A-Z][A-Z_]*$")
    min_digits: int = Field(default=0, ge=0, le=32)
    max_digits: int = Field(default=0, ge=0, le=32)
    cues: list[str] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)
    excluded_by: list[str] = Field(default_factory=list)
    cue_groupings: list[list[int]] = Field(default_factory=list)
    remember: bool = True
    comment: str = Field(default="", alias="_comment")


class _PolicyFile(_Strict):
    comment: str = Field(default="", alias="_comment")
    cue_window: _CueWindowFile
    contexts: dict[str, list[str]]
    kinds: list[_KindFile]


def load_redaction_policy(path: Path = DATA / "redaction.json") -> RedactionPolicy:
    """The redaction policy; every kind has one rule, and a security code is never stored.

    Example:
        >>> load_redaction_policy().rule(EntityKind.SECURITY_CODE).action
        <Action.REDACT: 'redact'>

    Raises:
        ConfigurationInvalidError: the file is not valid, a kind is missing or listed twice, a
            rule names an unknown context, or the security code is anything but redacted.
    """
    try:
        data = _PolicyFile.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc
    rules = tuple(
        KindRule(k.kind, k.action, k.label, k.min_digits, k.max_digits, frozenset(k.cues), frozenset(k.requires),
                 frozenset(k.excluded_by), tuple(tuple(g) for g in k.cue_groupings), k.remember)
        for k in data.kinds
    )  # fmt: skip
    contexts = {name: tuple(words) for name, words in data.contexts.items()}
    try:
        return RedactionPolicy(rules, contexts, data.cue_window.before_chars, data.cue_window.after_chars)
    except ConfigurationInvalidError as exc:
        raise ConfigurationInvalidError(f"{path.name}: {exc}") from exc


@functools.cache
def process_redactor() -> Redactor:
    """The shipped policy with a random key of this process, loaded once: for scrubbing (bare
    labels, no state: a log line, a tool's result, a segment) and for redaction whose tokens need
    not outlive the process (the transcriber's run). A redactor whose tokens must match across
    containers (the turn's) takes this one's policy with the deployment's key."""
    return Redactor(load_redaction_policy(), secrets.token_bytes(32))


__all__ = ["load_redaction_policy", "process_redactor"]
