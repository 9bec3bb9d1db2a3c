"""``sim.html_report``: the replay report as one self-contained page, and what a browser shows of it."""

from __future__ import annotations

import copy
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from sim.html_report import render_html

SCRIPT = "<script>alert(1)</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class Element:
    def __init__(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tag = tag
        self.attrs = {name: value or "" for name, value in attrs}
        self.parts: list[str] = []
        self.inside: list[Element] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def find(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.inside if e.tag == tag and (cls is None or cls in e.classes)]


class Dom(HTMLParser):
    """Every element of a page, in document order, each with the text inside it."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._add(tag, attrs)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(tag, attrs)

    def _add(self, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        element = Element(tag, attrs)
        self.elements.append(element)
        for parent in self._open:
            parent.inside.append(element)
        return element

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)]

    def one(self, tag: str, cls: str | None = None) -> Element:
        (found,) = self.find(tag, cls)
        return found


def a_turn(seq: int, caller: str, reply: str, total_ms: float, **fields: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "caller": caller,
        "tier": 0,
        "routed_tier": 0,
        "tier_reasons": ["rules:greets"],
        "action": "speak",
        "intent": "greeting",
        "reply": reply,
        "cost_usd": 3.93e-06,
        "latency_ms": {"total": total_ms},
        "deadline_met": True,
        **fields,
    }


def a_report() -> dict[str, Any]:
    """A small report as ``sim replay --json`` writes it, with the fields later changes add."""
    return {
        "model_endpoint": "scripted",
        "calls": [
            {
                "call": "billing-then-agent",
                "contact_id": "0b6f3c1e-7d52-4a8e-9a0c-3f1d2e4b5a61",
                "format": "connect",
                "outcome": "handover",
                "expected_outcome": "handover",
                "outcome_as_expected": True,
                "duration_s": 23.51,
                "cost_usd": 0.01606677,
                "cost_per_minute_usd": 0.04100916,
                "handover": {"reason": "caller_asked", "status": "queued", "summary": "Bill up $40; wants an agent."},
                "turns": [
                    a_turn(1, SCRIPT, "Hi, thanks for calling.", 84.79),
                    a_turn(
                        2,
                        "why is my bill forty dollars more",
                        "Your bill went up by forty dollars. Anything else?",
                        2710.0,
                        tier=2,
                        routed_tier=1,
                        tier_reasons=["amounts_or_dates", "tier2:answered"],
                        latency_ms={
                            "state_read": 12.5,
                            "routing": 1.5,
                            "model": 2400.0,
                            "tools": 210.0,
                            "state_write": 20.0,
                            "total": 2710.0,
                        },
                        deadline_met=False,
                        degraded=True,
                        degraded_reasons=["degraded:soft_deadline"],
                        heard="Your bill went up by",
                        tools=[{"name": "get_balance", "kind": "read", "ms": 210.0, "outcome": "ok"}],
                        cost_usd=0.001171,
                    ),
                    a_turn(3, "agent. AGENT!", "Let me connect you.", 7.1, action="handover"),
                ],
            },
            {
                "call": "caller-hangs-up",
                "contact_id": "c0ffee00-0000-4000-8000-000000000006",
                "format": "lex",
                "outcome": "abandoned",
                "expected_outcome": "completed",
                "outcome_as_expected": False,
                "duration_s": 17.2,
                "cost_usd": 0.0109,
                "cost_per_minute_usd": 0.038,
                "turns": [a_turn(1, "hello?", "Hi, how can I help?", 6.9)],
            },
        ],
        "totals": {
            "calls": 2,
            "turns": 4,
            "deadline_misses": 1,
            "retries_inconsistent": 0,
            "outcomes": {"completed": 0, "handover": 1, "abandoned": 1},
            "outcomes_as_expected": 1,
            "latency_ms": {"p50": 45.85, "p95": 2710.0, "max": 2710.0},
            "tier_mix": {"tier_0": 0.75, "tier_1": 0.0, "tier_2": 0.25},
            "routed_tier_mix": {"tier_0": 0.75, "tier_1": 0.25, "tier_2": 0.0},
            "minutes": 0.678,
            "cost_usd": 0.02696677,
            "cost_per_minute_usd": 0.04999448,
            "llm_cost_per_minute_usd": 0.00139559,
            "baseline_all_large_cost_per_minute_usd": 0.05828961,
            "baseline_all_large_llm_cost_per_minute_usd": 0.00969072,
            "cost_per_minute_by_component_usd": {"connect": 0.038, "lex": 0.01053339, "llm": 0.00139559},
            "llm_cost_vs_all_large": 0.144,
        },
        "model_endpoint_stats": {"requests": 8, "unscripted": 0, "faults": {}},
    }


def test_caller_words_are_escaped_never_markup() -> None:
    page = render_html(a_report())
    dom = Dom(page)
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not dom.find("script")
    assert dom.find("section", "call")[0].text.count(SCRIPT) == 1  # shown to the reader as text


def test_nothing_is_fetched_from_anywhere() -> None:
    page = render_html(a_report())
    dom = Dom(page)
    assert not dom.find("link") and not dom.find("script") and not dom.find("img") and not dom.find("iframe")
    assert "http://" not in page and "https://" not in page and "url(" not in page and "@import" not in page
    assert any("default-src 'none'" in meta.attrs.get("content", "") for meta in dom.find("meta"))


def test_one_section_and_one_waterfall_per_call() -> None:
    dom = Dom(render_html(a_report()))
    sections = dom.find("section", "call")
    assert [s.attrs["id"] for s in sections] == ["call-billing-then-agent", "call-caller-hangs-up"]
    assert [len(s.find("svg", "waterfall")) for s in sections] == [1, 1]
    assert [len(s.find("tr", "turn")) for s in sections] == [3, 1]


def test_the_header_names_the_scripted_endpoint_and_shows_the_totals() -> None:
    dom = Dom(render_html(a_report()))
    header = dom.one("header").text
    assert "Switchboard call report" in header
    assert "scripted fake endpoint" in header
    for shown in ("$0.04999", "$0.001396", "$0.009691", "tier 0 75.0%", "handover 1", "0.678"):
        assert shown in header
    kpi = next(row for row in dom.find("tr") if "KPI rate" in row.text)
    assert "n/a" in kpi.text
    bars = dom.one("svg", "cost-chart").find("rect")
    assert [bar.text for bar in bars] == [
        "connect: $0.038000 per minute",
        "lex: $0.010533 per minute",
        "llm: $0.001396 per minute",
    ]


def test_kpi_rate_is_shown_when_the_report_has_it() -> None:
    report = a_report()
    report["totals"]["kpi_rate"] = 0.875
    kpi = next(row for row in Dom(render_html(report)).find("tr") if "KPI rate" in row.text)
    assert "87.5%" in kpi.text


def test_the_waterfall_lays_the_components_end_to_end_then_the_rest_as_other() -> None:
    dom = Dom(render_html(a_report()))
    first, slow, _ = dom.find("g", "turn")[:3]
    assert "missed" in slow.classes and "missed" not in first.classes
    segments = slow.find("rect", "seg")
    assert [e.text for e in segments] == [
        "state_read: 12.5 ms",
        "routing: 1.5 ms",
        "model: 2400.0 ms",
        "tools: 210.0 ms",
        "state_write: 20.0 ms",
        "other: 66.0 ms",
    ]
    xs = [float(e.attrs["x"]) for e in segments]
    assert xs == sorted(xs)
    assert [e.text for e in first.find("rect", "seg")] == ["other: 84.8 ms"]  # no components: all "other"
    (marker,) = slow.find("g", "degraded-marker")
    assert marker.find("title")[0].text == "degraded: degraded:soft_deadline"
    assert len(dom.find("g", "degraded-marker")) == 1
    assert len(dom.find("line", "hard-deadline")) == 2 and len(dom.find("line", "soft-deadline")) == 2


def test_the_deadlines_come_from_the_envelope_when_the_report_has_one() -> None:
    report = a_report()
    report["envelope"] = {"hard_deadline_ms": 2000, "soft_deadline_ms": 1200}
    svg = Dom(render_html(report)).find("svg", "waterfall")[0].text
    assert "hard 2000 ms" in svg and "soft 1200 ms" in svg


def test_a_barge_in_strikes_through_what_the_caller_did_not_hear() -> None:
    dom = Dom(render_html(a_report()))
    (struck,) = dom.find("del")
    assert struck.text == " forty dollars. Anything else?"
    assert len(dom.find("span", "barge-in")) == 1
    reply = next(td for td in dom.find("td", "reply") if "barge-in" in td.text)
    assert reply.text.startswith("barge-inYour bill went up by")
    assert "get_balance (read), 210.0 ms — ok" in reply.text


def test_handover_tier_and_an_unexpected_outcome_are_shown() -> None:
    dom = Dom(render_html(a_report()))
    first, second = dom.find("section", "call")
    assert "caller_asked" in first.text and "queued" in first.text and "Bill up $40" in first.text
    assert "2 (routed 1)" in first.text
    assert [s.text for s in second.find("span", "unexpected")] == ["abandoned (expected completed)"]
    assert "Handover" not in second.text


@pytest.mark.parametrize(
    "report",
    [
        {},
        {"calls": [], "totals": {}},
        {"calls": [{"turns": [{}]}], "totals": {"outcomes": {}}},
        {"calls": [{"call": "bare", "turns": [{"seq": 1, "caller": "hi", "latency_ms": {}}]}], "model_endpoint": "x"},
    ],
)
def test_missing_optional_fields_do_not_crash(report: dict[str, Any]) -> None:
    dom = Dom(render_html(copy.deepcopy(report)))
    assert "Switchboard call report" in dom.one("h1").text
    assert len(dom.find("svg", "waterfall")) == len(report.get("calls", []))


def run_chromium(browser: str, tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{name}"  # a fresh profile for every run
    return subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_a_browser_shows_the_calls_the_waterfalls_and_the_totals(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_html(a_report()), encoding="utf-8")
    url = page.as_uri()

    dumped = run_chromium(browser, tmp_path, "dom", "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr
    dom = Dom(dumped.stdout)
    assert [s.attrs["id"] for s in dom.find("section", "call")] == ["call-billing-then-agent", "call-caller-hangs-up"]
    assert len(dom.find("svg", "waterfall")) == 2
    assert len(dom.find("rect", "seg")) == 9  # 1 + 6 + 1 bars in the first call, 1 in the second
    header = dom.one("header").text
    assert "$0.04999" in header and "0.678" in header and "scripted fake endpoint" in header
    assert not dom.find("script")
    assert SCRIPT in dom.find("section", "call")[0].text

    shot = tmp_path / "report.png"
    taken = run_chromium(browser, tmp_path, "shot", f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert taken.returncode == 0, taken.stderr
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 30_000  # a blank 1280x2000 page is a few kB
