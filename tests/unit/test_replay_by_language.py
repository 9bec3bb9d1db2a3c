"""``sim.replay.by_language``: the KPI rate, tier mix and cost per call minute of each call
language, from synthetic replay results (``replay_call``'s reports), and the HTML report's
"By language" table."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from sim.cost_report import cost_breakdown, format_breakdown
from sim.html_report import render_html
from sim.replay import by_language, call_figures


def result(language: str | None, tiers: list[int], kpi: bool | None, cost: str, seconds: int) -> dict[str, Any]:
    """One replayed call: its turns' tiers, its KPI, what it cost (half of it the LLM) and lasted."""
    costs = {"connect": Decimal(cost) / 2, "llm": Decimal(cost) / 2}
    baseline = {"connect": Decimal(cost) / 2, "llm": Decimal(cost) * 5}
    report: dict[str, Any] = {
        "turns": [{"tier": t, "routed_tier": t} for t in tiers],
        "kpi_neutral_positive": kpi,
        "_costs": {"actual": costs, "baseline": baseline, "duration_s": Decimal(seconds)},
    }
    if language is not None:
        report["language"] = language
    return report


REPORTS = [
    result("en-US", [0, 1, 0], True, "0.06", 60),
    result("en-US", [2, 0], False, "0.12", 60),
    result("es-US", [0, 1, 1, 2], True, "0.09", 90),
    result("es-US", [1], None, "0.03", 30),  # no contact record yet: not in the KPI
]


def test_each_language_gets_its_own_kpi_tier_mix_and_cost_per_minute() -> None:
    languages = by_language(REPORTS)
    assert list(languages) == ["en-US", "es-US"]
    english, spanish = languages["en-US"], languages["es-US"]
    assert (english["calls"], english["turns"], english["minutes"]) == (2, 5, 2.0)
    assert (spanish["calls"], spanish["turns"], spanish["minutes"]) == (2, 5, 2.0)
    assert (english["kpi_rate"], spanish["kpi_rate"]) == (0.5, 1.0)
    assert english["tier_mix"] == {"tier_0": 0.6, "tier_1": 0.2, "tier_2": 0.2}
    assert spanish["tier_mix"] == {"tier_0": 0.2, "tier_1": 0.6, "tier_2": 0.2}
    assert english["cost_per_minute_usd"] == 0.09  # $0.18 over 2 minutes
    assert spanish["cost_per_minute_usd"] == 0.06  # $0.12 over 2 minutes
    assert spanish["llm_cost_per_minute_usd"] == 0.03
    assert spanish["llm_cost_vs_all_large"] == 0.1


def test_the_total_is_every_call_together() -> None:
    everything = call_figures(REPORTS)
    assert (everything["calls"], everything["turns"], everything["minutes"]) == (4, 10, 4.0)
    assert everything["kpi_rate"] == round(2 / 3, 4)
    assert everything["cost_per_minute_usd"] == 0.075
    assert everything["tier_mix"] == {"tier_0": 0.4, "tier_1": 0.4, "tier_2": 0.2}


def test_english_calls_alone_are_one_group_equal_to_the_total() -> None:
    english = [r for r in REPORTS if r["language"] == "en-US"]
    assert by_language(english) == {"en-US": call_figures(english)}


def test_a_report_without_a_language_counts_as_us_english() -> None:
    assert list(by_language([result(None, [0], True, "0.01", 10)])) == ["en-US"]


def test_grouping_leaves_the_reports_costs_for_the_totals() -> None:
    reports = [result("es-US", [0], True, "0.01", 10)]
    by_language(reports)
    assert "_costs" in reports[0]


class Cells(HTMLParser):
    """The text of each table cell under the "By language" heading, row by row."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.inside = False
        self.rows: list[list[str]] = []
        self._cell: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and ("class", "by-language") in attrs:
            self.inside = True
        if self.inside and tag == "tr":
            self.rows.append([])
        if self.inside and tag in ("td", "th"):
            self._cell = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if self.inside and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None
        if self.inside and tag == "table":
            self.inside = False


def test_the_html_report_has_a_by_language_table() -> None:
    totals = {**call_figures(REPORTS), "by_language": by_language(REPORTS)}
    rows = Cells(render_html({"model_endpoint": "scripted", "calls": [], "totals": totals})).rows
    assert rows[0][:5] == ["Language", "Calls", "Turns", "Minutes", "KPI rate"]
    english, spanish = rows[1], rows[2]
    assert english[:5] == ["en-US", "2", "5", "2.0", "50.0%"]
    assert spanish[:5] == ["es-US", "2", "5", "2.0", "100.0%"]
    assert spanish[5] == "tier 0 20.0%, tier 1 60.0%, tier 2 20.0%"
    assert (english[6], spanish[6]) == ("$0.09000", "$0.06000")


def test_a_report_without_languages_has_no_table() -> None:
    assert "By language" not in render_html({"model_endpoint": "scripted", "calls": [], "totals": {}})


def test_sim_cost_gives_each_languages_cost_per_minute() -> None:
    totals = {**call_figures(REPORTS), "by_language": by_language(REPORTS), "cost_per_minute_by_component_usd": {}}
    report = {"model_endpoint": "scripted", "calls": [], "totals": totals}
    hosting = {"gpu_hourly": Decimal("2.5"), "utilisation": Decimal("0.5"), "tokens_per_second_per_gpu": Decimal(1500)}
    result = cost_breakdown(report, **hosting, min_gpus=2)
    assert result["cost_per_minute_by_language_usd"] == {"en-US": 0.09, "es-US": 0.06}
    assert "  es-US calls    $0.060000" in format_breakdown(result)
