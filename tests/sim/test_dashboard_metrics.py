"""Every metric the dashboard charts is one the handlers really emit: recorded calls replayed on
the embedded AWS (tier 0, models, tools, Connect's retries, a handover), a malformed event and a
turn whose store is unreachable — and the names read from the EMF lines they printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters.data_files import load_envelope
from sim.calls import call_files, connect_event, load_call, model_scripts
from sim.harness import Harness
from sim.replay import replay
from tests.conftest import ROOT

pytestmark = pytest.mark.embedded_aws
DASHBOARD = json.loads((ROOT / "infra" / "dashboard.json").read_text())
CALLS = ["01-billing-then-agent.json", "03-connect-retry.json", "07-hours-and-card-payment.json"]


def metric_names(emf_lines: list[str]) -> set[str]:
    blobs = [json.loads(line) for line in emf_lines if line.startswith('{"_aws"')]
    return {m["Name"] for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


@pytest.fixture(scope="module")
def emitted() -> set[str]:
    calls = [load_call(p) for p in call_files([str(ROOT / "events" / "calls" / name) for name in CALLS])]
    # The scripted models answer at 4x their latency prior: a tier-2 answer is far inside its
    # first-token timeout even on a loaded machine (CI once saw it degrade to tier 1 at 1x).
    with Harness(model_scripts=model_scripts(calls), model_speed=4.0) as harness:
        replay(harness, calls, load_envelope(stage=harness.stage))
        bad = connect_event("c-dash-bad", "x" * 100_000, "2")
        assert harness.invoke("turn", bad)["intent"] == "fallback"
        services = harness.services()
        services.dynamodb_client.get_item  # noqa: B018 - built before it is replaced

        def unreachable(**_: Any) -> Any:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(services.dynamodb_client, "get_item", unreachable)
            assert harness.invoke("turn", connect_event("c-dash-down", "hello", None))["intent"] == "fallback"
        return metric_names(harness.emf_lines)


def test_every_dashboard_metric_is_emitted_by_the_handlers(emitted: set[str]) -> None:
    shown = {m[1] for w in DASHBOARD["widgets"] for m in w["properties"]["metrics"]}
    assert shown - emitted == set()


def test_a_metric_nothing_emits_would_be_found(emitted: set[str]) -> None:
    assert "Latency.model_total" not in emitted  # the budget's name, not a timing any turn records
    assert {"Latency.state_read", "TurnsTier1", "DuplicateTurns", "BadInput", "TurnFailures"} <= emitted
