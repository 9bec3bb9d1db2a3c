"""The dashboard's budget lines are the envelope's (its metrics are checked against what the
handlers emit in tests/sim/test_dashboard_metrics.py)."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.adapters.data_files import load_envelope

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "infra" / "dashboard.json").read_text())


def test_budget_lines_match_the_envelope() -> None:
    envelope = load_envelope()
    lines = {a["label"]: a["value"] for a in DASHBOARD["widgets"][0]["properties"]["annotations"]["horizontal"]}
    assert lines["hard deadline"] == envelope.hard_deadline_ms
    assert lines["soft deadline"] == envelope.soft_deadline_ms
    for component in ("model_total", "state_write", "state_read"):
        assert lines[f"{component} budget"] == envelope.budget(component)
