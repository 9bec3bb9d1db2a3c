"""Timings, metrics, traces and the warm-up invocation of the turn handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.usage_meter import InvocationMeter
from sim.calls import connect_event, warmup_event


def test_warm_up_builds_the_container_and_answers_the_flow(lambda_client: Any) -> None:
    answer = lambda_client.lambda_.invoke("turn", warmup_event("c-warm")).payload
    assert answer == {"action": "warm"}
    services = bootstrap.container()
    assert "handle_turn" in services.__dict__ and "dynamodb_client" in services.__dict__


def test_each_turn_records_its_components_and_whether_it_met_the_deadline(lambda_client: Any) -> None:
    lambda_client.lambda_.invoke("turn", connect_event("c-time", "hello", None))
    record = bootstrap.container().last_invocation
    assert {"state_read", "routing", "state_write", "render", "handler"} <= set(record["latency_ms"])
    assert record["deadline_met"] is True
    assert record["cost_usd"] > 0


def test_latency_and_cost_are_emitted_as_cloudwatch_metrics(
    lambda_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_client.lambda_.invoke("turn", connect_event("c-emf", "agent please", None))
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    names = {m["Name"] for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Latency.state_read", "Latency.handler", "DeadlineMisses", "TurnCostMicroUsd", "TurnsTier0",
            "Handovers"} <= names  # fmt: skip


def test_an_envelope_that_does_not_fit_stops_the_container_and_the_caller_still_gets_an_answer(
    lambda_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bad = json.loads((bootstrap.DATA / "envelope.json").read_text())
    bad["components"]["model_total"] = 5000
    (tmp_path / "envelope.json").write_text(json.dumps(bad))
    monkeypatch.setenv("SWITCHBOARD_ENVELOPE_FILE", str(tmp_path / "envelope.json"))  # absolute: replaces data/
    bootstrap.reset()
    answer = lambda_client.lambda_.invoke("turn", connect_event("c-env", "hello", None)).payload
    assert answer["intent"] == "fallback"
    assert any(getattr(r, "error", None) == "EnvelopeInvalidError" for r in caplog.records)


class RecordingTracer:
    """A stand-in for Powertools Tracer: records the subsegments opened."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.provider = self

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[None]:
        self.opened.append(name)
        yield


def test_with_tracing_each_timed_component_is_an_xray_subsegment() -> None:
    tracer = RecordingTracer()
    meter = InvocationMeter(tracer=tracer)
    with meter.timed("state_read"):
        pass
    with meter.timed("model"):
        pass
    assert tracer.opened == ["## state_read", "## model"]
    assert set(meter.drain()[1]) == {"state_read", "model"}
