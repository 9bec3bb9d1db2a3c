"""The invariants ``sim load`` checks after a run — from the session table, the tool servers'
counters, the Step Functions executions and the handlers' own answers, never from what the
simulator meant to happen.

- ``lost_turns``: a caller turn with no stored reply — the caller heard an answer that advanced
  the conversation but no TURN item holds it (or holds other words), or every delivery of the
  turn failed.
- ``duplicate_side_effects``: a side effect the back office performed twice (the same key run
  twice, or the same request run under two keys).
- ``deadline_misses``: a turn handler that answered after the envelope's hard deadline.
- ``lost_updates``: a session change that was acknowledged and then vanished: a concurrent
  segment write, a segment or contact record the consumer took, a committed turn the session
  no longer counts.
- ``unhandled_errors``: a handler that raised to Connect/Lex or to the event source mapping, a
  batch still failing after its retries, a handover workflow that failed.
- ``double_handover``: more than one workflow execution for one handover request.
- ``pii_leaks``: a raw value a call's caller read out (its ``sensitive`` list) found in a sink:
  a table item, a model request, a log line, a workflow execution, contact attributes, the
  load's report (``sim.leaks``, counted by ``sim.load``).

A TURN item holds the caller's words redacted (``my card is [CARD_1]``): it holds the words the
caller said when every other word matches and each token stands for at least one (``same_words``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sim.environments import Invocation

_WORDS = re.compile(r"[a-z0-9']+")
INVARIANTS = (
    "lost_turns",
    "duplicate_side_effects",
    "deadline_misses",
    "lost_updates",
    "unhandled_errors",
    "double_handover",
    "pii_leaks",
)
_TOKEN = re.compile(r"\[[A-Z][A-Z_]*\]|\[[A-Z][A-Z_]*_\d+\]")


@dataclass
class TurnLog:
    """One caller turn as delivered: every invocation of it and the answer that advanced it."""

    caller: str
    sent_seq: int
    invocations: list[Invocation] = field(default_factory=list)
    answered_seq: int | None = None  # the stored turn the final answer speaks for
    reply: str = ""  # what the caller heard (spoken text)
    consistent: bool = True  # every answer to this turn was the same


@dataclass
class CallLog:
    contact_id: str
    call: str
    turns: list[TurnLog] = field(default_factory=list)
    other: list[Invocation] = field(default_factory=list)  # malformed events, consumers
    warmups: list[Invocation] = field(default_factory=list)  # played while the greeting plays
    outcome: str = "abandoned"
    race_segments: list[str] = field(default_factory=list)
    handover_requests: int = 0


def words(text: str) -> tuple[str, ...]:
    return tuple(_WORDS.findall(text.lower()))


def same_words(stored: str, said: str) -> bool:
    """``stored`` is ``said`` with some caller data redacted: the same words, each token in place
    of one or more of them.

    Example:
        >>> same_words("my card is [CARD_1], thanks", "My card is four one one one... thanks")
        True
    """
    parts = _TOKEN.split(stored)
    if len(parts) == 1:
        return words(stored) == words(said)
    elements: list[str] = []
    for i, part in enumerate(parts):
        if words(part):
            elements.append(re.escape(" ".join(words(part))))
        if i < len(parts) - 1:
            elements.append(r"\S+(?: \S+)*?")  # the token: one word or more
    return re.fullmatch(" ".join(elements), " ".join(words(said))) is not None


def check(
    logs: list[CallLog],
    store: Any,
    now_ms: int,
    backend: Any,
    executions: list[dict[str, Any]],
    feed: Any,
    hard_deadline_ms: float,
    leaks: list[str] | None = None,
) -> dict[str, Any]:
    """Every invariant's count, and what was found (at most a few examples each).

    ``leaks``: one entry per raw value found in a sink (``sim.leaks.scan_sinks``' ``entries``).
    """
    found: dict[str, list[str]] = {name: [] for name in INVARIANTS}
    found["pii_leaks"] = list(leaks or ())
    for log in logs:
        if log.contact_id:
            session = store.load(log.contact_id, now_ms)
            stored = {t.seq: t for t in store.load_turns(log.contact_id, now_ms)}
            _turns(log, stored, found["lost_turns"])
            _updates(log, session, stored, feed, found["lost_updates"])
        for invocation in log.warmups:
            if invocation.raised:
                found["unhandled_errors"].append(f"{log.call}: warm-up raised {invocation.raised}")
        for invocation in _all(log):
            if invocation.raised:
                found["unhandled_errors"].append(f"{log.call}: {invocation.function} raised {invocation.raised}")
            if (
                invocation.function == "turn"
                and not invocation.crashed
                and invocation.handler_ms > hard_deadline_ms
                and invocation.answer is not None
            ):
                slowest = sorted(invocation.components.items(), key=lambda kv: -kv[1])[1:4]
                parts = ", ".join(f"{k} {v:.0f}" for k, v in slowest)
                found["deadline_misses"].append(f"{log.call}: {invocation.handler_ms:.0f} ms ({parts})")
    for key, n in backend.executions_by_key.items():
        found["duplicate_side_effects"] += [f"key {key} ran {n} times"] * (n - 1)
    for request, n in backend.executions_by_request.items():
        # Named by tool and a digest: the request's arguments may hold caller data (an expiry).
        digest = hashlib.sha256(str(request).encode()).hexdigest()[:10]
        found["duplicate_side_effects"] += [f"{_tool_of(request)} request {digest} ran {n} times"] * (n - 1)
    found["unhandled_errors"] += [f"{feed.poisoned_batches} stream batches still failing"] * feed.poisoned_batches
    _handovers([log for log in logs if log.contact_id], executions, found)
    return {
        "invariants": {name: len(items) for name, items in found.items()},
        "examples": {name: items[:5] for name, items in found.items() if items},
    }


def _tool_of(request: str) -> str:
    """The tool a back-office request fingerprint (``["tool", {arguments}]``) names."""
    try:
        return str(json.loads(request)[0])
    except (ValueError, TypeError, KeyError, IndexError):
        return "a tool"


def _all(log: CallLog) -> list[Invocation]:
    """Every invocation the call's caller (or its streams) waited on: not the warm-up, which runs
    while the greeting plays (Connect's 8 s limit applies to it, not the turn's deadline)."""
    return [*log.other, *(i for t in log.turns for i in t.invocations)]


def _turns(log: CallLog, stored: dict[int, Any], lost: list[str]) -> None:
    for turn in log.turns:
        if turn.answered_seq is None:
            lost.append(f"{log.call}: turn {turn.sent_seq} never answered ({len(turn.invocations)} deliveries)")
            continue
        record = stored.get(turn.answered_seq)
        if record is None:
            lost.append(f"{log.call}: turn {turn.answered_seq} answered but not stored")
        elif not same_words(record.caller, turn.caller):
            lost.append(f"{log.call}: turn {turn.answered_seq} stored with other words")
        elif words(record.reply.text) != words(turn.reply):
            lost.append(f"{log.call}: turn {turn.answered_seq} stored with another reply than the caller heard")


def _updates(log: CallLog, session: Any, stored: dict[int, Any], feed: Any, lost: list[str]) -> None:
    if session is None:
        if stored or log.race_segments:
            lost.append(f"{log.call}: session missing")
        return
    if stored and session.last_seq != max(stored):
        lost.append(f"{log.call}: session counts {session.last_seq} turns, {max(stored)} are stored")
    seen = set(session.seen_segments)
    for segment in log.race_segments:
        if segment not in seen:
            lost.append(f"{log.call}: concurrent segment write {segment} vanished")
    for segment in sorted(feed.acknowledged_segments.get(log.contact_id, ())):
        if segment not in seen:
            lost.append(f"{log.call}: segment {segment} acknowledged but not in the session")
    if log.contact_id in feed.acknowledged_records and session.closed is None:
        lost.append(f"{log.call}: contact record acknowledged but the session is not closed")


def _handovers(logs: list[CallLog], executions: list[dict[str, Any]], found: dict[str, list[str]]) -> None:
    from chalicelib.domain.handover import execution_name  # noqa: PLC0415

    for log in logs:
        prefix = execution_name(log.contact_id, 0)[: -len("-0")] + "-"
        mine = [e for e in executions if e["name"].startswith(prefix)]
        extra = len(mine) - min(len(mine), log.handover_requests)
        found["double_handover"] += [f"{log.call}: {len(mine)} workflows for {log.handover_requests}"] * extra
        for execution in mine:
            if execution["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
                found["unhandled_errors"].append(f"{log.call}: handover workflow {execution['status']}")
