"""Replay recorded calls through the contact flow and the real handlers; report each turn and
each call.

Each call is one contact through the flow a user imports (``sim.connect_instance``: the checked-in
``infra/contact-flow.json`` filled for the simulated instance), played by ``sim.connect_flow``
with the bot deployed for the call's ``TurnPath``; the handlers run in this process. Replay has
no media: the flow's Start media streaming takes its error branch (no KVS stream), so no
transcriber runs (``sim stream`` plays the media path).
"""

from __future__ import annotations

import html
import re
import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.adapters.redaction_policy import process_redactor
from chalicelib.domain.envelope import Envelope
from chalicelib.domain.ledger import PriceBook, per_minute, total
from chalicelib.domain.session import TurnRecord
from chalicelib.domain.usage import Usage
from sim.calls import DEFAULT_LANGUAGE, CallTurn, RecordedCall, RecordedCaller, recorded_contact
from sim.connect_flow import CallerTurn, ContactReport
from sim.connect_instance import TURN_PATHS, harness_invoker, simulated_connect
from sim.costs import all_large_llm_usage, call_usage, llm_usage, money, priced, speaking_seconds, summarize
from sim.flow_language import ContactFlow
from sim.handover import follow_handover, handover_lines
from sim.harness import Harness
from sim.stats import summary
from sim.streams import StreamFeed, add_contact_results

_TAGS = re.compile(r"<[^>]+>")


def spoken_text(ssml: str) -> str:
    """What the caller hears from an SSML prompt."""
    return html.unescape(_TAGS.sub("", ssml))


def shown_caller(record: TurnRecord | None, said: str) -> str:
    """What a report shows of the caller's words: the turn item's (redacted by the handler
    before it was stored), or, for a turn with no item, the words scrubbed (``Redactor.scrub``):
    never the call file's raw words."""
    return record.caller if record is not None else process_redactor().scrub(said)


def answer_fields(answer: dict[str, Any]) -> dict[str, str]:
    """action / turn / tier / prompt from a Connect or a Lex answer."""
    if "sessionState" in answer:
        attributes = answer["sessionState"]["sessionAttributes"]
        prompt = answer["messages"][0]["content"] if answer.get("messages") else ""
        return {**attributes, "prompt": prompt}
    return answer


def sent_sequence(event: Any) -> int:
    """The turn sequence an event carried: Connect's ``turn`` contact attribute or Lex's
    ``turn`` session attribute (1 when there is none yet)."""
    if isinstance(event, dict) and isinstance(event.get("sessionState"), dict):
        attributes = event["sessionState"].get("sessionAttributes") or {}
    else:
        attributes = ((event or {}).get("Details") or {}).get("ContactData", {}).get("Attributes") or {}
    value = attributes.get("turn", "")
    return int(value) if isinstance(value, str) and value.isdigit() else 1


def flow_summary(report: ContactReport, turn_path: str) -> dict[str, Any]:
    """What the contact flow did with the call, for the call's report."""
    streaming = next((why for block, kind, why in report.errors if block == "stream-on"), None)
    return {
        "turn_path": turn_path,
        "blocks_run": len(report.path),
        "errors": [f"{block}: {kind}" for block, kind, _ in report.errors if kind != "NoMatchingCondition"],
        "contact_lens_real_time": report.real_time_analytics,
        "analytics_language": (report.analytics or {}).get("language"),
        "media_streaming": "on" if report.media_streaming else f"NoMatchingError ({streaming or 'not run'})",
        "queue": report.queue[1] if report.queue else None,
        "transferred": report.transferred,
        "ended_by": report.ended_by,
    }


class _CallLedger:
    """Usage of one call: actual, and the all-large-model baseline."""

    def __init__(self) -> None:
        self.actual: list[Usage] = []
        self.baseline: list[Usage] = []


DEGRADATION_PREFIXES = ("degraded:", "fallback:")
COMPONENT_ORDER = ("state_read", "routing", "model", "model_first_token", "tools", "state_write", "render", "handler")


@dataclass
class _Delivered:
    """One caller turn as delivered (with Connect's retries) and what the handler recorded."""

    answer: dict[str, Any]
    total_ms: float
    usage: tuple[Usage, ...]
    components: dict[str, float]
    retries_consistent: bool


