"""Tools: the declared tool-call graph, what a call must satisfy, and exactly-once bookkeeping.

The model is offered only the tools reachable from where the conversation is (the last tool
called, or the graph's start). A call outside the graph, with arguments that fail the tool's
JSON schema, or beyond the turn's call limit is refused before anything is sent: this is also
the line of defence against a caller talking the model into an action it should not take.
Side-effecting calls are journaled with an idempotency key derived from contact, turn and call
index, so no retry, redelivery or crash can make the effect happen twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.model import ToolSpec
from chalicelib.errors import ToolResultInvalidError

MAX_RESULT_BYTES = 2048
MAX_RESULT_DEPTH = 3
MAX_STRING_CHARS = 300


class ToolKind(StrEnum):
    READ = "read"
    SIDE_EFFECT = "side_effect"


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    kind: ToolKind
    transport: str  # "mcp" | "http"
    timeout_ms: float
    latency_prior_ms: float  # what a call usually takes, to decide whether one still fits
    parameters_json: str  # JSON schema of the arguments
    next: tuple[str, ...] = ()

    @property
    def schema(self) -> dict[str, Any]:
        return json.loads(self.parameters_json)  # type: ignore[no-any-return]

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters_json)


@dataclass(frozen=True)
class ToolGraph:
    tools: tuple[ToolDef, ...]
    start: tuple[str, ...]
    max_calls_per_turn: int = 3

    def get(self, name: str) -> ToolDef | None:
        return next((t for t in self.tools if t.name == name), None)

    def reachable(self, last_tool: str | None) -> tuple[str, ...]:
        """Tool names allowed next: after ``last_tool``, or from the start (also after a tool
        that leads nowhere)."""
        last = self.get(last_tool) if last_tool else None
        return last.next if last is not None and last.next else self.start

    def offered(self, last_tool: str | None) -> tuple[ToolSpec, ...]:
        return tuple(t.spec() for t in self.tools if t.name in self.reachable(last_tool))

    def refusal(self, name: str, arguments_json: str, last_tool: str | None, calls_made: int) -> str | None:
        """Why a call the model asked for must not be made, or None."""
        tool = self.get(name)
        if tool is None:
            return "unknown_tool"
        if calls_made >= self.max_calls_per_turn:
            return "call_limit"
        if name not in self.reachable(last_tool):
            return "not_in_graph"
        try:
            arguments = json.loads(arguments_json or "{}")
        except ValueError:
            return "schema:arguments are not JSON"
        problem = schema_problem(tool.schema, arguments)
        return f"schema:{problem}" if problem else None


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float),
}  # fmt: skip


def schema_problem(schema: dict[str, Any], value: object, path: str = "$") -> str | None:
    """The first way ``value`` breaks ``schema``, or None.

    Covers the subset of JSON Schema the tool declarations use: type, required, properties,
    additionalProperties: false, enum, pattern, minLength/maxLength, minimum/maximum, items.
    """
    expected = schema.get("type")
    if expected is not None and not _has_type(value, expected):
        return f"{path} must be {expected}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path} is not one of the allowed values"
    if isinstance(value, str):
        return _string_problem(schema, value, path)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = schema.get("minimum", float("-inf")), schema.get("maximum", float("inf"))
        return f"{path} is out of range" if not low <= value <= high else None
    if isinstance(value, dict):
        return _object_problem(schema, value, path)
    if isinstance(value, list) and "items" in schema:
        return next(
            (p for i, item in enumerate(value) if (p := schema_problem(schema["items"], item, f"{path}[{i}]"))), None
        )
    return None


def _has_type(value: object, expected: str) -> bool:
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[expected])


def _string_problem(schema: dict[str, Any], value: str, path: str) -> str | None:
    if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10_000):
        return f"{path} has the wrong length"
    if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
        return f"{path} does not match its pattern"
    return None


def _object_problem(schema: dict[str, Any], value: dict[str, Any], path: str) -> str | None:
    properties = schema.get("properties", {})
    missing = [name for name in schema.get("required", ()) if name not in value]
    if missing:
        return f"{path}.{missing[0]} is required"
    extra = sorted(set(value) - set(properties)) if schema.get("additionalProperties") is False else []
    if extra:
        return f"{path}.{extra[0]} is not allowed"
    for name, item in value.items():
        problem = schema_problem(properties[name], item, f"{path}.{name}") if name in properties else None
        if problem:
            return problem
    return None


def bounded_result(data: object) -> dict[str, Any]:
    """A tool's result made safe to show a model or a caller: a JSON object of plain values,
    at most ``MAX_RESULT_DEPTH`` deep, strings cut to ``MAX_STRING_CHARS``, at most
    ``MAX_RESULT_BYTES`` serialized.

    Raises:
        ToolResultInvalidError: not an object, too deep, or too large even after cutting.
    """
    if not isinstance(data, dict):
        raise ToolResultInvalidError(f"tool result is a {type(data).__name__}, not an object")
    cleaned = _clean(data, depth=1)
    if len(json.dumps(cleaned, separators=(",", ":"))) > MAX_RESULT_BYTES:
        raise ToolResultInvalidError(f"tool result is larger than {MAX_RESULT_BYTES} bytes")
    return cleaned  # type: ignore[return-value]


def _clean(value: object, depth: int) -> object:
    if depth > MAX_RESULT_DEPTH:
        raise ToolResultInvalidError(f"tool result is nested deeper than {MAX_RESULT_DEPTH}")
    if isinstance(value, dict):
        return {str(k)[:64]: _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value[:20]]
    if isinstance(value, str):
        return value[:MAX_STRING_CHARS]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise ToolResultInvalidError(f"tool result holds a {type(value).__name__}")


def arguments_hash(arguments_json: str) -> str:
    """A fingerprint of the arguments, independent of key order and spacing."""
    canonical = json.dumps(json.loads(arguments_json or "{}"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def idempotency_key(contact_id: str, seq: int, index: int, tool: str) -> str:
    """The key a side effect carries: the same for every retry of this call of this turn."""
    return hashlib.sha256(f"{contact_id}|{seq}|{index}|{tool}".encode()).hexdigest()[:32]


class JournalState(StrEnum):
    PENDING = "pending"  # written before the call; the effect may or may not have happened
    DONE = "done"  # the tool answered; ``result_json`` holds its (bounded) result
    FAILED = "failed"  # the tool refused the call (4xx): nothing happened


@dataclass(frozen=True)
class JournalEntry:
    """One side-effecting call of one turn, journaled before and after the call."""

    contact_id: str
    seq: int
    index: int
    tool: str
    arguments_json: str
    args_hash: str
    idempotency_key: str
    state: JournalState = JournalState.PENDING
    result_json: str | None = None


@dataclass(frozen=True)
class ToolCallRecord:
    """A tool call as recorded on the turn."""

    name: str
    kind: str
    outcome: str  # ok | replayed | refused:<why> | timeout | unavailable | rejected | invalid_result | held
    ms: float = 0.0
    idempotency_key: str | None = None
