"""A replay report (``sim replay --json``) as one self-contained HTML page.

Everything the page needs is inside it: the CSS in a ``<style>`` block, the charts as SVG drawn
here, and a Content-Security-Policy that forbids every fetch. It opens from disk and works
offline. Every piece of text taken from the report is escaped: caller words and replies are
untrusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import Any

DEFAULT_HARD_DEADLINE_MS = 2500.0
DEFAULT_SOFT_DEADLINE_MS = 1500.0

# The parts of a turn, in the order they run, and their colours; "other" is the rest of the total.
COMPONENT_COLOURS: dict[str, str] = {
    "state_read": "#4e79a7",
    "routing": "#f28e2b",
    "model": "#59a14f",
    "tools": "#b07aa1",
    "state_write": "#76b7b2",
    "render": "#edc948",
    "other": "#bab0ac",
}
MEASURED_COMPONENTS = tuple(name for name in COMPONENT_COLOURS if name != "other")

ENDPOINT_NOTES = {
    "scripted": "a scripted fake endpoint: model replies are canned by the recorded calls, not generated",
    "live": "a live model endpoint",
    "none": "no model endpoint: the model tiers were not reachable",
}

# Waterfall geometry, in SVG user units.
_WIDTH, _LEFT, _RIGHT, _TOP, _BOTTOM = 960, 52, 230, 24, 28
_ROW, _BAR = 24, 14
# Cost chart geometry.
_COST_WIDTH, _COST_LABEL, _COST_VALUE, _COST_ROW = 520, 110, 110, 24

_CSS = """
:root { --ink: #1f2933; --muted: #61707d; --line: #d9dee3; --bg: #f6f7f9; --bad: #c0392b;
  --bad-bg: #fdecea; --warn: #d68910; --accent: #2f6fb0; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.45;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 22px; margin: 18px 0; }
.endpoint { margin: 0 0 6px; color: var(--muted); }
.endpoint strong { color: var(--ink); }
.summary { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
.summary > div { flex: 1 1 420px; min-width: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
table.kv th { width: 38%; text-transform: none; font-size: 13px; letter-spacing: 0; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.missed td { background: var(--bad-bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
dl.facts { display: flex; flex-wrap: wrap; gap: 8px 40px; margin: 0; }
.call-meta { margin: -6px 0 12px; color: var(--muted); }
.call-meta code { font: 12px "DejaVu Sans Mono", ui-monospace, monospace; color: var(--ink); }
dl.facts dt { font-size: 12px; color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.bad { color: var(--bad); }
.unexpected { background: var(--bad-bg); color: var(--bad); border-radius: 4px; padding: 0 4px; }
.handover { border-left: 4px solid var(--accent); background: #eef4fb; padding: 8px 12px; margin: 14px 0 0; }
.handover dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 4px 0 0; }
.handover dt { color: var(--muted); }
.handover dd { margin: 0; }
svg.waterfall, svg.cost-chart { display: block; width: 100%; height: auto; font-size: 12px; }
svg.cost-chart { max-width: 520px; }
svg text { fill: var(--ink); }
svg text.muted { fill: var(--muted); }
svg text.bad { fill: var(--bad); font-weight: 600; }
svg text.warn { fill: var(--warn); }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 16px; padding: 0; margin: 6px 0 0;
  font-size: 12px; color: var(--muted); }
ul.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
.rule { display: inline-block; width: 18px; height: 0; border-top: 2px solid var(--bad); }
.rule.soft { border-top: 2px dashed var(--warn); }
.swatch.missed { background: var(--bad-bg); border: 1px solid var(--bad); }
.badge { display: inline-block; font-size: 11px; font-weight: 600; border-radius: 10px; padding: 0 7px;
  margin: 0 4px 2px 0; white-space: nowrap; }
.badge.barge-in { background: #fff1d6; color: #8a5300; }
.badge.degraded { background: #fdebd0; color: #a04000; }
.badge.missed { background: var(--bad-bg); color: var(--bad); }
.badge.retry { background: #e8eef5; color: #34495e; }
.tag { display: inline-block; font-size: 11px; background: #eef1f4; color: #3e4c59; border-radius: 4px;
  padding: 0 5px; margin: 0 3px 3px 0; white-space: nowrap; }
td.caller { width: 22%; }
td.reply { width: 34%; }
td.reasons { width: 16%; }
td.tier { white-space: nowrap; }
del { color: var(--muted); text-decoration-color: var(--bad); }
.heard { font-size: 12px; color: var(--muted); }
ul.tools { margin: 6px 0 0; padding-left: 18px; font-size: 12px; color: #3e4c59; }
nav table td, nav table th { padding: 4px 10px; }
.none { color: var(--muted); }
.by-language { margin-top: 14px; }
.by-language table td, .by-language table th { padding: 4px 10px; }
"""


def render_html(report: dict[str, Any]) -> str:
    """Render a replay report as one self-contained HTML page.

    The page has a summary of ``report["totals"]`` with a cost-per-minute chart, then one
    ``<section class="call" id="call-<name>">`` per call with a latency waterfall (inline SVG,
    one row per turn, against the envelope's deadlines) and the transcript. Nothing is fetched:
    styles and charts are inline, and every piece of report text is HTML-escaped.

    Args:
        report: The dict ``sim replay --json`` writes: ``model_endpoint``, ``calls`` and
            ``totals``, optionally ``envelope`` and ``model_endpoint_stats``. Fields a report
            lacks are shown as "n/a" or left out.

    Returns:
        The whole HTML document.
    """
    envelope = report.get("envelope") or {}
    hard_ms = _number(envelope.get("hard_deadline_ms"), DEFAULT_HARD_DEADLINE_MS)
    soft_ms = _number(envelope.get("soft_deadline_ms"), DEFAULT_SOFT_DEADLINE_MS)
    calls = report.get("calls") or []
    swatches = "\n".join(f".swatch.c-{name} {{ background: {colour}; }}" for name, colour in COMPONENT_COLOURS.items())
    body = "\n".join(
        [
            _header(report),
            _call_index(calls),
            *(_call_section(call, index, hard_ms, soft_ms) for index, call in enumerate(calls, start=1)),
        ]
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard call report</title>
<style>{_CSS}{swatches}
</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


# --- summary -------------------------------------------------------------------------------------


def _header(report: dict[str, Any]) -> str:
    label = str(report.get("model_endpoint", "unknown"))
    note = ENDPOINT_NOTES.get(label)
    endpoint = f"Model endpoint: <strong>{_e(label)}</strong>" + (f" — {_e(note)}" if note else "")
    totals = report.get("totals") or {}
    rows = _summary_rows(totals)
    stats = report.get("model_endpoint_stats")
    if isinstance(stats, dict):
        rows.append(("Model endpoint stats", _e(_plain(stats))))
    table = "\n".join(f"<tr><th scope='row'>{_e(name)}</th><td>{value}</td></tr>" for name, value in rows)
    return f"""<header class="card">
<h1>Switchboard call report</h1>
<p class="endpoint">{endpoint}</p>
<div class="summary">
<div><h3>Totals</h3><table class="kv summary-table">
{table}
</table></div>
<div><h3>Cost per call minute by component</h3>
{_cost_chart(totals.get("cost_per_minute_by_component_usd") or {})}</div>
</div>
{_by_language(totals.get("by_language"))}
</header>"""


def _by_language(languages: Any) -> str:
    """The "By language" table: each call language's calls, minutes, KPI rate, tier mix and cost
    per minute (``totals["by_language"]``); nothing for a report without it."""
    if not isinstance(languages, dict) or not languages:
        return ""
    rows = []
    for language, figures in languages.items():
        row = figures if isinstance(figures, dict) else {}
        rows.append(
            f"<tr><th scope='row'>{_e(str(language))}</th>"
            f"<td class='num'>{_e(_text(row.get('calls')))}</td>"
            f"<td class='num'>{_e(_text(row.get('turns')))}</td>"
            f"<td class='num'>{_e(_text(row.get('minutes')))}</td>"
            f"<td class='num'>{_e(_rate(row.get('kpi_rate')))}</td>"
            f"<td>{_e(_mix(row.get('tier_mix')))}</td>"
            f"<td class='num'>{_e(_usd(row.get('cost_per_minute_usd'), 5))}</td>"
            f"<td class='num'>{_e(_usd(row.get('llm_cost_per_minute_usd'), 6))}</td></tr>"
        )
    columns = ("Language", "Calls", "Turns", "Minutes", "KPI rate", "Tier mix (answered)", "Cost per minute",
               "LLM cost per minute")  # fmt: skip
    head = "".join(f"<th scope='col'>{_e(name)}</th>" for name in columns)
    body = "\n".join(rows)
    return f"""<div class="by-language"><h3>By language</h3><table>
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody></table></div>"""


def _summary_rows(totals: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, HTML) rows of the totals table."""
    misses = totals.get("deadline_misses")
    misses_html = _e(_text(misses))
    if isinstance(misses, int) and misses:
        misses_html = f"<span class='bad'>{misses_html}</span>"
    outcomes = totals.get("outcomes") or {}
    outcomes_html = _e(", ".join(f"{name} {count}" for name, count in outcomes.items()) or "n/a")
    if "outcomes_as_expected" in totals:
        outcomes_html += _e(f" ({totals['outcomes_as_expected']}/{_text(totals.get('calls'))} as expected)")
    latency = totals.get("latency_ms") or {}
    latency_html = _e(", ".join(f"{name} {_ms(value)}" for name, value in latency.items()) or "n/a")
    llm, baseline_llm = totals.get("llm_cost_per_minute_usd"), totals.get("baseline_all_large_llm_cost_per_minute_usd")
    llm_html = f"{_e(_usd(llm, 6))} vs {_e(_usd(baseline_llm, 6))} with every turn on the large model"
    if _is_number(llm) and _is_number(baseline_llm) and baseline_llm:
        llm_html += _e(f" ({llm / baseline_llm:.1%} of it)")
    cost_html = _e(_usd(totals.get("cost_per_minute_usd"), 5))
    if "baseline_all_large_cost_per_minute_usd" in totals:
        cost_html += _e(f" (all-large baseline {_usd(totals['baseline_all_large_cost_per_minute_usd'], 5)})")
    tier_html = _e(_mix(totals.get("tier_mix")))
    if totals.get("routed_tier_mix") and totals.get("routed_tier_mix") != totals.get("tier_mix"):
        tier_html += f"<br><span class='none'>routed: {_e(_mix(totals['routed_tier_mix']))}</span>"
    return [
        ("Calls", _e(_text(totals.get("calls")))),
        ("Turns", _e(_text(totals.get("turns")))),
        ("Minutes", _e(_text(totals.get("minutes")))),
        ("Deadline misses", misses_html),
        ("Degraded turns", _e(_text(totals.get("degraded_turns")))),
        ("Outcomes", outcomes_html),
        ("Turn latency", latency_html),
        ("Cost per minute", cost_html),
        ("LLM cost per minute", llm_html),
        ("Tier mix (answered)", tier_html),
        ("KPI rate", _e(_rate(totals.get("kpi_rate")))),
    ]


def _cost_chart(per_component: dict[str, Any]) -> str:
    """Horizontal bars of cost per minute by component."""
    items = [(str(name), _number(value, 0.0)) for name, value in per_component.items()]
    if not items:
        return "<p class='none'>n/a</p>"
    top = max(value for _, value in items) or 1.0
    plot = _COST_WIDTH - _COST_LABEL - _COST_VALUE
    height = len(items) * _COST_ROW + 6
    rows = []
    for i, (name, value) in enumerate(items):
        y = 3 + i * _COST_ROW
        width = value / top * plot
        rows.append(
            f'<text x="{_COST_LABEL - 8}" y="{y + 16}" text-anchor="end">{_e(name)}</text>'
            f'<rect x="{_COST_LABEL}" y="{y + 4}" width="{width:.2f}" height="{_COST_ROW - 8}" rx="2" fill="#2f6fb0">'
            f"<title>{_e(name)}: {_e(_usd(value, 6))} per minute</title></rect>"
            f'<text x="{_COST_LABEL + width + 6:.2f}" y="{y + 16}" class="muted">{_e(_usd(value, 6))}</text>'
        )
    return (
        f'<svg class="cost-chart" viewBox="0 0 {_COST_WIDTH} {height}" width="{_COST_WIDTH}" height="{height}" '
        f'role="img" aria-label="Cost per call minute by component, in US dollars">' + "".join(rows) + "</svg>"
    )


def _call_index(calls: list[dict[str, Any]]) -> str:
    """A table of the calls, each linking to its section."""
    rows = []
    for index, call in enumerate(calls, start=1):
        name = _call_name(call, index)
        turns = call.get("turns") or []
        misses = sum(1 for turn in turns if turn.get("deadline_met") is False)
        outcome = _e(_text(call.get("outcome")))
        if call.get("outcome_as_expected") is False:
            outcome = f"<span class='unexpected'>{outcome}</span>"
        rows.append(
            f"<tr><td><a href='#{_e(_call_id(name))}'>{_e(name)}</a></td><td>{outcome}</td>"
            f"<td class='num'>{len(turns)}</td><td class='num'>{_e(_seconds(call.get('duration_s')))}</td>"
            f"<td class='num'>{_e(_usd(call.get('cost_per_minute_usd'), 4))}</td>"
            f"<td class='num{' bad' if misses else ''}'>{misses}</td></tr>"
        )
    return f"""<nav class="card"><h2>Calls</h2><table>
<thead><tr><th>Call</th><th>Outcome</th><th class="num">Turns</th><th class="num">Duration</th>
<th class="num">Cost / min</th><th class="num">Deadline misses</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></nav>"""


# --- one call ------------------------------------------------------------------------------------


def _call_section(call: dict[str, Any], index: int, hard_ms: float, soft_ms: float) -> str:
    name = _call_name(call, index)
    turns = call.get("turns") or []
    outcome = _e(_text(call.get("outcome")))
    if call.get("outcome_as_expected") is False:
        outcome = f"<span class='unexpected'>{outcome} (expected {_e(_text(call.get('expected_outcome')))})</span>"
    facts = [
        ("Outcome", outcome),
        ("Duration", _e(_seconds(call.get("duration_s")))),
        ("Turns", str(len(turns))),
        ("Cost", _e(_usd(call.get("cost_usd"), 5))),
        ("Cost per minute", _e(_usd(call.get("cost_per_minute_usd"), 4))),
    ]
    facts_html = "".join(f"<div><dt>{label}</dt><dd>{value}</dd></div>" for label, value in facts)
    contact_id = _e(_text(call.get("contact_id")))
    return f"""<section class="call card" id="{_e(_call_id(name))}">
<h2>{_e(name)}</h2>
<p class="call-meta">{_e(_text(call.get("format")))} call · contact id <code>{contact_id}</code></p>
<dl class="facts">{facts_html}</dl>
{_handover(call.get("handover"))}
<h3>Latency per turn</h3>
{_waterfall(name, turns, hard_ms, soft_ms)}
{_legend(hard_ms, soft_ms)}
<h3>Transcript</h3>
{_transcript(turns)}
</section>"""


def _handover(handover: Any) -> str:
    if handover is None:
        return ""
    if not isinstance(handover, dict):
        return f"<div class='handover'><strong>Handover</strong> {_e(_text(handover))}</div>"
    known = [key for key in ("reason", "status", "summary") if key in handover]
    keys = known + [key for key in handover if key not in known]
    rows = "".join(f"<dt>{_e(key)}</dt><dd>{_e(_text(handover[key]))}</dd>" for key in keys)
    return f"<div class='handover'><strong>Handover</strong><dl>{rows}</dl></div>"


def _segments(turn: dict[str, Any]) -> list[tuple[str, float]]:
    """(component, ms) laid end to end: the measured components, then the rest of the total."""
    latency = turn.get("latency_ms") or {}
    parts = [(name, float(latency[name])) for name in MEASURED_COMPONENTS if _is_number(latency.get(name))]
    other = _number(latency.get("total"), 0.0) - sum(ms for _, ms in parts)
    if other > 0:
        parts.append(("other", other))
    return parts


def _waterfall(name: str, turns: list[dict[str, Any]], hard_ms: float, soft_ms: float) -> str:
    """One row per turn, its components as bars end to end, against the deadlines."""
    segments = [_segments(turn) for turn in turns]
    longest = max((sum(ms for _, ms in parts) for parts in segments), default=0.0)
    scale = max(hard_ms, soft_ms, longest, 1.0) * 1.04
    plot = _WIDTH - _LEFT - _RIGHT
    bottom = _TOP + len(turns) * _ROW
    height = bottom + _BOTTOM

    def x(ms: float) -> float:
        return _LEFT + ms / scale * plot

    out = [
        f'<svg class="waterfall" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" role="img" '
        f'aria-label="Latency per turn of {_e(name)}, in milliseconds">'
    ]
    step = _tick_step(scale)
    for tick in range(int(scale // step) + 1):
        tx = x(tick * step)
        out.append(
            f'<line x1="{tx:.2f}" y1="{_TOP}" x2="{tx:.2f}" y2="{bottom}" stroke="#eceff2"/>'
            f'<text x="{tx:.2f}" y="{bottom + 16}" text-anchor="middle" class="muted">{tick * step:g}</text>'
        )
    out.append(f'<text x="{_WIDTH - _RIGHT + 8}" y="{bottom + 16}" class="muted">ms</text>')
    for i, (turn, parts) in enumerate(zip(turns, segments, strict=True)):
        out.append(_waterfall_row(turn, parts, i, x))
    out.append(
        f'<line class="soft-deadline" x1="{x(soft_ms):.2f}" y1="{_TOP - 6}" x2="{x(soft_ms):.2f}" y2="{bottom}" '
        f'stroke="#d68910" stroke-width="1.5" stroke-dasharray="5 4"><title>soft deadline {soft_ms:g} ms</title></line>'
        f'<text x="{x(soft_ms) - 4:.2f}" y="{_TOP - 9}" text-anchor="end" class="warn">soft {soft_ms:g} ms</text>'
        f'<line class="hard-deadline" x1="{x(hard_ms):.2f}" y1="{_TOP - 6}" x2="{x(hard_ms):.2f}" y2="{bottom}" '
        f'stroke="#c0392b" stroke-width="2"><title>hard deadline {hard_ms:g} ms</title></line>'
        f'<text x="{x(hard_ms) + 4:.2f}" y="{_TOP - 9}" class="bad">hard {hard_ms:g} ms</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _waterfall_row(turn: dict[str, Any], parts: list[tuple[str, float]], i: int, x: Callable[[float], float]) -> str:
    top = _TOP + i * _ROW
    mid = top + _ROW / 2 + 4
    missed = turn.get("deadline_met") is False
    out = [f'<g class="turn{" missed" if missed else ""}">']
    if missed:
        out.append(f'<rect x="0" y="{top}" width="{_WIDTH}" height="{_ROW}" fill="#fdecea"/>')
    bad = ' class="bad"' if missed else ""
    seq = _e(_text(turn.get("seq", i + 1)))
    out.append(f'<text x="{_LEFT - 8}" y="{mid}" text-anchor="end"{bad}>#{seq}</text>')
    start = 0.0
    for component, ms in parts:
        left = x(start)
        width = max(x(start + ms) - left, 1.0)  # a 1 ms part still shows
        out.append(
            f'<rect class="seg seg-{component}" x="{left:.2f}" y="{top + (_ROW - _BAR) / 2}" width="{width:.2f}" '
            f'height="{_BAR}" fill="{COMPONENT_COLOURS[component]}"'
            + (' stroke="#c0392b" stroke-width="1"' if missed else "")
            + f"><title>{component}: {ms:.1f} ms</title></rect>"
        )
        start += ms
    total = _number((turn.get("latency_ms") or {}).get("total"), start)
    label_x = _WIDTH - _RIGHT + 78  # the total, right-aligned; then "missed", then the degraded marker
    out.append(f'<text x="{label_x}" y="{mid}" text-anchor="end"{bad}>{total:.1f} ms</text>')
    if missed:
        out.append(f'<text x="{label_x + 6}" y="{mid}" class="bad">missed</text>')
    if turn.get("degraded"):
        mx, my = label_x + 66, top + _ROW / 2
        out.append(
            f'<g class="degraded-marker"><polygon points="{mx},{my - 6} {mx + 6},{my} {mx},{my + 6} {mx - 6},{my}" '
            f'fill="#e67e22"/><text x="{mx + 10}" y="{mid}" class="warn">degraded</text>'
            f"<title>{_degraded(turn)}</title></g>"
        )
    out.append("</g>")
    return "".join(out)


def _legend(hard_ms: float, soft_ms: float) -> str:
    items = [f"<li><span class='swatch c-{name}'></span>{name}</li>" for name in COMPONENT_COLOURS]
    items += [
        f"<li><span class='rule soft'></span>soft deadline {soft_ms:g} ms</li>",
        f"<li><span class='rule'></span>hard deadline {hard_ms:g} ms</li>",
        "<li><span class='swatch missed'></span>deadline missed</li>",
        "<li><svg width='12' height='12' viewBox='0 0 12 12' aria-hidden='true'>"
        "<polygon points='6,0 12,6 6,12 0,6' fill='#e67e22'/></svg>degraded</li>",
    ]
    return f"<ul class='legend'>{''.join(items)}</ul>"


def _transcript(turns: list[dict[str, Any]]) -> str:
    if not turns:
        return "<p class='none'>No turns.</p>"
    rows = "".join(_transcript_row(turn, i) for i, turn in enumerate(turns, start=1))
    return f"""<table class="transcript">
<thead><tr><th class="num">#</th><th>Caller</th><th>Tier</th><th>Tier reasons</th><th>Action</th><th>Reply</th>
<th class="num">ms</th><th class="num">Cost</th></tr></thead>
<tbody>{rows}</tbody></table>"""


def _transcript_row(turn: dict[str, Any], index: int) -> str:
    missed = turn.get("deadline_met") is False
    tier = _e(_text(turn.get("tier")))
    routed = turn.get("routed_tier")
    if routed is not None and routed != turn.get("tier"):
        tier += f" <span class='none'>(routed {_e(_text(routed))})</span>"
    reasons = "".join(f"<span class='tag'>{_e(_text(reason))}</span>" for reason in turn.get("tier_reasons") or [])
    badges = []
    if missed:
        badges.append("<span class='badge missed'>missed</span>")
    if turn.get("degraded"):
        badges.append(f"<span class='badge degraded' title='{_degraded(turn)}'>degraded</span>")
    if turn.get("connect_retries"):
        same = "" if turn.get("retries_consistent", True) else ", different reply"
        badges.append(f"<span class='badge retry'>+{_e(_text(turn['connect_retries']))} retries{same}</span>")
    latency_ms = (turn.get("latency_ms") or {}).get("total")
    return (
        f"<tr class='turn{' missed' if missed else ''}'>"
        f"<td class='num'>{_e(_text(turn.get('seq', index)))}</td>"
        f"<td class='caller'>{_e(_text(turn.get('caller', '')))}</td>"
        f"<td class='tier'>{tier}</td><td class='reasons'>{reasons}</td><td>{_e(_text(turn.get('action', '')))}</td>"
        f"<td class='reply'>{_reply(turn)}{_tools(turn.get('tools'))}</td>"
        f"<td class='num{' bad' if missed else ''}'>{_e(_ms(latency_ms))}<br>{''.join(badges)}</td>"
        f"<td class='num'>{_e(_usd(turn.get('cost_usd'), 6))}</td></tr>"
    )


def _reply(turn: dict[str, Any]) -> str:
    """The reply; after a barge-in, what the caller heard, then the rest struck through."""
    reply = str(turn.get("reply") or "")
    heard = turn.get("heard")
    if not isinstance(heard, str):
        return _e(reply)
    cut = len(_common_prefix(reply, heard))
    unheard = f"<del>{_e(reply[cut:])}</del>" if reply[cut:] else ""
    differs = "" if reply.startswith(heard) else f"<div class='heard'>heard: “{_e(heard)}”</div>"
    return f"<span class='badge barge-in'>barge-in</span>{_e(reply[:cut])}{unheard}{differs}"


def _degraded(turn: dict[str, Any]) -> str:
    """What a degraded turn's tooltip says: its degradation reasons, when the report has them."""
    reasons = ", ".join(str(reason) for reason in turn.get("degraded_reasons") or [])
    return _e(f"degraded: {reasons}" if reasons else "degraded")


def _tools(tools: Any) -> str:
    if not tools:
        return ""
    items = []
    for tool in tools:
        if not isinstance(tool, dict):
            items.append(f"<li>{_e(_text(tool))}</li>")
            continue
        kind = f" ({_e(_text(tool['kind']))})" if tool.get("kind") else ""
        took = f", {_e(_ms(tool['ms']))}" if _is_number(tool.get("ms")) else ""
        outcome = f" — {_e(_text(tool['outcome']))}" if tool.get("outcome") else ""
        items.append(f"<li><strong>{_e(_text(tool.get('name', 'tool')))}</strong>{kind}{took}{outcome}</li>")
    return f"<ul class='tools'>{''.join(items)}</ul>"


# --- formatting ----------------------------------------------------------------------------------


def _e(text: str) -> str:
    return escape(text, quote=True)


def _text(value: Any) -> str:
    return "n/a" if value is None else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any, default: float) -> float:
    return float(value) if _is_number(value) else default


def _usd(value: Any, digits: int) -> str:
    return f"${value:.{digits}f}" if _is_number(value) else "n/a"


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if _is_number(value) else "n/a"


def _seconds(value: Any) -> str:
    return f"{value:.1f} s" if _is_number(value) else "n/a"


def _rate(value: Any) -> str:
    """A rate as a percentage; a dict of rates as ``name pct`` pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{name} {_rate(rate)}" for name, rate in value.items()) or "n/a"
    return f"{value:.1%}" if _is_number(value) else _text(value)


def _mix(mix: Any) -> str:
    if not isinstance(mix, dict) or not mix:
        return "n/a"
    return ", ".join(f"{str(name).replace('_', ' ')} {_rate(share)}" for name, share in mix.items())


def _plain(stats: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {(_plain(value) or 'none') if isinstance(value, dict) else value}" for name, value in stats.items()
    )


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _call_name(call: dict[str, Any], index: int) -> str:
    return str(call.get("call") or f"call-{index}")


def _call_id(name: str) -> str:
    return f"call-{name}"


def _tick_step(span: float) -> float:
    """A round step that puts about six ticks across ``span``."""
    raw = span / 6
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
