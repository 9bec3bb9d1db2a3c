"""How well the router picks tiers on a labelled set (``events/router/labelled.jsonl``, and
``labelled.<locale>.jsonl`` for another language)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.domain.language_words import LanguageWords
from chalicelib.domain.router import RouteContext, route

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "events" / "router" / "labelled.jsonl"


def labelled_file(language: str) -> Path:
    """The labelled set of ``language``: ``labelled.jsonl`` for en-US, ``labelled.<locale>.jsonl`` otherwise."""
    return LABELLED if language == "en-US" else LABELLED.with_name(f"labelled.{language}.jsonl")


def load_labelled(path: Path = LABELLED) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            row = json.loads(line)
            if row.get("tier") not in (0, 1, 2) or not isinstance(row.get("utterance"), str):
                raise ValueError(f"{path.name}:{number}: needs an utterance and a tier 0, 1 or 2")
            rows.append(row)
    return rows


def evaluate(rows: list[dict[str, Any]], words: LanguageWords) -> dict[str, Any]:
    """Accuracy, under-routing (routed lower than labelled) and over-routing rates, routing with
    the words of the set's language."""
    confusion = [[0, 0, 0] for _ in range(3)]
    under: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    for row in rows:
        context = RouteContext(**row.get("context", {}))
        chosen = route(row["utterance"], context, words)
        confusion[row["tier"]][chosen.tier] += 1
        miss = {"utterance": row["utterance"], "context": row.get("context", {}), "labelled": row["tier"],
                "routed": chosen.tier, "reasons": list(chosen.reasons)}  # fmt: skip
        if chosen.tier < row["tier"]:
            under.append(miss)
        elif chosen.tier > row["tier"]:
            over.append(miss)
    n = len(rows)
    correct = sum(confusion[i][i] for i in range(3))
    return {
        "utterances": n,
        "accuracy": round(correct / n, 4),
        "under_routing_rate": round(len(under) / n, 4),
        "over_routing_rate": round(len(over) / n, 4),
        "confusion": {f"labelled_{i}": {f"routed_{j}": confusion[i][j] for j in range(3)} for i in range(3)},
        "routed_share": {f"tier_{j}": round(sum(confusion[i][j] for i in range(3)) / n, 4) for j in range(3)},
        "under_routed": under,
        "over_routed": over,
    }


def format_evaluation(result: dict[str, Any]) -> str:
    lines = [
        f"utterances {result['utterances']}  accuracy {result['accuracy']:.1%}  "
        f"under-routing {result['under_routing_rate']:.1%}  over-routing {result['over_routing_rate']:.1%}",
        "confusion (rows labelled, columns routed):",
    ]
    for label, routed in result["confusion"].items():
        lines.append(f"  {label}: " + "  ".join(f"{k}={v}" for k, v in routed.items()))
    lines.append("under-routed (the dangerous error):")
    lines.extend(
        f"  [{m['labelled']}->{m['routed']}] {m['utterance']!r} {m['context'] or ''}" for m in result["under_routed"]
    )
    return "\n".join(lines)
