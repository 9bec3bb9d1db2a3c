"""``sim leaks``: replay recorded calls that hold caller data, then look for the raw values in
every sink (invariant 9: caller data stays with the caller).

The calls (``events/calls/*.json``) list the values their callers read out (``sensitive``).
After the replay — the application logging at DEBUG — each sink's content is collected and
scanned for those values (``sim.leak_scan``: digits with or without separators, digit words,
dates, e-mail addresses written or spoken):

- ``dynamodb``: every item of every table on the embedded AWS (a scan);
- ``model_requests``: every request body the scripted model endpoint received;
- ``logs``: the application's log lines, at DEBUG;
- ``emf``: the CloudWatch EMF metric lines the handlers printed;
- ``stepfunctions``: every execution's input, output and full history;
- ``contact_attributes``: the Connect attributes of every contact, read back
  (``GetContactAttributes``);
- ``replay_json`` and ``html_report``: the replay's own reports (``sim replay --json`` and
  ``--html``).

It also checks the one place a raw value may go: ``take_card_payment`` must have received the
card number of each call that pays by card, exactly once, and nothing else. ``sim load`` counts
its ``pii_leaks`` invariant with the same scan (``aws_sinks``, ``scan_sinks``).
"""

from __future__ import annotations

import contextlib
import gzip
import html
import io
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sim.calls import RecordedCall
from sim.harness import Harness
from sim.leak_scan import LeakScanner, Watched

SINKS = ("dynamodb", "model_requests", "logs", "emf", "stepfunctions", "contact_attributes", "replay_json",
         "html_report")  # fmt: skip
HTML_SINKS = frozenset({"html_report"})  # scanned as a browser shows them (entities decoded)
PAYMENT_TOOL = "take_card_payment"
EXAMPLES = 10


def watched_values(calls: Iterable[RecordedCall]) -> list[Watched]:
    """The raw values the calls' callers read out, each once, with the recorded call it is from
    (``sim load``'s variations, ``0015-card-payment-visa``, name the call they vary)."""
    found: dict[tuple[str, str], Watched] = {}
    for call in calls:
        for value in call.sensitive:
            found.setdefault((value.kind, value.value), Watched(value.kind, value.value, _recorded(call.call)))
    return list(found.values())


def _recorded(name: str) -> str:
    return re.sub(r"^\d{4}-", "", name)


