"""Model tiers: 0 = rules, 1 = a small fast model, 2 = a large capable model."""

from __future__ import annotations

from dataclasses import dataclass

RULES, SMALL, LARGE = 0, 1, 2


@dataclass(frozen=True)
class LatencyPrior:
    """What a model usually takes: time to the first token, then output tokens per second."""

    first_token_ms: float
    tokens_per_second: float

    def expected_ms(self, output_tokens: int) -> float:
        return self.first_token_ms + 1000.0 * output_tokens / self.tokens_per_second


@dataclass(frozen=True)
class TierSpec:
    tier: int
    name: str
    model: str | None = None  # None for tier 0
    base_url: str | None = None
    max_output_tokens: int = 0
    temperature: float = 0.2
    first_token_timeout_ms: float = 0.0
    total_timeout_ms: float = 0.0
    max_retries: int = 0
    latency_prior: LatencyPrior | None = None

    def expected_ms(self, output_tokens: int | None = None) -> float:
        """The usual time of one call producing ``output_tokens`` (default: a typical reply)."""
        if self.latency_prior is None:
            return 0.0
        return self.latency_prior.expected_ms(output_tokens if output_tokens is not None else TYPICAL_REPLY_TOKENS)


# A spoken reply is short: two sentences are about 40 tokens.
TYPICAL_REPLY_TOKENS = 40


@dataclass(frozen=True)
class TierTable:
    tiers: tuple[TierSpec, ...]
    max_history_messages: int = 8
    max_message_chars: int = 600

    def get(self, tier: int) -> TierSpec:
        for spec in self.tiers:
            if spec.tier == tier:
                return spec
        raise KeyError(f"no tier {tier}")

    @property
    def model_tiers(self) -> tuple[TierSpec, ...]:
        return tuple(t for t in self.tiers if t.model is not None)

    def tier_of_model(self, model: str) -> int | None:
        return next((t.tier for t in self.tiers if t.model == model), None)
