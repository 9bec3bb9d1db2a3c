"""The cost ledger: the only place usage becomes money.

Adapters record usage (tokens, requests, seconds, units); prices come from one file
(``chalicelib/data/prices.json``, loaded into a ``PriceBook``). Money is ``Decimal``
throughout; rounding happens only when a report displays it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.domain.usage import Usage, UsageKind
from chalicelib.errors import PriceMissingError

MILLION = Decimal(1_000_000)
SECONDS_PER_MINUTE = Decimal(60)


@dataclass(frozen=True)
class ModelPrice:
    input_per_million_tokens: Decimal
    output_per_million_tokens: Decimal

    def cost(self, kind: UsageKind, tokens: Decimal) -> Decimal:
        """The money ``tokens`` input or output tokens of this model cost."""
        per_million = (
            self.input_per_million_tokens if kind is UsageKind.LLM_INPUT_TOKENS else self.output_per_million_tokens
        )
        return tokens * per_million / MILLION


@dataclass(frozen=True)
class PriceBook:
    services: dict[str, Decimal] = field(default_factory=dict)
    models: dict[str, ModelPrice] = field(default_factory=dict)
    lambda_architecture: str = "arm64"

    def service(self, key: str) -> Decimal:
        try:
            return self.services[key]
        except KeyError:
            raise PriceMissingError(f"no price for {key}") from None

    def model(self, name: str) -> ModelPrice:
        try:
            return self.models[name]
        except KeyError:
            raise PriceMissingError(f"no price for model {name}") from None


# Which component of the bill each kind of usage belongs to, and its price key.
COMPONENT = {
    UsageKind.LLM_INPUT_TOKENS: "llm",
    UsageKind.LLM_OUTPUT_TOKENS: "llm",
    UsageKind.LAMBDA_REQUESTS: "lambda",
    UsageKind.LAMBDA_GB_SECONDS: "lambda",
    UsageKind.DYNAMODB_READ_UNITS: "dynamodb",
    UsageKind.DYNAMODB_WRITE_UNITS: "dynamodb",
    UsageKind.CONNECT_VOICE_MINUTES: "connect",
    UsageKind.CONTACT_LENS_MINUTES: "contact_lens",
    UsageKind.LEX_SPEECH_REQUESTS: "lex",
    UsageKind.TRANSCRIBE_SECONDS: "transcribe",
    UsageKind.KINESIS_GB: "kinesis",
    UsageKind.STEPFUNCTIONS_TRANSITIONS: "stepfunctions",
}
_SERVICE_KEY = {
    UsageKind.LAMBDA_REQUESTS: "lambda_request",
    UsageKind.DYNAMODB_READ_UNITS: "dynamodb_read_request_unit",
    UsageKind.DYNAMODB_WRITE_UNITS: "dynamodb_write_request_unit",
    UsageKind.CONNECT_VOICE_MINUTES: "connect_voice_minute",
    UsageKind.CONTACT_LENS_MINUTES: "contact_lens_realtime_minute",
    UsageKind.LEX_SPEECH_REQUESTS: "lex_speech_request",
    UsageKind.TRANSCRIBE_SECONDS: "transcribe_streaming_second",
    UsageKind.KINESIS_GB: "kinesis_on_demand_gb_in",
    UsageKind.STEPFUNCTIONS_TRANSITIONS: "stepfunctions_standard_transition",
}


def price(usage: Usage, book: PriceBook) -> Decimal:
    """The money one usage record costs."""
    if usage.kind in (UsageKind.LLM_INPUT_TOKENS, UsageKind.LLM_OUTPUT_TOKENS):
        if usage.model is None:
            raise PriceMissingError("LLM token usage without a model")
        return book.model(usage.model).cost(usage.kind, usage.quantity)
    if usage.kind is UsageKind.LAMBDA_GB_SECONDS:
        return usage.quantity * book.service(f"lambda_gb_second_{book.lambda_architecture}")
    return usage.quantity * book.service(_SERVICE_KEY[usage.kind])


def cost_by_component(usages: Iterable[Usage], book: PriceBook) -> dict[str, Decimal]:
    """Money per component of the bill (``llm``, ``connect``, ``lambda``, ...)."""
    costs: dict[str, Decimal] = {}
    for usage in usages:
        component = COMPONENT[usage.kind]
        costs[component] = costs.get(component, Decimal(0)) + price(usage, book)
    return costs


def total(costs: dict[str, Decimal]) -> Decimal:
    return sum(costs.values(), Decimal(0))


def per_minute(cost: Decimal, seconds: Decimal) -> Decimal:
    """Cost per call minute; zero for a call of no duration."""
    if seconds <= 0:
        return Decimal(0)
    return cost * SECONDS_PER_MINUTE / seconds


def as_model(usages: Iterable[Usage], model: str) -> tuple[Usage, ...]:
    """The same usage with every LLM token re-attributed to ``model`` (for baselines)."""
    return tuple(Usage(u.kind, u.quantity, model) if u.model is not None else u for u in usages)


def break_even_minutes(
    *,
    llm_cost_per_minute: Decimal,
    tokens_per_minute: Decimal,
    gpu_hourly: Decimal,
    tokens_per_second_per_gpu: Decimal,
    utilisation: Decimal,
    min_gpus: int = 2,
) -> Decimal | None:
    """Monthly call minutes above which self-hosting the model tiers costs less than the API.

    Self-hosting costs at least ``min_gpus`` GPUs all month (redundancy), plus one more GPU for
    each GPU's worth of tokens beyond their capacity. Returns None when it never pays: each
    minute would cost more on GPUs than on the API even at full use.
    """
    hours_per_month = Decimal(730)
    gpu_month = gpu_hourly * hours_per_month
    gpu_tokens_per_month = tokens_per_second_per_gpu * utilisation * Decimal(3600) * hours_per_month
    if gpu_tokens_per_month <= 0 or tokens_per_minute <= 0 or llm_cost_per_minute <= 0:
        return None
    gpu_cost_per_minute = gpu_month * tokens_per_minute / gpu_tokens_per_month
    if gpu_cost_per_minute >= llm_cost_per_minute:
        return None
    # Below the capacity of min_gpus the GPU bill is flat; beyond it, it grows per minute.
    flat = min_gpus * gpu_month
    capacity_minutes = min_gpus * gpu_tokens_per_month / tokens_per_minute
    minutes = flat / llm_cost_per_minute
    if minutes <= capacity_minutes:
        return minutes
    return (flat - capacity_minutes * gpu_cost_per_minute) / (llm_cost_per_minute - gpu_cost_per_minute)
