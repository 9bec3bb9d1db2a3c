"""``python -m sim`` as a user runs it: a separate process, the embedded AWS on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.embedded_aws


def run_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


def connect_event_file(tmp_path: Path, utterance: str) -> str:
    event = json.loads((ROOT / "events/connect/connect-contact-flow-event.lambda-guide.json").read_text())
    event["Details"]["Parameters"] = {"utterance": utterance}
    return write(tmp_path, "event.json", json.dumps(event))


def test_invoke_prints_the_handler_answer_as_json(tmp_path: Path) -> None:
    done = run_sim("invoke", "turn", connect_event_file(tmp_path, "I'd like an agent"))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["action"], answer["turn"]) == ("handover", "2")


def test_invoke_with_a_bad_event_still_prints_the_safe_answer(tmp_path: Path) -> None:
    done = run_sim("invoke", "turn", write(tmp_path, "bad.json", '{"Details": {"ContactData": {}}}'))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["intent"] == "fallback"
    assert "EventMalformedError" in done.stderr


def test_invoke_with_a_file_that_is_not_json_exits_non_zero_with_a_named_error(tmp_path: Path) -> None:
    done = run_sim("invoke", "turn", write(tmp_path, "truncated.json", '{"Name": "ContactFlowEvent", "Deta'))
    assert done.returncode == 2
    assert done.stderr.startswith("EventFileUnreadableError")


def test_invoke_of_an_unknown_function_names_the_ones_there_are(tmp_path: Path) -> None:
    done = run_sim("invoke", "nope", connect_event_file(tmp_path, "hi"))
    assert done.returncode == 2
    assert "FunctionNotFoundError" in done.stderr and "turn" in done.stderr


def test_replay_prints_every_call_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "replay.json"
    done = run_sim("replay", "events/calls", "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    calls = sorted((ROOT / "events/calls").glob("*.json"))
    assert len(report["calls"]) == len(calls)
    for call in report["calls"]:
        assert call["call"] in done.stdout
        assert set(call) >= {"call", "contact_id", "outcome", "turns"}
        for turn in call["turns"]:
            assert set(turn) >= {"seq", "caller", "tier", "action", "reply", "latency_ms", "deadline_met"}
            assert turn["latency_ms"]["total"] > 0
    assert [t["seq"] for t in report["calls"][1]["turns"]] == [1, 2, 3, 4, 5]
    assert set(report["totals"]) >= {"calls", "turns", "deadline_misses"}
    assert report["totals"]["turns"] == sum(len(c["turns"]) for c in report["calls"])
    assert report["totals"]["retries_inconsistent"] == 0
    assert report["model_endpoint"]
