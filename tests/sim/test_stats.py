"""The one percentile helper: nearest rank, and the summary the reports print."""

from __future__ import annotations

import pytest

from sim.stats import percentile, summary


def test_percentile_is_the_nearest_rank_of_the_sorted_values() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose

    assert percentile(values, 0.5) == 51.0  # index round(49.5) == 50 (round half to even)
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_of_no_values_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.95)


def test_summary_has_the_median_each_quantile_and_the_max_rounded() -> None:
    assert summary([1.234, 2.345, 3.456, 10.987], (0.95, 0.99), digits=2) == {
        "p50": 2.9, "p95": 10.99, "p99": 10.99, "max": 10.99,
    }  # fmt: skip
    assert list(summary([1.0, 2.0], ())) == ["p50", "max"]


def test_summary_of_no_values_is_empty() -> None:
    assert summary([]) == {}
