"""The cost ledger against hand-computed examples."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.adapters.data_files import check_prices_cover, load_prices, load_tiers
from chalicelib.adapters.usage_meter import lambda_usage
from chalicelib.domain.ledger import (
    ModelPrice,
    PriceBook,
    as_model,
    break_even_minutes,
    cost_by_component,
    per_minute,
    price,
    total,
)
from chalicelib.domain.usage import Usage, UsageKind, tokens
from chalicelib.errors import PriceMissingError

BOOK = PriceBook(
    services={
        "connect_voice_minute": Decimal("0.038"),
        "lambda_request": Decimal("0.0000002"),
        "lambda_gb_second_arm64": Decimal("0.0000133334"),
        "dynamodb_read_request_unit": Decimal("0.000000125"),
        "dynamodb_write_request_unit": Decimal("0.000000625"),
        "lex_speech_request": Decimal("0.004"),
    },
    models={
        "small": ModelPrice(Decimal("0.10"), Decimal("0.50")),
        "large": ModelPrice(Decimal("2.00"), Decimal("10.00")),
    },
)


def test_tokens_are_priced_per_million_by_model() -> None:
    # 1,200 input tokens at $2/M = $0.0024; 60 output tokens at $10/M = $0.0006.
    assert total(cost_by_component(tokens("large", 1200, 60), BOOK)) == Decimal("0.003")
    # The same on the small model: $0.00012 + $0.00003.
    assert total(cost_by_component(tokens("small", 1200, 60), BOOK)) == Decimal("0.00015")


def test_a_call_minute_with_lambda_and_dynamodb() -> None:
    usage = (
        Usage(UsageKind.CONNECT_VOICE_MINUTES, Decimal("1.5")),  # $0.057
        *lambda_usage(memory_mb=1024, duration_ms=250),  # 1 request $0.0000002 + 0.25 GB-s $0.00000333335
        Usage(UsageKind.DYNAMODB_READ_UNITS, Decimal(1)),  # $0.000000125
        Usage(UsageKind.DYNAMODB_WRITE_UNITS, Decimal(4)),  # $0.0000025
    )
    costs = cost_by_component(usage, BOOK)
    assert costs == {
        "connect": Decimal("0.0570"),
        "lambda": Decimal("0.0000002") + Decimal("0.25") * Decimal("0.0000133334"),
        "dynamodb": Decimal("0.000000125") + Decimal("0.0000025"),
    }
    assert per_minute(total(costs), Decimal(90)) == total(costs) / Decimal("1.5")


def test_lambda_duration_is_billed_in_whole_milliseconds() -> None:
    _, gb_seconds = lambda_usage(memory_mb=512, duration_ms=10.2)
    assert gb_seconds.quantity == Decimal("0.5") * Decimal("0.011")


def test_baseline_reprices_tokens_on_another_model() -> None:
    small = tokens("small", 1000, 100)
    assert total(cost_by_component(as_model(small, "large"), BOOK)) == Decimal("0.003")


def test_unknown_model_or_service_is_a_named_error() -> None:
    with pytest.raises(PriceMissingError):
        price(Usage(UsageKind.LLM_INPUT_TOKENS, Decimal(1), "unknown-model"), BOOK)
    with pytest.raises(PriceMissingError):
        price(Usage(UsageKind.KINESIS_GB, Decimal(1)), BOOK)


def test_per_minute_of_nothing_is_zero() -> None:
    assert per_minute(Decimal(1), Decimal(0)) == 0


def test_break_even_with_flat_gpu_cost() -> None:
    # 2 GPUs x $2.50 x 730 h = $3,650 a month; at $0.01 per minute the API costs that at 365,000 minutes.
    minutes = break_even_minutes(
        llm_cost_per_minute=Decimal("0.01"), tokens_per_minute=Decimal(1000), gpu_hourly=Decimal("2.50"),
        tokens_per_second_per_gpu=Decimal(1000), utilisation=Decimal("0.5"), min_gpus=2,
    )  # fmt: skip
    assert minutes == Decimal(365000)


def test_break_even_never_when_gpu_tokens_cost_more_than_the_api() -> None:
    assert break_even_minutes(
        llm_cost_per_minute=Decimal("0.0001"), tokens_per_minute=Decimal(100_000), gpu_hourly=Decimal("2.50"),
        tokens_per_second_per_gpu=Decimal(100), utilisation=Decimal("0.5"),
    ) is None  # fmt: skip


def test_shipped_prices_have_sources_and_cover_every_tier_model() -> None:
    book = load_prices()
    check_prices_cover(load_tiers(), book)
    assert book.service("connect_voice_minute") == Decimal("0.038")
