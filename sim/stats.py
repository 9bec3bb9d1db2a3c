"""The one percentile helper of the sim's and the benches' reports (STYLE rule 16)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile: the sorted value at ``round(q * (n - 1))``.

    Example:
        >>> percentile([5, 1, 4, 2, 3], 0.95)
        5

    Raises:
        ValueError: no values.
    """
    if not values:
        raise ValueError("the percentile of no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: Sequence[float], quantiles: Sequence[float] = (0.95,), digits: int = 1) -> dict[str, float]:
    """``p50`` (the median), ``p<q>`` for each quantile (``percentile``) and ``max``, rounded to
    ``digits``; empty for no values.

    Example:
        >>> summary([1.0, 2.0, 3.0, 10.0], (0.95, 0.99))
        {'p50': 2.5, 'p95': 10.0, 'p99': 10.0, 'max': 10.0}
    """
    if not values:
        return {}
    figures = {"p50": round(statistics.median(values), digits)}
    figures.update({f"p{round(q * 100)}": round(percentile(values, q), digits) for q in quantiles})
    figures["max"] = round(max(values), digits)
    return figures
