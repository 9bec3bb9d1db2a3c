"""The dashboard shows metrics the code emits, against the envelope's budgets."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib.adapters.data_files import load_envelope

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "infra" / "dashboard.json").read_text())


def emitted_metric_names() -> set[str]:
    """Metric names the code adds (literal, or per component / tier)."""
    source = "\n".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    expressions = re.findall(r"add_metric\(name=([^,]+),", source)
    names = {name for e in expressions for name in re.findall(r'"([A-Za-z.]+)"', e)}
    names |= {f"Latency.{c}" for c in (*load_envelope().components, "model", "handler")}
    names |= {f"TurnsTier{t}" for t in (0, 1, 2)}
    return names


def test_every_dashboard_metric_is_emitted_by_the_code() -> None:
    shown = {m[1] for w in DASHBOARD["widgets"] for m in w["properties"]["metrics"]}
    assert shown - emitted_metric_names() == set()


def test_budget_lines_match_the_envelope() -> None:
    envelope = load_envelope()
    lines = {a["label"]: a["value"] for a in DASHBOARD["widgets"][0]["properties"]["annotations"]["horizontal"]}
    assert lines["hard deadline"] == envelope.hard_deadline_ms
    assert lines["soft deadline"] == envelope.soft_deadline_ms
    for component in ("model_total", "state_write", "state_read"):
        assert lines[f"{component} budget"] == envelope.budget(component)
