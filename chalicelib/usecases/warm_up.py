"""Warm a container up while the greeting plays: the contact flow invokes the turn handler once
at the start of the call (``Parameters.warmup = "true"``), so the first turn finds its clients,
tool connections and model SDK ready."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.ports import ModelClient
from chalicelib.domain.tiers import TierTable
from chalicelib.errors import AppError
from chalicelib.observability import logger
from chalicelib.usecases.run_tools import RunTools

WARM_ANSWER = {"action": "warm"}


def warm_up(tools: RunTools | None, models: ModelClient | None, tiers: TierTable) -> dict[str, str]:
    """Open the tool connections and warm the model client; a failure only means the turn that
    needs a model will degrade."""
    if tools is not None:
        tools.warm()
    warm: Any = getattr(models, "warm", None)
    if callable(warm):
        try:
            warm(tiers.model_tiers)
        except AppError as exc:
            logger.warning("model client not warmed", extra={"error": type(exc).__name__})
    return dict(WARM_ANSWER)
