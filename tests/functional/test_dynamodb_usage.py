"""Every DynamoDB request is metered into the invocation's meter (invariant 7): the speculation
and transcript stores like the session store, and the turn's polling of a speculation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb_speculation import DynamoDbSpeculationStore
from chalicelib.adapters.dynamodb_transcript import DynamoDbTranscriptStore
from chalicelib.adapters.usage_meter import InvocationMeter
from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.domain.speculation import Speculation, SpeculationState
from chalicelib.domain.usage import UsageKind

TABLE = "switchboard-dev-sessions"
NOW = 1_790_000_000_000
PENDING = Speculation("c-9", 3, "what time do you close", SpeculationState.PENDING, 1, NOW, expected_ms=900.0,
                      key="what time do you close")  # fmt: skip


def units(meter: InvocationMeter) -> dict[UsageKind, Decimal]:
    found: dict[UsageKind, Decimal] = {}
    for usage in meter.drain()[0]:
        found[usage.kind] = found.get(usage.kind, Decimal(0)) + usage.quantity
    return found


def test_each_request_of_the_speculation_store_is_metered(moto_dynamodb: Any) -> None:
    meter = InvocationMeter()
    store = DynamoDbSpeculationStore(moto_dynamodb, TABLE, 900, usage=meter)
    assert store.start(PENDING, NOW) and not store.start(PENDING, NOW)  # a refused put is billed too
    assert units(meter) == {UsageKind.DYNAMODB_WRITE_UNITS: 2}
    store.finish(PENDING, NOW)
    assert units(meter) == {UsageKind.DYNAMODB_WRITE_UNITS: 1}
    assert store.get("c-9", 3, "what time do you close", NOW) == PENDING
    assert store.get("c-9", 4, "nothing stored", NOW) is None
    assert store.load_all("c-9", NOW) == (PENDING,)
    assert units(meter) == {UsageKind.DYNAMODB_READ_UNITS: 3}


def test_each_request_of_the_transcript_store_is_metered(moto_dynamodb: Any) -> None:
    meter = InvocationMeter()
    store = DynamoDbTranscriptStore(moto_dynamodb, TABLE, 3600, usage=meter)
    assert store.load("c-9", NOW) == (LiveTranscript(), 0)
    assert store.save("c-9", LiveTranscript(speech_status="transcribing"), 0, NOW) == 1
    assert units(meter) == {UsageKind.DYNAMODB_READ_UNITS: 1, UsageKind.DYNAMODB_WRITE_UNITS: 1}


def test_the_containers_speculation_and_transcript_stores_meter_into_the_invocation(
    moto_dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_SPECULATION_ENABLED", "true")
    bootstrap.reset()
    services = bootstrap.container()
    services.meter.drain()
    speculations = services.speculation_store
    assert speculations is not None
    speculations.get("c-9", 3, "what time do you close", NOW)
    services.transcript_store.load("c-9", NOW)
    assert units(services.meter) == {UsageKind.DYNAMODB_READ_UNITS: 2}
