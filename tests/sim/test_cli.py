"""``python -m sim`` as a user runs it: a separate process, the embedded AWS on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.adapters.language_files import shipped_languages
from tests.conftest import ROOT

pytestmark = pytest.mark.embedded_aws


# A replay of every recorded call (34: English and Spanish) takes about 100 s on this 2-core machine,
# longer with model faults (their retries and timeouts); the limit only stops a hung run.
SIM_TIMEOUT_S = 600


def run_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True, text=True, timeout=SIM_TIMEOUT_S,
        check=False,
    )  # fmt: skip


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
    assert report["model_endpoint"] == "scripted"


@pytest.fixture(scope="module")
def replay_report(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("replay") / "replay.json"
    done = run_sim("replay", "events/calls", "--json", str(out))
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_replay_reports_tiers_tokens_and_costs(replay_report: dict) -> None:  # type: ignore[type-arg]
    for call in replay_report["calls"]:
        assert call["outcome_as_expected"], (call["call"], call["outcome"], call["expected_outcome"])
        assert call["cost_usd"] > 0 and call["cost_per_minute_usd"] > 0
        for turn in call["turns"]:
            assert set(turn) >= {"tier", "tier_reasons", "tokens", "cost_usd"}
            answered = any(c["outcome"] == "ok" for c in turn["model_calls"])
            assert (turn["tokens"]["input"] > 0) == answered
    totals = replay_report["totals"]
    assert set(totals) >= {
        "tier_mix",
        "cost_per_minute_usd",
        "llm_cost_per_minute_usd",
        "baseline_all_large_cost_per_minute_usd",
        "baseline_all_large_llm_cost_per_minute_usd",
    }
    assert totals["routed_tier_mix"]["tier_0"] + totals["routed_tier_mix"]["tier_1"] >= 0.7
    calls = {c["call"]: c for c in replay_report["calls"]}
    assert (calls["payment-arrangement"]["side_effects"], calls["callback-booking"]["side_effects"]) == (1, 1)
    # The tool servers' own count equals what the calls recorded, the handover's callback included.
    assert calls["fraud-callback"]["side_effects"] == 1
    assert (calls["card-payment-visa"]["side_effects"], calls["email-and-callback"]["side_effects"]) == (1, 1)
    assert totals["side_effects"] == totals["side_effects_executed"] == 5
    assert totals["duplicate_side_effects"] == 0
    # Contact Lens segments and contact records went through Kinesis into the consumers.
    assert all(c["contact_outcome"] in ("contained", "handover", "abandoned", "failed") for c in calls.values())
    assert calls["caller-hangs-up"]["contact_outcome"] == "abandoned"
    assert calls["caller-hangs-up"]["kpi_neutral_positive"] is False
    assert 0 < totals["kpi_rate"] < 1
    barged = calls["barge-in-agent"]["turns"]
    assert barged[0]["heard"] == "Hi, thanks for…" and barged[0]["reply"].startswith(barged[0]["heard"][:-1])
    balance_turn = calls["balance-enquiry"]["turns"][1]
    assert [(t["name"], t["kind"], t["outcome"]) for t in balance_turn["tools"]] == [
        ("lookup_account", "read", "ok"), ("get_balance", "read", "ok")]  # fmt: skip
    assert "tools" in balance_turn["latency_ms"]
    assert totals["llm_cost_per_minute_usd"] <= totals["baseline_all_large_llm_cost_per_minute_usd"] / 2
    assert totals["deadline_misses"] == 0
    # Each call language's figures; together they are the calls of the totals.
    languages = totals["by_language"]
    assert {c["language"] for c in replay_report["calls"]} == set(languages) >= {"en-US"}
    assert sum(figures["calls"] for figures in languages.values()) == totals["calls"]
    if set(languages) == {"en-US"}:
        english = languages["en-US"]
        assert (english["kpi_rate"], english["tier_mix"]) == (totals["kpi_rate"], totals["tier_mix"])
        assert english["cost_per_minute_usd"] == totals["cost_per_minute_usd"]


def test_replay_with_every_model_fault_still_answers_every_turn_in_time(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    done = run_sim("replay", "events/calls", "--model-faults", "all", "--fault-rate", "0.3", "--seed", "3",
                   "--json", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert sum(report["model_endpoint_stats"]["faults"].values()) > 0
    assert report["totals"]["deadline_misses"] == 0
    turns = [t for c in report["calls"] for t in c["turns"]]
    assert all(t["action"] in ("speak", "handover", "end") and t["reply"] for t in turns)


def test_cost_prints_the_breakdown_and_break_even(tmp_path: Path, replay_report: dict) -> None:  # type: ignore[type-arg]
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(replay_report))
    done = run_sim("cost", "--report", str(path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["cost_per_minute_by_component_usd"]) >= {"connect", "llm", "lambda", "dynamodb"}
    routed = result["self_hosting"]["break_even"]["routed"]["break_even_minutes_per_month"]
    all_large = result["self_hosting"]["break_even"]["all_large"]["break_even_minutes_per_month"]
    # The cheaper the API minute, the more volume self-hosting needs (or it never pays).
    assert all_large > 0 and (routed is None or routed > all_large)


def test_router_eval_prints_the_rates() -> None:
    done = run_sim("router-eval", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["utterances"] >= 300 and result["under_routing_rate"] <= 0.03


def _summary_opening(locale: str) -> str:
    """What the agent's summary of a call in ``locale`` starts with (its ``summary.json``'s text)."""
    template = shipped_languages().get(locale).summary
    assert template is not None
    return template.text.split("{", 1)[0]


def test_replay_follows_each_handover_through_the_workflow(replay_report: dict) -> None:  # type: ignore[type-arg]
    calls = {c["call"]: c for c in replay_report["calls"]}
    for call in calls.values():
        if call["outcome"] != "handover":
            assert call["handover"] is None
            continue
        assert call["handover"]["status"] == "SUCCEEDED", call["call"]
        # The agent reads the summary in the call's language ("Caller: ", "Cliente: ").
        opening = _summary_opening(call["served_language"])
        assert call["handover"]["summary"].startswith(opening), (call["call"], opening)
    escalated = calls["address-change-escalation"]["handover"]
    assert (escalated["handover_status"], escalated["reason"]) == ("agent_connected", "caller_asked")
    assert '"fine. agent"' in escalated["summary"] and "tiers 0/1/2" in escalated["summary"]
    failed = calls["repeated-model-failure"]["handover"]
    assert (failed["reason"], failed["handover_status"]) == ("repeated_failure", "agent_connected")
    fraud = calls["fraud-callback"]["handover"]
    assert (fraud["reason"], fraud["queue"], fraud["handover_status"]) == ("human_only_topic", "FraudTeam",
                                                                           "callback_booked")  # fmt: skip
    assert fraud["callback"].startswith("cb-")
    assert calls["lex-cancellation"]["handover"]["handover_status"] == "agent_connected"
