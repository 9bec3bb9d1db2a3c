"""``sim cost``: cost per call minute by component, and when self-hosting the models would pay.

Reads a replay report (``sim replay --json``). The break-even is the arithmetic a team does
before choosing cloud or self-hosted models: self-hosting costs at least ``min_gpus`` GPUs all
month (redundancy) plus more GPUs as the tokens outgrow them; the API costs the measured LLM
cost per minute. Only the model tiers are replaced; Connect, Lex and AWS stay as they are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.domain.ledger import break_even_minutes

MINUTES_PER_MONTH_PER_LINE = Decimal(60 * 730)  # one line busy all month


def cost_breakdown(
    report: dict[str, Any],
    *,
    gpu_hourly: Decimal,
    utilisation: Decimal,
    tokens_per_second_per_gpu: Decimal,
    min_gpus: int,
) -> dict[str, Any]:
    totals = report["totals"]
    minutes = Decimal(str(totals["minutes"]))
    model_tokens = sum(t["tokens"]["input"] + t["tokens"]["output"] for c in report["calls"] for t in c["turns"])
    tokens_per_minute = Decimal(model_tokens) / minutes if minutes else Decimal(0)
    scenarios = {
        "routed": Decimal(str(totals["llm_cost_per_minute_usd"])),
        "all_large": Decimal(str(totals["baseline_all_large_llm_cost_per_minute_usd"])),
    }
    break_even: dict[str, Any] = {}
    for name, llm_per_minute in scenarios.items():
        minutes_needed = break_even_minutes(
            llm_cost_per_minute=llm_per_minute,
            tokens_per_minute=tokens_per_minute,
            gpu_hourly=gpu_hourly,
            tokens_per_second_per_gpu=tokens_per_second_per_gpu,
            utilisation=utilisation,
            min_gpus=min_gpus,
        )
        break_even[name] = {
            "llm_cost_per_minute_usd": float(llm_per_minute),
            "break_even_minutes_per_month": None if minutes_needed is None else int(minutes_needed),
            "break_even_concurrent_calls": None
            if minutes_needed is None
            else round(float(minutes_needed / MINUTES_PER_MONTH_PER_LINE), 1),
        }
    return {
        "model_endpoint": report["model_endpoint"],
        "minutes": float(minutes),
        "cost_per_minute_usd": totals["cost_per_minute_usd"],
        "cost_per_minute_by_component_usd": totals["cost_per_minute_by_component_usd"],
        "llm_cost_per_minute_usd": totals["llm_cost_per_minute_usd"],
        "baseline_all_large_llm_cost_per_minute_usd": totals["baseline_all_large_llm_cost_per_minute_usd"],
        "model_tokens_per_minute": round(float(tokens_per_minute), 1),
        # Each call language's cost per minute (a report from before languages has none).
        "cost_per_minute_by_language_usd": {
            language: figures["cost_per_minute_usd"] for language, figures in (totals.get("by_language") or {}).items()
        },
        "self_hosting": {
            "gpu_hourly_usd": float(gpu_hourly),
            "utilisation": float(utilisation),
            "tokens_per_second_per_gpu": float(tokens_per_second_per_gpu),
            "min_gpus": min_gpus,
            "break_even": break_even,
        },
    }


def format_breakdown(result: dict[str, Any]) -> str:
    lines = [f"cost per call minute (model endpoint: {result['model_endpoint']}, {result['minutes']} min replayed)"]
    for component, value in result["cost_per_minute_by_component_usd"].items():
        lines.append(f"  {component:<14} ${value:.6f}")
    lines.append(f"  {'total':<14} ${result['cost_per_minute_usd']:.6f}")
    for language, value in result.get("cost_per_minute_by_language_usd", {}).items():
        lines.append(f"  {language + ' calls':<14} ${value:.6f}")
    hosting = result["self_hosting"]
    lines.append(
        f"self-hosting the model tiers: ${hosting['gpu_hourly_usd']}/GPU-hour, "
        f"{hosting['tokens_per_second_per_gpu']:.0f}"
        f" tokens/s per GPU at {hosting['utilisation']:.0%} utilisation, at least {hosting['min_gpus']} GPUs; "
        f"{result['model_tokens_per_minute']} model tokens per call minute"
    )
    for name, figures in hosting["break_even"].items():
        if figures["break_even_minutes_per_month"] is None:
            verdict = "never: a GPU minute of these tokens costs more than the API"
        else:
            verdict = (
                f"beats the API above {figures['break_even_minutes_per_month']:,} call minutes a month "
                f"(~{figures['break_even_concurrent_calls']} calls at once, all month)"
            )
        lines.append(f"  {name:<10} LLM ${figures['llm_cost_per_minute_usd']:.6f}/min: {verdict}")
    return "\n".join(lines)