def _delivered(turn: CallerTurn) -> _Delivered:
    """The turn's deliveries as the flow made them (Connect's retries included)."""
    results = [d.result for d in turn.deliveries if d.result is not None]
    usage = tuple(u for r in results for u in ((r.detail or {}).get("usage", ())))
    components = dict((results[0].detail or {}).get("components", {})) if results else {}
    total_ms = max((r.duration_ms for r in results), default=0.0)
    return _Delivered(turn.answer if isinstance(turn.answer, dict) else {}, total_ms, usage, components,
                      turn.consistent)  # fmt: skip


def _turn_row(
    turn: CallTurn,
    sent_seq: int,
    delivered: _Delivered,
    record: TurnRecord | None,
    envelope: Envelope,
    prices: PriceBook,
) -> dict[str, Any]:
    fields = answer_fields(delivered.answer)
    reasons = list(record.reply.reasons) if record else []
    degradations = [r for r in reasons if r.startswith(DEGRADATION_PREFIXES)]
    calls = record.model_calls if record else ()
    components = delivered.components
    row: dict[str, Any] = {
        "seq": sent_seq,
        "caller": shown_caller(record, turn.caller),
        "tier": int(fields.get("tier", "0")),
        "routed_tier": record.routed_tier if record else int(fields.get("tier", "0")),
        "language": record.language if record else None,  # the language the turn was answered in
        "tier_reasons": reasons,
        "action": fields.get("action", ""),
        "intent": fields.get("intent", ""),
        "reply": spoken_text(fields.get("prompt", "")),
        "tokens": {"input": sum(c.input_tokens for c in calls), "output": sum(c.output_tokens for c in calls)},
        "model_calls": [
            {
                "tier": c.tier,
                "model": c.model,
                "outcome": c.outcome,
                "why": c.why,
                "first_token_ms": round(c.first_token_ms, 1) if c.first_token_ms else None,
                "total_ms": round(c.total_ms, 1),
            }
            for c in calls
        ],
        "tools": [
            {"name": t.name, "kind": t.kind, "ms": t.ms, "outcome": t.outcome}
            for t in (record.tool_calls if record else ())
        ],
        "cost_usd": money(total(priced(delivered.usage, prices))),
        "latency_ms": {
            **{k: round(components[k], 2) for k in COMPONENT_ORDER if k in components},
            "total": round(delivered.total_ms, 2),
        },
        "deadline_met": delivered.total_ms <= envelope.hard_deadline_ms,
        "degraded": bool(degradations),
        "degraded_reasons": degradations,
    }
    if turn.connect_retries:
        row["connect_retries"] = turn.connect_retries
        row["retries_consistent"] = delivered.retries_consistent
    return row


def play_call(harness: Harness, call: RecordedCall, flow: ContactFlow | None = None) -> ContactReport:
    """The call as one contact through the deployed flow (or ``flow``), handlers in process."""
    connect = simulated_connect(harness)
    contact = recorded_contact(call)
    return connect.play(contact, RecordedCaller(call), TURN_PATHS[call.format], harness_invoker(harness), flow=flow)


def replay_call(
    harness: Harness, call: RecordedCall, envelope: Envelope, flow: ContactFlow | None = None
) -> dict[str, Any]:
    """Play ``call`` through the contact flow; return its report."""
    contact = play_call(harness, call, flow)
    services = harness.services()
    turns: list[dict[str, Any]] = []
    ledger = _CallLedger()
    duration_s = Decimal(0)
    for caller_turn in contact.turns:
        if not caller_turn.deliveries:
            continue  # the flow never delivered it (the caller spoke into an error)
        delivered = _delivered(caller_turn)
        fields = answer_fields(delivered.answer)
        answered_seq = int(fields.get("turn", "1")) - 1
        record = services.session_store.load_turn(call.contact_id, answered_seq, services.clock.now_ms())
        ledger.actual.extend(delivered.usage)
        ledger.baseline.extend(u for u in delivered.usage if u not in llm_usage(delivered.usage))
        ledger.baseline.extend(all_large_llm_usage(record, delivered.usage, services.tiers))
        turn: CallTurn = caller_turn.utterance.tag
        row = _turn_row(turn, sent_sequence(caller_turn.event), delivered, record, envelope, services.prices)
        row["answered_seq"] = answered_seq
        if caller_turn.error:
            row["flow_error"] = caller_turn.error
        turns.append(row)
        duration_s = Decimal(turn.at_ms) / 1000 + Decimal(delivered.total_ms) / 1000 + speaking_seconds(row["reply"])
    outcome = contact.outcome
    # The handover workflow's callback is a side effect of the call too (booked by its task).
    handover = follow_handover(harness, call.contact_id, outcome, call.handover_agent_answers)
    per_call = call_usage(duration_s)
    actual = priced((*ledger.actual, *per_call), services.prices)
    baseline = priced((*ledger.baseline, *per_call), services.prices)
    report = {
        "call": call.call,
        "contact_id": call.contact_id,
        "format": call.format,
        "language": call.language,
        "outcome": outcome,
        "expected_outcome": call.expect_outcome,
        "outcome_as_expected": call.expect_outcome in (None, outcome),
        "flow": flow_summary(contact, TURN_PATHS[call.format]),
        "handover": handover,
        "duration_s": float(round(duration_s, 2)),
        "side_effects": sum(
            1 for t in turns for tool in t["tools"] if tool["kind"] == "side_effect" and tool["outcome"] == "ok"
        )
        + int(bool(handover and str(handover.get("callback") or "").startswith("cb-"))),
        **summarize(actual, duration_s),
        "_costs": {"actual": actual, "baseline": baseline, "duration_s": duration_s},
        "turns": turns,
    }
    # The language the caller was served in: the last answered turn's (a caller who asks for
    # Spanish in an English call is a Spanish call from then on).
    served = [t["language"] for t in turns if t.get("language")]
    report["served_language"] = served[-1] if served else call.language
    return report