def leaks(
    calls: list[RecordedCall], log_level: str = "DEBUG", model_speed: float = 1.0
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Replay ``calls`` on a fresh harness, collect every sink and scan it.

    A turn that misses its deadline answers safely and calls no tool, so on a busy machine the
    payment tool may not be reached: ``model_speed`` (``Harness``) shortens the scripted model's
    delays to leave the turns room. The report lists such turns (``degraded_turns``).

    Returns:
        The report (``sim leaks --json``) and each sink's items (for ``--dump``).
    """
    from chalicelib.adapters.data_files import load_envelope  # noqa: PLC0415
    from sim.calls import model_scripts  # noqa: PLC0415
    from sim.html_report import render_html  # noqa: PLC0415
    from sim.replay import replay  # noqa: PLC0415

    scripts = model_scripts(calls)
    with (
        Harness(log_level=log_level, model_scripts=scripts, model_speed=model_speed) as harness,
        captured_logs(log_level) as logs,
    ):
        report = replay(harness, calls, load_envelope(stage=harness.stage))
        sinks = aws_sinks(harness, [c.contact_id for c in calls])
        sinks["logs"] = logs.getvalue().splitlines()
        sinks["emf"] = list(harness.emf_lines)
        sinks["replay_json"] = [json.dumps(report, indent=2, default=str)]
        sinks["html_report"] = [render_html(report)]
        payment = payment_tool(harness.tool_servers.backend.received_cards(), calls)
    ordered = {name: sinks.get(name, []) for name in SINKS}
    scan = scan_sinks(LeakScanner(watched_values(calls)), ordered)
    result = {"raw_found": scan["raw_found"], "sinks": scan["sinks"], "payment_tool": payment,
              "calls": len(calls), "values_watched": len(watched_values(calls)), "found": scan["found"],
              "degraded_turns": _degraded_turns(report)}  # fmt: skip
    return result, ordered


def _degraded_turns(replayed: dict[str, Any]) -> list[str]:
    """Each turn of the replay that degraded or missed its deadline, with why (no caller words)."""
    return [
        f"{call['call']} turn {turn['seq']}: {', '.join(turn.get('degraded_reasons') or ['deadline missed'])}"
        for call in replayed.get("calls", [])
        for turn in call.get("turns", [])
        if turn.get("degraded") or not turn.get("deadline_met", True)
    ]


@contextlib.contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[io.StringIO]:
    """The application logger's lines (as its handler formats them) into a buffer, at ``level``,
    instead of stderr."""
    from chalicelib.observability import logger  # noqa: PLC0415

    handler = logger.registered_handler
    buffer = io.StringIO()
    previous_level = logger.log_level
    previous_stream = handler.setStream(buffer) if isinstance(handler, logging.StreamHandler) else None
    logger.setLevel(level)
    try:
        yield buffer
    finally:
        logger.setLevel(previous_level)
        if previous_stream is not None:
            handler.setStream(previous_stream)


def aws_sinks(harness: Harness, contact_ids: Iterable[str]) -> dict[str, list[str]]:
    """What the embedded AWS and the scripted model endpoint hold: every table item, every
    model request, every workflow execution, the attributes of every contact."""
    session = harness.aws.boto_session()
    endpoint = harness.aws.endpoint_url
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    try:
        items = _table_items(dynamodb)
    finally:
        dynamodb.close()
    contacts = dict.fromkeys(contact_ids)
    contacts.update(dict.fromkeys(_contacts_in(items)))
    requests = harness.model_endpoint.received_requests() if harness.model_endpoint is not None else []
    return {
        "dynamodb": items,
        "model_requests": requests,
        "stepfunctions": _executions(harness.stepfunctions()),
        "contact_attributes": _contact_attributes(harness, session, endpoint, list(contacts)),
    }


def _table_items(dynamodb: Any) -> list[str]:
    found: list[str] = []
    for page in dynamodb.get_paginator("list_tables").paginate():
        for table in page["TableNames"]:
            for scanned in dynamodb.get_paginator("scan").paginate(TableName=table):
                found.extend(json.dumps({"table": table, "item": _plain(i)}, default=str) for i in scanned["Items"])
    return found


def _plain(value: Any) -> Any:
    """An item as text: binary attributes decompressed when they are, then decoded."""
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        for unpack in (zlib.decompress, gzip.decompress):
            with contextlib.suppress(Exception):
                data = unpack(data)
                break
        return data.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _contacts_in(items: list[str]) -> list[str]:
    """Contact ids the session table holds (``CONTACT#<id>`` partition keys)."""
    found = []
    for text in items:
        item = json.loads(text)["item"]
        for attribute in item.values():
            value = attribute.get("S") if isinstance(attribute, dict) else None
            if isinstance(value, str) and value.startswith("CONTACT#"):
                found.append(value.removeprefix("CONTACT#"))
    return found


def _executions(sfn: Any) -> list[str]:
    found: list[str] = []
    for machines in sfn.get_paginator("list_state_machines").paginate():
        for machine in machines["stateMachines"]:
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
                for execution in page["executions"]:
                    arn = execution["executionArn"]
                    described = sfn.describe_execution(executionArn=arn)
                    history = [e for p in sfn.get_paginator("get_execution_history").paginate(
                        executionArn=arn, includeExecutionData=True) for e in p["events"]]  # fmt: skip
                    found.append(json.dumps({"execution": execution["name"], "input": described.get("input"),
                                             "output": described.get("output"), "history": history},
                                            default=str))  # fmt: skip
    return found


def _contact_attributes(harness: Harness, session: Any, endpoint: str, contact_ids: list[str]) -> list[str]:
    from sim.connect_instance import simulated_connect  # noqa: PLC0415

    instance_id = simulated_connect(harness).instance.arn.rsplit("/", 1)[-1]
    connect = session.client("connect", endpoint_url=endpoint)
    try:
        return [json.dumps({"contact": contact, "attributes": connect.get_contact_attributes(
            InstanceId=instance_id, InitialContactId=contact)["Attributes"]}) for contact in contact_ids]  # fmt: skip
    finally:
        connect.close()


def scan_sinks(scanner: LeakScanner, sinks: dict[str, list[str]]) -> dict[str, Any]:
    """Per sink: items scanned and raw values found; where they were (``found``: sink, kind,
    call and form, once each) and one entry per value found (``entries``). Never the value."""
    per_sink: dict[str, dict[str, Any]] = {}
    entries: list[str] = []
    for name, items in sinks.items():
        hits = 0
        kinds: dict[str, int] = {}
        for item in items:
            for hit in scanner.find(html.unescape(item) if name in HTML_SINKS else item):
                hits += 1
                kinds[hit.watched.kind] = kinds.get(hit.watched.kind, 0) + 1
                entries.append(f"{name}: {hit.watched.kind} of {hit.watched.call or 'a call'} ({hit.form})")
        per_sink[name] = {"items": len(items), "raw_found": hits, "kinds": dict(sorted(kinds.items()))}
    return {"raw_found": len(entries), "sinks": per_sink, "found": list(dict.fromkeys(entries)), "entries": entries}


def payment_tool(received: Iterable[str], calls: Iterable[RecordedCall]) -> dict[str, Any]:
    """What the payment tool received against what it should have: the card of each call whose
    model pays by card, once each."""
    received = list(received)
    expected = [next((s.value for s in c.sensitive if s.kind == "card"), "") for c in calls if _pays_by_card(c)]
    right = [card for card in received if card in expected]
    return {
        "received_real_value": len(right),
        "expected": len(expected),
        "received_other": len(received) - len(right),
        "exactly_once": all(received.count(card) == 1 for card in expected) and len(right) == len(received),
    }


def _pays_by_card(call: RecordedCall) -> bool:
    def names(data: Any) -> Iterator[str]:
        if isinstance(data, dict):
            if isinstance(data.get("name"), str):
                yield data["name"]
            for value in data.values():
                yield from names(value)
        elif isinstance(data, list):
            for value in data:
                yield from names(value)

    return any(PAYMENT_TOOL in names(t.model.model_dump()) for t in call.turns if t.model is not None)


def passed(report: dict[str, Any]) -> bool:
    """No raw value in any sink, and the payment tool got each card exactly once."""
    return report["raw_found"] == 0 and bool(report["payment_tool"]["exactly_once"])


def dump(sinks: dict[str, list[str]], directory: Path) -> list[Path]:
    """Each sink's items into ``directory/<sink>.txt``, one item after another, as collected."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, items in sinks.items():
        path = directory / f"{name}.txt"
        path.write_text("".join(item if item.endswith("\n") else item + "\n" for item in items))
        written.append(path)
    return written


def format_leaks(report: dict[str, Any]) -> str:
    """The per-sink table, the payment tool's line and where the values were found."""
    lines = [f"caller data: {report['values_watched']} raw values of {report['calls']} calls looked for in every sink",
             f"  {'sink':<20} {'items':>7} {'raw found':>10}"]  # fmt: skip
    for name, sink in report["sinks"].items():
        kinds = ", ".join(f"{k} {n}" for k, n in sink["kinds"].items())
        lines.append(f"  {name:<20} {sink['items']:>7} {sink['raw_found']:>10}" + (f"   ({kinds})" if kinds else ""))
    payment = report["payment_tool"]
    lines.append(f"raw values found: {report['raw_found']}")
    lines.append(
        f"payment tool: received the real card number {payment['received_real_value']} time(s) for "
        f"{payment['expected']} card payment call(s), other values {payment['received_other']}: "
        + ("exactly once each" if payment["exactly_once"] else "NOT exactly once")
    )
    if report.get("degraded_turns"):
        lines.append(f"turns that degraded (no tool is called on those): {'; '.join(report['degraded_turns'])}")
    if report["found"]:
        lines.append("found:")
        lines.extend(f"  {where}" for where in report["found"][: EXAMPLES * 3])
    lines.append("PASS" if passed(report) else "FAIL")
    return "\n".join(lines)
