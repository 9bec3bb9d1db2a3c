"""Which model next: routing, escalation, degradation and giving up, against the deadline."""

from __future__ import annotations

from chalicelib.adapters.data_files import load_tiers
from chalicelib.domain.escalation import OK, TIMEOUT, UNAVAILABLE, Attempt, CallTier, GiveUp, next_model_step

TIERS = load_tiers()
SMALL_MS = TIERS.get(1).expected_ms()
LARGE_MS = TIERS.get(2).expected_ms()


def test_first_call_goes_to_the_routed_tier_when_it_fits() -> None:
    step = next_model_step(2, (), 2000, TIERS)
    assert isinstance(step, CallTier) and (step.tier, step.why) == (2, "routed")
    assert step.timeout_ms == min(TIERS.get(2).total_timeout_ms, 2000)


def test_routed_large_degrades_to_small_when_only_small_fits() -> None:
    step = next_model_step(2, (), (SMALL_MS + LARGE_MS) / 2, TIERS)
    assert isinstance(step, CallTier) and (step.tier, step.why) == (1, "degraded:2->1:deadline")


def test_gives_up_when_no_model_fits() -> None:
    assert next_model_step(1, (), SMALL_MS / 2, TIERS) == GiveUp("deadline")


def test_invalid_small_answer_escalates_to_large_if_it_fits() -> None:
    step = next_model_step(1, (Attempt(1, "empty"),), 2000, TIERS)
    assert isinstance(step, CallTier) and (step.tier, step.why) == (2, "escalated:1->2:empty")
    assert next_model_step(1, (Attempt(1, "refused"),), SMALL_MS, TIERS) == GiveUp("deadline_after_refused")


def test_invalid_large_answer_is_not_retried() -> None:
    assert next_model_step(2, (Attempt(2, "bad_tool_call"),), 2000, TIERS) == GiveUp("invalid_answer:bad_tool_call")


def test_failed_large_degrades_to_small() -> None:
    step = next_model_step(2, (Attempt(2, TIMEOUT),), 2000, TIERS)
    assert isinstance(step, CallTier) and (step.tier, step.why) == (1, "degraded:2->1:timeout")


def test_failed_small_is_retried_once_then_escalated() -> None:
    first = next_model_step(1, (Attempt(1, UNAVAILABLE),), 2000, TIERS)
    assert isinstance(first, CallTier) and (first.tier, first.why) == (1, "retry:1:unavailable")
    second = next_model_step(1, (Attempt(1, UNAVAILABLE), Attempt(1, UNAVAILABLE)), 2000, TIERS)
    assert isinstance(second, CallTier) and (second.tier, second.why) == (2, "escalated:1->2:unavailable")


def test_rejected_request_is_not_retried_on_the_same_tier() -> None:
    step = next_model_step(1, (Attempt(1, "rejected"),), 2000, TIERS)
    assert isinstance(step, CallTier) and step.tier == 2


def test_stops_after_an_answer_or_too_many_calls() -> None:
    assert next_model_step(1, (Attempt(1, OK),), 2000, TIERS) == GiveUp("answered")
    many = (Attempt(1, UNAVAILABLE), Attempt(1, UNAVAILABLE), Attempt(2, UNAVAILABLE))
    assert next_model_step(1, many, 5000, TIERS) == GiveUp("too_many_model_calls")
