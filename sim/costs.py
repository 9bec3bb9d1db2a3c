"""Per-call and per-minute cost for the reports, from recorded usage and the domain ledger.

Turn usage comes from what the handler's adapters recorded (the invocation's report,
``Harness.last_invocation``) and from the stored turn records; the call's own usage (Connect
and Contact Lens minutes) from its length, as the contact record would give it. Only
``chalicelib.domain.ledger`` turns usage into money.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.domain.ledger import PriceBook, cost_by_component, per_minute, total
from chalicelib.domain.session import TurnRecord
from chalicelib.domain.tiers import LARGE, TierTable
from chalicelib.domain.usage import Usage, UsageKind, tokens

WORDS_PER_SECOND = Decimal("2.5")  # a text-to-speech voice at a calm pace


def call_usage(duration_s: Decimal) -> tuple[Usage, ...]:
    minutes = duration_s / Decimal(60)
    return Usage(UsageKind.CONNECT_VOICE_MINUTES, minutes), Usage(UsageKind.CONTACT_LENS_MINUTES, minutes)


def speaking_seconds(text: str) -> Decimal:
    return Decimal(len(text.split())) / WORDS_PER_SECOND


def llm_usage(usage: tuple[Usage, ...]) -> tuple[Usage, ...]:
    return tuple(u for u in usage if u.kind in (UsageKind.LLM_INPUT_TOKENS, UsageKind.LLM_OUTPUT_TOKENS))


def all_large_llm_usage(record: TurnRecord | None, actual: tuple[Usage, ...], tiers: TierTable) -> tuple[Usage, ...]:
    """The turn's LLM usage had it gone to the large model: turns the router sent to tier 0 or
    1 are charged their large-model token estimate at the large model's price; turns it sent
    to tier 2 keep what they used."""
    if record is None or record.routed_tier >= LARGE:
        return llm_usage(actual)
    large = str(tiers.get(LARGE).model)
    return tokens(large, *record.baseline_tokens)


def money(value: Decimal) -> float:
    return float(round(value, 8))


def summarize(costs_by_component: dict[str, Decimal], duration_s: Decimal) -> dict[str, Any]:
    cost = total(costs_by_component)
    return {
        "cost_usd": money(cost),
        "cost_per_minute_usd": money(per_minute(cost, duration_s)),
        "cost_by_component_usd": {k: money(v) for k, v in sorted(costs_by_component.items())},
    }


def priced(usage: tuple[Usage, ...], prices: PriceBook) -> dict[str, Decimal]:
    return cost_by_component(usage, prices)
