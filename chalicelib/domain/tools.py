"""Tools: the declared tool-call graph, what a call must satisfy, and exactly-once bookkeeping.

The model is offered only the tools reachable from where the conversation is (the last tool
called, or the graph's start). A call outside the graph, with arguments that fail the tool's
JSON schema, or beyond the turn's call limit is refused before anything is sent: this is also
the line of defence against a caller talking the model into an action it should not take.
Side-effecting calls are journaled with an idempotency key derived from contact, turn and call
index, so no retry, redelivery or crash can make the effect happen twice.

Caller data reaches a tool by token: the model only ever sees (and passes) ``[CARD_1]``; the
runner swaps each token for its value from the vault just before the call (``vault_tokens``,
``with_vault_values``), checks the schema on the real values, and scrubs the result
(``scrubbed_result``) before the model, the session or the journal see it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.model import ToolSpec
from chalicelib.errors import ToolResultInvalidError, VaultValueMissingError

MAX_RESULT_BYTES = 2048
MAX_RESULT_DEPTH = 3
MAX_STRING_CHARS = 300
# A vault token: as the redactor numbers them ("[CARD_1]", "[PHONE_2]"), or the one a use case
# names itself (domain/handover.py CALLER_NUMBER_TOKEN, the caller's own number).
VAULT_TOKEN = re.compile(r"\[[A-Z][A-Z_]*_[0-9]+\]|\[CALLER_PHONE\]")


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

    def refusal(
        self, name: str, arguments_json: str, last_tool: str | None, calls_made: int, *, schema: bool = True
    ) -> str | None:
        """Why a call the model asked for must not be made, or None.

        ``schema=False`` leaves the arguments' schema to the caller, who checks it on the real
        values once the vault's tokens are swapped in (``with_vault_values``).
        """
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
        if not schema:
            return None
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


def vault_tokens(arguments: object) -> frozenset[str]:
    """Every vault token in the string values of ``arguments`` (at any depth; keys are names,
    never tokens).

    Example:
        >>> sorted(vault_tokens({"card_number": "[CARD_1]", "note": "expires [EXPIRY_1]", "amount": 20}))
        ['[CARD_1]', '[EXPIRY_1]']
    """
    if isinstance(arguments, str):
        return frozenset(VAULT_TOKEN.findall(arguments))
    if isinstance(arguments, dict):
        return frozenset().union(*(vault_tokens(v) for v in arguments.values()))
    if isinstance(arguments, list):
        return frozenset().union(*(vault_tokens(v) for v in arguments))
    return frozenset()


def with_vault_values(arguments: object, values: Mapping[str, str]) -> Any:
    """``arguments`` with each vault token in a string value replaced by its raw value.

    Raises:
        VaultValueMissingError: a token ``values`` lacks (named; its value never was, or is gone).

    Example:
        >>> with_vault_values({"card_number": "[CARD_1]", "amount": 20}, {"[CARD_1]": "4111111111111111"})
        {'card_number': '4111111111111111', 'amount': 20}
    """
    missing = sorted(vault_tokens(arguments) - values.keys())
    if missing:
        raise VaultValueMissingError(f"the vault holds no value for {', '.join(missing)}")
    return _swapped(arguments, values)


def _swapped(value: object, values: Mapping[str, str]) -> object:
    if isinstance(value, str):
        return VAULT_TOKEN.sub(lambda m: values[m.group(0)], value)
    if isinstance(value, dict):
        return {k: _swapped(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_swapped(v, values) for v in value]
    return value


def scrubbed_result(result: dict[str, Any], scrub: Callable[[str], str]) -> dict[str, Any]:
    """A tool's (bounded) result with the caller data in it replaced by bare labels (``scrub``:
    ``Redactor.scrub``), before the model, the session or the journal see it.

    The result's JSON text is scrubbed whole (a key names what a value is: a cue). When that
    breaks the JSON (a number replaced by a label), each value is scrubbed on its own instead, a
    number that holds caller data becoming its label.

    Example:
        >>> scrubbed_result({"card": 4111111111111111}, lambda t: t.replace("4111111111111111", "[CARD]"))
        {'card': '[CARD]'}
    """
    text = json.dumps(result, sort_keys=True, separators=(",", ":"))
    cleaned = scrub(text)
    if cleaned == text:
        return result
    try:
        parsed = json.loads(cleaned)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return _scrubbed_leaves(result, scrub)  # type: ignore[return-value]


def _scrubbed_leaves(value: object, scrub: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed_leaves(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed_leaves(v, scrub) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = json.dumps(value)
        cleaned = scrub(text)
        return value if cleaned == text else cleaned
    return value


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
    """One side-effecting call of one turn, journaled before and after the call.

    ``arguments_json`` and ``args_hash`` are the arguments as the model gave them (vault tokens,
    never their values); ``result_json`` is the scrubbed result.
    """

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
    # ok | replayed | refused:<why> | timeout | unavailable | rejected | invalid_result | held |
    # vault_unavailable
    outcome: str
    ms: float = 0.0
    idempotency_key: str | None = None
