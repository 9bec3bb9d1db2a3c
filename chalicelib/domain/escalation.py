"""Which model to call next within the turn's deadline: escalate, degrade, or give up.

The router picks a tier; this decides what actually happens when time is short or a model
fails. A tier is only called when its usual latency fits in what is left of the turn after
the reserve for the database write and the answer. An invalid answer from the small model is
escalated to the large one if that still fits; a failed or slow large model degrades to the
small one; when nothing fits, the turn gives up on models and says the safe line.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.model import AnswerProblem, ModelAnswer
from chalicelib.domain.tiers import LARGE, SMALL, TierTable

# Outcomes of a call that failed before there was an answer.
TIMEOUT, UNAVAILABLE, REJECTED, MALFORMED = "timeout", "unavailable", "rejected", "malformed"
OK = "ok"
MAX_MODEL_CALLS = 3


@dataclass(frozen=True)
class Attempt:
    tier: int
    outcome: str  # OK, an AnswerProblem value, or TIMEOUT / UNAVAILABLE / REJECTED / MALFORMED
    answer: ModelAnswer | None = None
    why: str = ""  # why this tier was called: "routed", "escalated:1->2:empty", ...


@dataclass(frozen=True)
class CallTier:
    tier: int
    timeout_ms: float
    first_token_timeout_ms: float
    why: str


@dataclass(frozen=True)
class GiveUp:
    reason: str


def next_model_step(  # noqa: PLR0912 - one branch per rule of the policy, kept in one place
    routed_tier: int,
    attempts: tuple[Attempt, ...],
    available_ms: float,
    tiers: TierTable,
    *,
    past_soft_deadline: bool = False,
    first_token_cap_ms: float | None = None,
) -> CallTier | GiveUp:
    """The next model call for a turn routed to ``routed_tier``, or give up.

    ``available_ms`` is what one call may take: what is left of the hard deadline after the
    reserve for the write and the answer, capped by the envelope's model budget. Past the soft
    deadline the turn no longer escalates or retries: it only degrades to a faster tier or gives
    up. ``first_token_cap_ms`` is the envelope's first-token budget.
    """
    if attempts and attempts[-1].outcome == OK:
        return GiveUp("answered")
    if len(attempts) >= MAX_MODEL_CALLS:
        return GiveUp("too_many_model_calls")
    caps = (available_ms, first_token_cap_ms)
    if not attempts:
        first = SMALL if past_soft_deadline else routed_tier
        for tier in range(first, SMALL - 1, -1):
            cause = "soft_deadline" if past_soft_deadline and routed_tier > SMALL else "deadline"
            why = "routed" if tier == routed_tier else f"degraded:{routed_tier}->{tier}:{cause}"
            step = _if_fits(tier, caps, tiers, why)
            if step:
                return step
        return GiveUp("deadline")
    if past_soft_deadline:
        return _after_soft_deadline(attempts, caps, tiers)

    last = attempts[-1]
    tried = [a.tier for a in attempts]
    invalid_answer = last.outcome in {p.value for p in AnswerProblem} or last.outcome == MALFORMED
    if invalid_answer:
        if last.tier < LARGE and LARGE not in tried:
            return _if_fits(LARGE, caps, tiers, f"escalated:{last.tier}->{LARGE}:{last.outcome}") or GiveUp(
                f"deadline_after_{last.outcome}"
            )
        return GiveUp(f"invalid_answer:{last.outcome}")
    # The call failed (timeout, unavailable, rejected): a faster tier, a retry, or the other tier.
    options: list[tuple[int, str]] = []
    if last.tier == LARGE and SMALL not in tried:
        options.append((SMALL, f"degraded:{LARGE}->{SMALL}:{last.outcome}"))
    spec = tiers.get(last.tier)
    if last.outcome != REJECTED and tried.count(last.tier) <= spec.max_retries:
        options.append((last.tier, f"retry:{last.tier}:{last.outcome}"))
    if last.tier == SMALL and LARGE not in tried:
        options.append((LARGE, f"escalated:{SMALL}->{LARGE}:{last.outcome}"))
    for tier, why in options:
        step = _if_fits(tier, caps, tiers, why)
        if step:
            return step
    return GiveUp(f"model_failed:{last.outcome}")


def _after_soft_deadline(
    attempts: tuple[Attempt, ...], caps: tuple[float, float | None], tiers: TierTable
) -> CallTier | GiveUp:
    """Past the soft deadline only a failed large model may still fall back to the small one."""
    last = attempts[-1]
    if last.tier == LARGE and SMALL not in [a.tier for a in attempts]:
        step = _if_fits(SMALL, caps, tiers, f"degraded:{LARGE}->{SMALL}:soft_deadline")
        if step:
            return step
    return GiveUp(f"soft_deadline_after_{last.outcome}")


def _if_fits(tier: int, caps: tuple[float, float | None], tiers: TierTable, why: str) -> CallTier | None:
    available_ms, first_token_cap_ms = caps
    spec = tiers.get(tier)
    if spec.model is None or spec.expected_ms() > available_ms:
        return None
    timeout_ms = min(spec.total_timeout_ms, available_ms)
    first_token_ms = min(spec.first_token_timeout_ms, timeout_ms, first_token_cap_ms or timeout_ms)
    return CallTier(tier, timeout_ms, first_token_ms, why)
