"""Replay recorded calls through the real turn handler and report each turn and each call."""

from __future__ import annotations

import html
import re
import statistics
import time
from typing import Any

from sim.calls import RecordedCall, connect_event, lex_event
from sim.harness import Harness

_TAGS = re.compile(r"<[^>]+>")
MODEL_ENDPOINT = "none: tier-0 rules only (no model tier configured)"


def spoken_text(ssml: str) -> str:
    """What the caller hears from an SSML prompt."""
    return html.unescape(_TAGS.sub("", ssml))


def _answer_fields(answer: dict[str, Any]) -> dict[str, str]:
    """action / turn / tier / prompt from a Connect or a Lex answer."""
    if "sessionState" in answer:
        attributes = answer["sessionState"]["sessionAttributes"]
        prompt = answer["messages"][0]["content"] if answer.get("messages") else ""
        return {**attributes, "prompt": prompt}
    return answer


def replay_call(harness: Harness, call: RecordedCall, hard_deadline_ms: float) -> dict[str, Any]:
    """Play ``call`` turn by turn, as the contact flow would; return its report."""
    turns: list[dict[str, Any]] = []
    stored_turn: str | None = None  # the flow's "turn" contact attribute
    lex_attributes: dict[str, str] = {}
    outcome = "abandoned"  # the caller hung up before we ended or handed over
    for turn in call.turns:
        if call.format == "lex":
            event = lex_event(call.contact_id, turn.caller, lex_attributes)
        else:
            event = connect_event(call.contact_id, turn.caller, stored_turn, call.caller_number)
        started = time.perf_counter()
        answer = harness.invoke("turn", event)
        total_ms = (time.perf_counter() - started) * 1000
        retries_consistent = True
        for _ in range(turn.connect_retries):
            retry_started = time.perf_counter()
            retried = harness.invoke("turn", event)
            total_ms = max(total_ms, (time.perf_counter() - retry_started) * 1000)
            retries_consistent = retries_consistent and retried == answer
        fields = _answer_fields(answer)
        sent_seq = int(stored_turn) if stored_turn else 1
        row: dict[str, Any] = {
            "seq": sent_seq,
            "caller": turn.caller,
            "tier": int(fields.get("tier", "0")),
            "action": fields.get("action", ""),
            "intent": fields.get("intent", ""),
            "reply": spoken_text(fields.get("prompt", "")),
            "latency_ms": {"total": round(total_ms, 2)},
            "deadline_met": total_ms <= hard_deadline_ms,
        }
        if turn.connect_retries:
            row["connect_retries"] = turn.connect_retries
            row["retries_consistent"] = retries_consistent
        turns.append(row)
        stored_turn = fields.get("turn", stored_turn)
        if call.format == "lex":
            lex_attributes = answer["sessionState"]["sessionAttributes"]
        if fields.get("action") == "end":
            outcome = "completed"
            break
        if fields.get("action") == "handover":
            outcome = "handover"
            break
    return {"call": call.call, "contact_id": call.contact_id, "format": call.format, "outcome": outcome, "turns": turns}


def replay(harness: Harness, calls: list[RecordedCall], hard_deadline_ms: float) -> dict[str, Any]:
    """Replay every call; the report ``sim replay --json`` writes."""
    reports = [replay_call(harness, call, hard_deadline_ms) for call in calls]
    latencies = [t["latency_ms"]["total"] for r in reports for t in r["turns"]]
    return {
        "model_endpoint": MODEL_ENDPOINT,
        "calls": reports,
        "totals": {
            "calls": len(reports),
            "turns": len(latencies),
            "deadline_misses": sum(1 for r in reports for t in r["turns"] if not t["deadline_met"]),
            "retries_inconsistent": sum(1 for r in reports for t in r["turns"] if t.get("retries_consistent") is False),
            "outcomes": {
                o: sum(1 for r in reports if r["outcome"] == o) for o in ("completed", "handover", "abandoned")
            },
            "latency_ms": _percentiles(latencies),
        },
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2), "max": round(ordered[-1], 2)}


def format_report(report: dict[str, Any]) -> str:
    """The per-turn table and per-call summary, for people."""
    lines = [f"model endpoint: {report['model_endpoint']}", ""]
    for call in report["calls"]:
        lines.append(f"== {call['call']}  ({call['format']}, contact {call['contact_id']})")
        lines.append(f"  {'turn':>4}  {'caller':<44}  {'tier':>4}  {'action':<8}  {'reply':<58}  {'ms':>7}")
        for t in call["turns"]:
            retry = (
                f"  (+{t['connect_retries']} Connect retries, same reply: {t['retries_consistent']})"
                if t.get("connect_retries")
                else ""
            )
            missed = "" if t["deadline_met"] else " MISSED"
            lines.append(
                f"  {t['seq']:>4}  {_cut(t['caller'], 44):<44}  {t['tier']:>4}  {t['action']:<8}  "
                f"{_cut(t['reply'], 58):<58}  {t['latency_ms']['total']:>7.1f}{missed}{retry}"
            )
        ms = [t["latency_ms"]["total"] for t in call["turns"]]
        lines.append(
            f"  -> outcome {call['outcome']}, {len(ms)} turns, p50 {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms"
        )
        lines.append("")
    totals = report["totals"]
    lat = totals["latency_ms"]
    lines.append(
        f"totals: {totals['calls']} calls, {totals['turns']} turns, deadline misses {totals['deadline_misses']}, "
        f"outcomes {totals['outcomes']}, "
        f"latency p50 {lat.get('p50')} ms p95 {lat.get('p95')} ms max {lat.get('max')} ms"
    )
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
