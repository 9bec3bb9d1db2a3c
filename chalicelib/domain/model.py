"""What goes to a model and what comes back, and when an answer is not usable."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message that called tools
    tool_call_id: str | None = None  # a tool message: which call it answers


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: name, description and JSON schema of its arguments."""

    name: str
    description: str
    parameters_json: str  # the JSON schema, as text (hashable, frozen)


@dataclass(frozen=True)
class ModelAnswer:
    """One completed model call."""

    model: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    first_token_ms: float | None = None
    total_ms: float = 0.0


class AnswerProblem(StrEnum):
    EMPTY = "empty"
    REFUSED = "refused"
    TRUNCATED = "truncated"
    BAD_TOOL_CALL = "bad_tool_call"


_REFUSAL = re.compile(
    r"^\s*(i'?m sorry,? (?:but )?i (?:can(?:'|no)t|am unable to|won'?t)|"
    r"i can(?:'|no)t (?:help|assist) with (?:that|this)|"
    r"as an ai\b)",
    re.IGNORECASE,
)


def answer_problem(answer: ModelAnswer) -> AnswerProblem | None:
    """Why ``answer`` cannot be used, or None when it can.

    A tool call is malformed here when it has no name or its arguments are not a JSON object;
    whether the call is allowed (graph, schema, limit) is ``ToolGraph.refusal``'s decision.
    """
    for call in answer.tool_calls:
        if not call.name or not _is_json_object(call.arguments):
            return AnswerProblem.BAD_TOOL_CALL
    if answer.tool_calls:
        return None
    if not answer.text.strip():
        return AnswerProblem.EMPTY
    if answer.finish_reason == "content_filter" or _REFUSAL.match(answer.text):
        return AnswerProblem.REFUSED
    if answer.finish_reason == "length" and not answer.text.rstrip().endswith((".", "?", "!")):
        return AnswerProblem.TRUNCATED
    return None


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text or "{}"), dict)
    except ValueError:
        return False


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token in English), for estimates only."""
    return max(1, (len(text) + 3) // 4)
