"""``python -m sim stream``: short recorded calls through the streaming speech path (espeak-ng
audio on the local GetMedia, the fake Transcribe endpoint, the real transcriber and turn
handlers), fast: the report's shape and reply-ready measured from the end of the caller's speech."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.data_files import load_end_of_turn
from sim.stream import LEX_END_OF_UTTERANCE_MS, ceiling_reply_ready_ms, media_offset_ms
from tests.conftest import ROOT

pytestmark = pytest.mark.embedded_aws

CALLS = ("events/calls/08-lex-cancellation.json", "events/calls/15-fraud-callback.json")
SPEED = 20.0
MISSING = [tool for tool in ("espeak-ng", "sox", "ffmpeg") if shutil.which(tool) is None]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if MISSING:
        pytest.skip(f"sim stream needs Debian's espeak-ng, sox and ffmpeg; missing: {', '.join(MISSING)}")
    out = tmp_path_factory.mktemp("stream") / "stream.json"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "stream", *CALLS, "--speed", str(SPEED), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "baseline ms" in done.stdout and "added cost per minute" in done.stdout
    return dict(json.loads(Path(out).read_text()))


def test_the_totals_carry_both_runs_the_waste_and_the_added_cost(report: dict[str, Any]) -> None:
    totals = report["totals"]
    for key in ("p50_reply_ready_ms_speculative", "p50_reply_ready_ms_baseline"):
        assert isinstance(totals[key], float) and totals[key] > 0
    assert 0 <= totals["wasted_share"] <= 1
    assert totals["added_cost_per_minute_usd"] > 0  # Transcribe on both tracks at least
    assert totals["calls"] == len(CALLS)
    assert totals["turns"] == sum(len(call["turns"]) for call in report["calls"])
    assert report["assumptions"]["speed"] == SPEED
    # The end timeouts in force come from the answers (the end-of-turn policy), the greeting's from the flow.
    assert LEX_END_OF_UTTERANCE_MS in report["assumptions"]["lex_end_of_utterance_ms"]
    assert set(report["assumptions"]["lex_end_of_utterance_ms"]) <= set(load_end_of_turn().timeouts_ms.values())
    assert totals["p50_reply_ready_ms_fixed_timeout"] > 0
    assert totals["false_cutoffs"] == sum(
        1 for c in report["calls"] for t in c["turns"] if t["false_cutoff_speculative"]
    )
    assert 0 <= totals["false_cutoff_share"] <= 1


def test_each_wasted_speculation_says_why(report: dict[str, Any]) -> None:
    made = [m for call in report["calls"] for m in call["speculations_made"]]
    assert all(bool(m["unused_because"]) is not m["used"] for m in made)
    wasted = [m["unused_because"] for m in made if not m["used"] and m["unused_because"] != "caller_data"]
    assert sum(report["totals"]["wasted_by_reason"].values()) == len(wasted) == report["totals"]["speculations_wasted"]
    declined = [m for m in made if m["unused_because"] == "caller_data"]  # recorded, never started
    assert report["totals"]["speculations_declined"] == len(declined)
    assert report["totals"]["speculations_made"] == len(made) - len(declined)


def test_transcribe_is_priced_as_streamed_one_track_until_the_handover(report: dict[str, Any]) -> None:
    totals = report["totals"]
    # One stream ($0.024 a minute of the audio it is sent) while the bot has the call, opened
    # at the caller's first words: the greeting's silence before them is not sent, so it can
    # come under $0.024 a minute of the call; the 15 s minimum per stream can only add to it.
    # The fraud callback is handed over: the agent's track is recognised from the first sound
    # on it after our handover line (none in these recordings: no agent speaks).
    assert 0.02 <= totals["transcribe_per_minute_before_handover_usd"] < 0.048
    for call in report["calls"]:
        before = call["transcribe_by_phase"]["before_handover"]
        assert before["billed_s"] <= max(15.0, before["media_s"] + 1)  # the silence is free, nothing re-sent
    if totals["media_minutes_after_handover"] > 0:
        assert totals["transcribe_per_minute_after_handover_usd"] >= 0.024  # the caller's, at least


def test_every_call_has_a_summary_and_its_turns(report: dict[str, Any]) -> None:
    for call in report["calls"]:
        assert call["turns"], call["call"]
        assert call["transcriber"] == {"baseline": "ended", "speculative": "ended"}
        # Started by the flow's asynchronous Invoke Lambda, once its media streaming started.
        assert call["transcriber_started_by"] == {"baseline": "start-transcriber", "speculative": "start-transcriber"}
        assert call["caller_transcript_as_spoken"] == {"baseline": True, "speculative": True}
        assert set(call["speculations"]) == {"made", "used", "wasted", "declined"}
        assert call["added_cost_per_minute_usd"] > 0


def test_reply_ready_is_measured_from_the_end_of_the_callers_speech(report: dict[str, Any]) -> None:
    for call in report["calls"]:
        ends = [row["end_of_speech_ms"] for row in call["turns"]]
        assert ends == sorted(ends) and ends[0] > 0
        for row in call["turns"]:
            # Lex hands the turn over one end-of-utterance delay after the speech ends — the end
            # timeout the flow's Lex block sets — (paced like the media: a little late, never
            # early), then the handler runs.
            assert row["lex_end_timeout_ms"] in load_end_of_turn().timeouts_ms.values()
            for run in ("baseline", "speculative"):
                assert row[f"lex_delay_ms_{run}"] >= row["lex_end_timeout_ms"] - 5
                ready = row[f"reply_ready_ms_{run}"]
                assert ready > 0
                assert ready == pytest.approx(row[f"lex_delay_ms_{run}"] + row[f"handler_ms_{run}"], abs=1)
            assert row["speculation"] in ("hit", "miss", "none")
            # The ceiling never loses to the baseline, and never answers before Lex hands over.
            assert row["lex_delay_ms_baseline"] - 1 <= row["reply_ready_ms_ceiling"] <= row["reply_ready_ms_baseline"]


def test_a_stream_opened_mid_call_is_placed_on_its_track_by_what_it_heard() -> None:
    speech = bytes(range(256)) * 40  # 640 ms of sound
    audio = bytes(8_000) + speech + bytes(4_000) + speech  # 500 ms of silence first, 250 ms between
    first_words = audio[3_200:12_000]  # opened 200 ms in: 300 ms of silence, then the sound
    assert media_offset_ms(first_words, sound_ms=300.0, audio=audio) == 200
    resumed = audio[17_440:29_000]  # opened inside the first sound: the same sound after is not it
    assert media_offset_ms(resumed, sound_ms=0.0, audio=audio) == 1_090
    assert media_offset_ms(bytes(range(1, 255)) * 8, sound_ms=0.0, audio=audio) is None


@pytest.mark.parametrize(
    ("end_timeout_ms", "handler_ms", "ceiling_ms"),
    [
        (600, 800.0, 960.0),  # starts 160 ms after the speech, 800 ms of work: ready after Lex hands over
        (600, 300.0, 604.0),  # the work is done inside Lex's wait: ready when Lex hands the turn over
        (1400, 1200.0, 1573.3),  # a long number: the pause scales with Lex's wait (373.3 ms)
        (400, 50.0, 404.0),  # a yes/no answer: the pause stays at its floor (160 ms)
    ],
)
def test_the_ceiling_of_a_model_turn_starts_at_the_pause_trigger_and_adds_nothing_to_its_work(
    end_timeout_ms: int, handler_ms: float, ceiling_ms: float
) -> None:
    baseline = {"lex_end_timeout_ms": end_timeout_ms, "lex_delay_ms": end_timeout_ms + 4.0, "handler_ms": handler_ms,
                "reply_ready_ms": end_timeout_ms + 4.0 + handler_ms,
                "latency_ms": {"state_read": 10.0, "model": handler_ms - 40, "state_write": 20.0}}  # fmt: skip
    assert ceiling_reply_ready_ms(baseline, 160) == pytest.approx(ceiling_ms, abs=0.1)
    assert ceiling_reply_ready_ms(baseline, 160) <= baseline["reply_ready_ms"]
    # A rules turn's work is its session read and conditional write: after the turn is final.
    rules = baseline | {"latency_ms": {"state_read": 10.0, "routing": 0.1, "state_write": 20.0}}
    assert ceiling_reply_ready_ms(rules, 160) == rules["reply_ready_ms"]