def replay(harness: Harness, calls: list[RecordedCall], envelope: Envelope) -> dict[str, Any]:
    """Replay every call; the report ``sim replay --json`` writes."""
    feed = StreamFeed(harness)
    reports = []
    for index, call in enumerate(calls):
        report = replay_call(harness, call, envelope)
        feed.publish_call(call, report, index)
        feed.drain()
        add_contact_results(harness, call, report)
        reports.append(report)
    all_turns = [t for r in reports for t in r["turns"]]
    latencies = [t["latency_ms"]["total"] for t in all_turns]
    seconds = sum((r["_costs"]["duration_s"] for r in reports), Decimal(0))
    figures = call_figures(reports)
    languages = by_language(reports)
    actual = _add([r.pop("_costs") for r in reports])
    totals: dict[str, Any] = {
        "calls": figures["calls"],
        "turns": figures["turns"],
        "deadline_misses": sum(1 for t in all_turns if not t["deadline_met"]),
        "retries_inconsistent": sum(1 for t in all_turns if t.get("retries_consistent") is False),
        "outcomes": {o: sum(1 for r in reports if r["outcome"] == o) for o in ("completed", "handover", "abandoned")},
        "outcomes_as_expected": sum(1 for r in reports if r["outcome_as_expected"]),
        "latency_ms": summary(latencies, (0.95,), digits=2),
        "latency_ms_by_component": {
            c: summary([t["latency_ms"][c] for t in all_turns if c in t["latency_ms"]], (0.95,), digits=2)
            for c in (*COMPONENT_ORDER, "total")
            if any(c in t["latency_ms"] for t in all_turns)
        },
        "degraded_turns": sum(1 for t in all_turns if t["degraded"]),
        "barge_ins": sum(1 for t in all_turns if "heard" in t),
        "kpi_rate": figures["kpi_rate"],
        "contact_outcomes": {
            o: sum(1 for r in reports if r.get("contact_outcome") == o)
            for o in ("contained", "handover", "abandoned", "failed")
        },
        "tool_calls": sum(len(t["tools"]) for t in all_turns),
        "side_effects": sum(r["side_effects"] for r in reports),
        "tier_mix": figures["tier_mix"],
        "routed_tier_mix": figures["routed_tier_mix"],
        "minutes": figures["minutes"],
        "cost_usd": figures["cost_usd"],
        "cost_per_minute_usd": figures["cost_per_minute_usd"],
        "llm_cost_per_minute_usd": figures["llm_cost_per_minute_usd"],
        "baseline_all_large_cost_per_minute_usd": figures["baseline_all_large_cost_per_minute_usd"],
        "baseline_all_large_llm_cost_per_minute_usd": figures["baseline_all_large_llm_cost_per_minute_usd"],
        "cost_per_minute_by_component_usd": {
            k: money(per_minute(v, seconds)) for k, v in sorted(actual["actual"].items())
        },
        "llm_cost_vs_all_large": figures["llm_cost_vs_all_large"],
        "by_language": languages,
    }
    report: dict[str, Any] = {
        "model_endpoint": harness.model_endpoint_label,
        "envelope": {
            "hard_deadline_ms": envelope.hard_deadline_ms,
            "soft_deadline_ms": envelope.soft_deadline_ms,
            "components": dict(envelope.components),
        },
        "calls": reports,
        "totals": totals,
    }
    if harness.model_endpoint is not None:
        report["model_endpoint_stats"] = harness.model_endpoint.stats.as_dict()
    if harness.tool_servers is not None:
        # From the tool servers' own counters, not from what the turns recorded.
        backend = harness.tool_servers.backend
        totals["side_effects_executed"] = backend.side_effects_executed
        totals["duplicate_side_effects"] = sum(n - 1 for n in backend.executions_by_key.values() if n > 1)
    return report


