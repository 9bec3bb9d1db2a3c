"""The latency envelope: checked at start-up, and the deadline every component draws from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.data_files import DATA, load_envelope, load_tiers
from chalicelib.domain.deadline import Deadline
from chalicelib.domain.envelope import Envelope
from chalicelib.domain.escalation import Attempt, CallTier, GiveUp, next_model_step
from chalicelib.errors import ConfigurationInvalidError, EnvelopeInvalidError

TIERS = load_tiers()


def write_envelope(tmp_path: Path, **changes: object) -> Path:
    data = json.loads((DATA / "envelope.json").read_text())
    for key, value in changes.items():
        if key in data["components"]:
            data["components"][key] = value
        else:
            data[key] = value
    path = tmp_path / "envelope.json"
    path.write_text(json.dumps(data))
    return path


def test_shipped_envelope_fits_with_the_issue_defaults() -> None:
    envelope = load_envelope()
    assert (envelope.hard_deadline_ms, envelope.soft_deadline_ms) == (2500, 1500)
    assert envelope.finish_reserve_ms == envelope.budget("state_write") + envelope.budget("render")


def test_a_model_path_over_the_hard_deadline_names_what_does_not_fit(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeInvalidError, match=r"model path .* model_total 2400"):
        load_envelope(write_envelope(tmp_path, model_total=2400))


def test_a_tool_path_over_the_hard_deadline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeInvalidError, match="tool path"):
        load_envelope(write_envelope(tmp_path, tool_call=2300))


def test_soft_deadline_must_come_before_the_hard_one(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeInvalidError, match="soft deadline"):
        load_envelope(write_envelope(tmp_path, soft_deadline_ms=2600))


def test_first_token_must_fit_inside_the_model_budget(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeInvalidError, match="model_first_token"):
        load_envelope(write_envelope(tmp_path, model_first_token=1600))


def test_a_missing_component_is_named() -> None:
    with pytest.raises(EnvelopeInvalidError, match="render"):
        Envelope(2500, 1500, 1000, {"state_read": 1}).validate()


def test_hard_deadline_at_or_over_connects_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationInvalidError):
        load_envelope(write_envelope(tmp_path, hard_deadline_ms=8000))


def test_stage_overrides_apply(tmp_path: Path) -> None:
    data = json.loads((DATA / "envelope.json").read_text())
    data["stages"]["prod"] = {"hard_deadline_ms": 3000, "components": {"model_total": 2000}}
    path = tmp_path / "envelope.json"
    path.write_text(json.dumps(data))
    prod = load_envelope(path, "prod")
    assert (prod.hard_deadline_ms, prod.budget("model_total")) == (3000, 2000)
    assert load_envelope(path, "dev").hard_deadline_ms == 2500


def test_a_component_timeout_is_its_budget_or_what_is_left_before_the_reserve() -> None:
    deadline = Deadline(started_at_ms=0, hard_ms=2500, soft_ms=1500)
    assert deadline.timeout_for(1500, now_ms=100, reserve_ms=280) == 1500
    assert deadline.timeout_for(1500, now_ms=1000, reserve_ms=280) == 1220
    assert deadline.timeout_for(1500, now_ms=2400, reserve_ms=280) == 0
    assert not deadline.past_soft(1499) and deadline.past_soft(1500)


def test_past_the_soft_deadline_a_large_route_starts_on_the_small_model() -> None:
    step = next_model_step(2, (), 2000, TIERS, past_soft_deadline=True)
    assert isinstance(step, CallTier) and (step.tier, step.why) == (1, "degraded:2->1:soft_deadline")


def test_past_the_soft_deadline_an_invalid_answer_is_not_escalated() -> None:
    assert next_model_step(1, (Attempt(1, "empty"),), 2000, TIERS, past_soft_deadline=True) == GiveUp(
        "soft_deadline_after_empty"
    )


def test_past_the_soft_deadline_a_failed_large_model_still_falls_back_to_the_small_one() -> None:
    step = next_model_step(2, (Attempt(2, "timeout"),), 2000, TIERS, past_soft_deadline=True)
    assert isinstance(step, CallTier) and (step.tier, step.why) == (1, "degraded:2->1:soft_deadline")


def test_the_envelope_caps_the_first_token_timeout() -> None:
    step = next_model_step(2, (), 2000, TIERS, first_token_cap_ms=300)
    assert isinstance(step, CallTier) and step.first_token_timeout_ms == 300


def test_the_two_timings_a_turn_sums_name_the_per_call_budget_they_draw_on() -> None:
    from chalicelib.domain.envelope import BUDGET_OF, COMPONENTS, MODEL_CALLS, MODEL_TOTAL, TOOL_CALL, TOOL_CALLS

    assert BUDGET_OF == {MODEL_CALLS: MODEL_TOTAL, TOOL_CALLS: TOOL_CALL}
    assert set(BUDGET_OF.values()) <= set(COMPONENTS) and not set(BUDGET_OF) & set(COMPONENTS)
