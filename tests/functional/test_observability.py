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
from tests.conftest import load_json


def emitted(out: str) -> dict[str, float]:
    """The metrics a handler printed as CloudWatch EMF lines: name -> value."""
    blobs = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    names = {m["Name"] for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    return {name: blob[name] for blob in blobs for name in names if name in blob}


def test_warm_up_answers_the_flow_and_the_first_turn_then_builds_nothing_new(
    lambda_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lambda_client.lambda_.invoke("turn", warmup_event("c-warm")).payload == {"action": "warm"}
    built: list[str] = []
    real_client = bootstrap.Container.aws_client

    def counting(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        built.append(service)
        return real_client(self, service, *args, **kwargs)

    monkeypatch.setattr(bootstrap.Container, "aws_client", counting)
    answer = lambda_client.lambda_.invoke("turn", connect_event("c-warm", "hello", None)).payload
    assert answer["action"] == "speak" and answer["intent"] != "fallback"
    assert built == []  # the warm-up built the DynamoDB client the turn uses


class Recorder:
    def __init__(self) -> None:
        self.reports: list[Any] = []

    def __call__(self, report: Any) -> None:
        self.reports.append(report)


def test_each_turn_records_its_components_and_whether_it_met_the_deadline(lambda_client: Any) -> None:
    recorder = Recorder()
    # The container is built by an invocation, under the stage's environment (the redaction key's secret).
    lambda_client.lambda_.invoke("turn", warmup_event("c-time"))
    bootstrap.container().reporters.append(recorder)
    lambda_client.lambda_.invoke("turn", connect_event("c-time", "hello", None))
    (report,) = recorder.reports
    assert {"state_read", "routing", "state_write", "render", "handler"} <= set(report.latency_ms)
    assert report.deadline_met is True
    assert report.cost_usd > 0


def test_a_stream_consumer_reports_its_cost_and_keeps_nothing_between_invocations(
    lambda_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder()
    services = bootstrap.container()
    services.reporters.append(recorder)
    lambda_client.lambda_.invoke("turn", connect_event("c-seg", "hello", None))
    capsys.readouterr()
    record = load_json("kinesis/kinesis-stream-lambda-event.json")
    for _ in range(3):
        lambda_client.lambda_.invoke("segments", record)
        assert services.meter.drain() == ((), {})  # the consumer's reads and writes left with the report
    consumers = [r for r in recorder.reports if r.function == "segments"]
    assert len(consumers) == 3 and all(r.cost_usd > 0 for r in consumers)
    assert "CostMicroUsd.segments" in emitted(capsys.readouterr().out)


def test_latency_and_cost_are_emitted_as_cloudwatch_metrics(
    lambda_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_client.lambda_.invoke("turn", connect_event("c-emf", "agent please", None))
    names = set(emitted(capsys.readouterr().out))
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