def call_figures(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The KPI, tier mix and cost per call minute of some replayed calls (``replay_call``'s
    reports, with their ``_costs`` and, once the contact records are in, their
    ``kpi_neutral_positive``): what ``totals`` and each language in ``by_language`` show.

    The KPI rate is the share of calls with a contact record whose outcome is neutral to
    positive; the tier mix is over answered turns (``tier``) and routed ones (``routed_tier``);
    the costs per minute are over the calls' own minutes.
    """
    turns = [t for r in reports for t in r["turns"]]
    seconds = sum((r["_costs"]["duration_s"] for r in reports), Decimal(0))
    costs = _add([r["_costs"] for r in reports])
    llm, baseline_llm = costs["actual"].get("llm", Decimal(0)), costs["baseline"].get("llm", Decimal(0))
    figures: dict[str, Any] = {
        "calls": len(reports),
        "turns": len(turns),
        "minutes": float(round(seconds / 60, 3)),
        "kpi_rate": _share([r["kpi_neutral_positive"] for r in reports if r.get("kpi_neutral_positive") is not None]),
        "tier_mix": _mix([t["tier"] for t in turns]),
        "routed_tier_mix": _mix([t["routed_tier"] for t in turns]),
        "cost_usd": money(total(costs["actual"])),
        "cost_per_minute_usd": money(per_minute(total(costs["actual"]), seconds)),
        "llm_cost_per_minute_usd": money(per_minute(llm, seconds)),
        "baseline_all_large_cost_per_minute_usd": money(per_minute(total(costs["baseline"]), seconds)),
        "baseline_all_large_llm_cost_per_minute_usd": money(per_minute(baseline_llm, seconds)),
    }
    large_llm = figures["baseline_all_large_llm_cost_per_minute_usd"]
    figures["llm_cost_vs_all_large"] = round(figures["llm_cost_per_minute_usd"] / large_llm, 4) if large_llm else None
    return figures


def by_language(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``call_figures`` of the calls of each language (the language a call was served in, its
    ``served_language``: its last answered turn's; else the language it starts in, its
    ``language``; ``en-US`` for a report without either), languages sorted.

    Example:
        ``{"en-US": {"calls": 26, "kpi_rate": 0.8, "tier_mix": {...}, "cost_per_minute_usd": ...},
        "es-US": {...}}``
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        language = report.get("served_language") or report.get("language") or DEFAULT_LANGUAGE
        groups.setdefault(str(language), []).append(report)
    return {language: call_figures(groups[language]) for language in sorted(groups)}


def _add(costs: list[dict[str, Any]]) -> dict[str, dict[str, Decimal]]:
    summed: dict[str, dict[str, Decimal]] = {"actual": {}, "baseline": {}}
    for entry in costs:
        for which in ("actual", "baseline"):
            for component, value in entry[which].items():
                summed[which][component] = summed[which].get(component, Decimal(0)) + value
    return summed


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _mix(tiers: list[int]) -> dict[str, float]:
    return {f"tier_{t}": round(tiers.count(t) / len(tiers), 4) for t in (0, 1, 2)} if tiers else {}


def format_report(report: dict[str, Any]) -> str:
    """The per-turn table and per-call summary, for people."""
    lines = [f"model endpoint: {report['model_endpoint']}", ""]
    for call in report["calls"]:
        lines.append(f"== {call['call']}  ({call['format']}, contact {call['contact_id']})")
        lines.append(
            f"  {'turn':>4}  {'caller':<40}  {'tier':>4}  {'action':<8}  {'reply':<52}  {'ms':>7}  {'cost $':>9}"
        )
        for t in call["turns"]:
            retry = (
                f"  (+{t['connect_retries']} Connect retries, same reply: {t['retries_consistent']})"
                if t.get("connect_retries")
                else ""
            )
            missed = "" if t["deadline_met"] else " MISSED"
            tier = f"{t['tier']}" + (f"<{t['routed_tier']}" if t["routed_tier"] != t["tier"] else "")
            lines.append(
                f"  {t['seq']:>4}  {_cut(t['caller'], 40):<40}  {tier:>4}  {t['action']:<8}  "
                f"{_cut(t['reply'], 52):<52}  {t['latency_ms']['total']:>7.1f}  {t['cost_usd']:>9.6f}{missed}{retry}"
            )
            if t["tier"] or t["routed_tier"]:
                lines.append(f"        reasons: {', '.join(t['tier_reasons'])}")
            if t["tools"]:
                calls = ", ".join(f"{c['name']} ({c['kind']}, {c['outcome']}, {c['ms']:.0f} ms)" for c in t["tools"])
                lines.append(f"        tools: {calls}")
        lines.extend(handover_lines(call))
        ms = [t["latency_ms"]["total"] for t in call["turns"]]
        expected = "" if call["outcome_as_expected"] else f" (EXPECTED {call['expected_outcome']})"
        if call.get("contact_outcome"):
            expected += f", contact {call['contact_outcome']}, KPI {'yes' if call['kpi_neutral_positive'] else 'no'}"
        lines.append(
            f"  -> outcome {call['outcome']}{expected}, {len(ms)} turns, {call['duration_s']:.0f} s, "
            f"p50 {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms, "
            f"cost ${call['cost_usd']:.5f} (${call['cost_per_minute_usd']:.4f}/min)"
        )
        lines.append("")
    t = report["totals"]
    lat = t["latency_ms"]
    lines.append(
        f"totals: {t['calls']} calls, {t['turns']} turns, {t['minutes']} min, deadline misses {t['deadline_misses']}, "
        f"outcomes {t['outcomes']} ({t['outcomes_as_expected']}/{t['calls']} as expected)"
    )
    executed = t.get("side_effects_executed")
    lines.append(
        f"tools: {t['tool_calls']} calls, {t['side_effects']} side effects recorded"
        + (
            f", {executed} executed by the tool servers, {t['duplicate_side_effects']} duplicated"
            if executed is not None
            else ""
        )
    )
    lines.append(f"latency: p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, max {lat.get('max')} ms; "
                 f"degraded turns {t['degraded_turns']}")  # fmt: skip
    budgets = report["envelope"]["components"]
    lines.append("latency by component (p50 / p95 / max ms, budget):")
    for component, figures in t["latency_ms_by_component"].items():
        per_call = {"model": "model_total", "tools": "tool_call"}.get(component)
        budget = budgets.get(per_call or component)
        limit = f"  budget {budget:.0f}{' per call' if per_call else ''}" if budget else ""
        lines.append(f"  {component:<18} {figures['p50']:>8.1f} {figures['p95']:>8.1f} {figures['max']:>8.1f}{limit}")
    lines.append(f"tier mix (answered): {t['tier_mix']}   routed: {t['routed_tier_mix']}")
    kpi = t.get("kpi_rate")
    lines.append(
        f"KPI (handled with a neutral-to-positive outcome): {kpi:.0%} of calls; contact outcomes "
        f"{t['contact_outcomes']}; barge-ins {t['barge_ins']}"
        if kpi is not None
        else "KPI: no contact records"
    )
    lines.append(
        f"cost per minute: ${t['cost_per_minute_usd']:.5f} (LLM ${t['llm_cost_per_minute_usd']:.6f}); "
        f"all turns on the large model: ${t['baseline_all_large_cost_per_minute_usd']:.5f} "
        f"(LLM ${t['baseline_all_large_llm_cost_per_minute_usd']:.6f}); "
        f"LLM cost vs all-large: {t['llm_cost_vs_all_large']}"
    )
    lines.append(
        "per minute by component: "
        + ", ".join(f"{k} ${v:.6f}" for k, v in t["cost_per_minute_by_component_usd"].items())
    )
    if t.get("by_language"):
        lines.append("by language (the language each call was served in, its last turn's):")
    for language, figures in (t.get("by_language") or {}).items():
        rate = figures["kpi_rate"]
        lines.append(
            f"  {language}: {figures['calls']} calls, {figures['minutes']} min, "
            f"KPI {'n/a' if rate is None else f'{rate:.0%}'}, tier mix {figures['tier_mix']}, "
            f"cost per minute ${figures['cost_per_minute_usd']:.5f} (LLM ${figures['llm_cost_per_minute_usd']:.6f})"
        )
    if "model_endpoint_stats" in report:
        lines.append(f"scripted model endpoint: {report['model_endpoint_stats']}")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
