"""Usage as adapters record it: quantities, never money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class UsageKind(StrEnum):
    LLM_INPUT_TOKENS = "llm_input_tokens"
    LLM_OUTPUT_TOKENS = "llm_output_tokens"
    LAMBDA_REQUESTS = "lambda_requests"
    LAMBDA_GB_SECONDS = "lambda_gb_seconds"
    DYNAMODB_READ_UNITS = "dynamodb_read_units"
    DYNAMODB_WRITE_UNITS = "dynamodb_write_units"
    CONNECT_VOICE_MINUTES = "connect_voice_minutes"
    CONTACT_LENS_MINUTES = "contact_lens_minutes"
    LEX_SPEECH_REQUESTS = "lex_speech_requests"
    TRANSCRIBE_SECONDS = "transcribe_seconds"
    KINESIS_GB = "kinesis_gb"
    STEPFUNCTIONS_TRANSITIONS = "stepfunctions_transitions"


@dataclass(frozen=True)
class Usage:
    kind: UsageKind
    quantity: Decimal
    model: str | None = None  # for LLM tokens


def tokens(model: str, input_tokens: int, output_tokens: int) -> tuple[Usage, ...]:
    return (
        Usage(UsageKind.LLM_INPUT_TOKENS, Decimal(input_tokens), model),
        Usage(UsageKind.LLM_OUTPUT_TOKENS, Decimal(output_tokens), model),
    )
