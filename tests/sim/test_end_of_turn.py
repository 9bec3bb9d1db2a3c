"""Hesitations in recorded calls (``…`` between words): the words Lex hears never hold the mark,
the synthesized speech has the silence; ``false_cutoff`` finds where an end timeout would cut an
utterance; and the recorded calls' hesitations against the shipped end timeouts."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.adapters.data_files import load_end_of_turn
from chalicelib.domain.end_of_turn import Listening
from sim.calls import CallTurn, RecordedCaller, call_files, load_call, model_scripts
from sim.connect_flow import Listen
from sim.connect_instance import TURN_PATHS
from sim.end_of_turn import (
    HESITATION_MS,
    PauseMarkPlacementError,
    check_pause_marks,
    false_cutoff,
    gaps_ms,
    silent_runs_ms,
    without_pauses,
    words_and_pauses,
)
from sim.harness import Harness
from sim.replay import play_call
from sim.speech_audio import BYTES_PER_MS, CACHE_FORMAT, WORD_GAP_MS, synthesize_turn, tool_versions
from tests.conftest import ROOT

CALLS = ROOT / "events" / "calls"
TIMEOUTS = load_end_of_turn().timeouts_ms
needs_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("espeak-ng", "sox")), reason="needs Debian's espeak-ng and sox"
)

# --- the mark -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "pauses"),
    [
        ("my account number is … four four eight … one two nine",
         ("my", "account", "number", "is", "four", "four", "eight", "one", "two", "nine"), {4, 7}),
        ("four four eight... one two nine", ("four", "four", "eight", "one", "two", "nine"), {3}),
        ("eight…one", ("eight", "one"), {1}),
        ("eight …… one . . . two", ("eight", "one", ".", ".", ".", "two"), {1}),  # consecutive marks: one
        ("no hesitation here", ("no", "hesitation", "here"), set()),
    ],
)  # fmt: skip
def test_a_pause_mark_is_a_hesitation_between_two_words(text: str, words: tuple[str, ...], pauses: set[int]) -> None:
    assert words_and_pauses(text) == (words, frozenset(pauses))
    assert without_pauses(text) == " ".join(words)


@pytest.mark.parametrize("text", ["… hello", "hello ...", "..."])
def test_a_mark_outside_the_words_is_refused_by_the_check_and_ignored_by_speech(text: str) -> None:
    with pytest.raises(PauseMarkPlacementError):
        check_pause_marks(text)
    assert words_and_pauses(text)[1] == frozenset()


def test_a_recorded_turn_delivers_its_words_without_the_marks_and_keeps_them_for_speech() -> None:
    turn = CallTurn(at_ms=0, caller="it's seven seven … three oh … two four", pause_ms=1100)
    assert turn.caller == "it's seven seven three oh two four"
    assert turn.spoken == "it's seven seven … three oh … two four" and turn.pause_ms == 1100
    assert CallTurn(at_ms=0, caller="yes").pause_ms == HESITATION_MS
    assert turn.model_copy(update={"caller": "um " + turn.caller}).spoken == "um " + turn.caller  # no stale marks


def test_a_recorded_turn_with_a_mark_outside_its_words_is_a_file_error() -> None:
    with pytest.raises(ValidationError, match="between two words"):
        CallTurn.model_validate({"at_ms": 0, "caller": "... hello"})
    with pytest.raises(ValidationError, match="pause_ms"):
        CallTurn.model_validate({"at_ms": 0, "caller": "a … b", "pause_ms": 50})


def test_no_word_the_flow_delivers_or_the_model_is_keyed_by_holds_a_mark() -> None:
    calls = [load_call(p) for p in call_files([str(CALLS)])]
    hesitant = [c for c in calls if any(t.spoken != t.caller for t in c.turns)]
    assert len(hesitant) >= 4
    listen = Listen("greet", 600, (), None)
    for call in hesitant:
        caller = RecordedCaller(call)
        said = [caller.speak(listen) for _ in call.turns]
        assert caller.speak(listen) is None
        assert [u.text for u in said if u is not None] == [t.caller for t in call.turns]
        assert not any("…" in u.text or "..." in u.text for u in said if u is not None)
    assert not any("…" in key or "..." in key for key in model_scripts(calls))


# --- false cutoffs -------------------------------------------------------------------------------


def test_the_first_word_after_a_silence_as_long_as_the_end_timeout_is_cut_off() -> None:
    words = [("my", 0, 200), ("number", 270, 600), ("four", 1500, 1800), ("two", 1870, 2100), ("one", 3300, 3500)]
    assert false_cutoff(words, 600) == 2  # 900 ms after "number"
    assert false_cutoff(words, 900) == 2  # a silence of exactly the timeout ends the turn
    assert false_cutoff(words, 1100) == 4  # 1200 ms after "two"
    assert false_cutoff(words, 1400) is None
    assert false_cutoff([], 400) is None and false_cutoff([("yes", 0, 300)], 400) is None


@st.composite
def timelines(draw: st.DrawFn) -> tuple[list[tuple[str, int, int]], list[int]]:
    """Words with random durations and the silences between them."""
    count = draw(st.integers(1, 12))
    gaps = draw(st.lists(st.integers(0, 3000), min_size=count - 1, max_size=count - 1))
    words, at = [], 0
    for index in range(count):
        length = draw(st.integers(50, 800))
        words.append((f"w{index}", at, at + length))
        at += length + (gaps[index] if index < len(gaps) else 0)
    return words, gaps


@given(timelines(), st.integers(100, 3000))
def test_a_cutoff_is_the_first_silence_at_least_the_timeout(timeline: tuple[list[tuple[str, int, int]], list[int]],
                                                           timeout: int) -> None:  # fmt: skip
    words, gaps = timeline
    cut = false_cutoff(words, timeout)
    assert gaps_ms(words) == gaps
    if cut is None:
        assert all(gap < timeout for gap in gaps)
    else:
        assert gaps[cut - 1] >= timeout and all(gap < timeout for gap in gaps[: cut - 1])
        assert false_cutoff(words[:cut], timeout) is None  # what Lex took as the turn is whole
    assert false_cutoff(words, timeout + 1) in (None, *range(cut or 1, len(words)))  # a longer wait cuts later


# --- the synthesized speech -----------------------------------------------------------------------


@needs_tools
def test_a_hesitation_is_a_silence_of_pause_ms_in_the_audio_and_no_word(tmp_path: Path) -> None:
    spoken = synthesize_turn("four four … eight", cache_dir=tmp_path, pause_ms=900)
    assert [w for w, _, _ in spoken.words] == ["four", "four", "eight"]
    assert gaps_ms(spoken.words) == [WORD_GAP_MS, 900]
    hesitation = spoken.pcm[(spoken.words[1][2] + 1) * BYTES_PER_MS : spoken.words[2][1] * BYTES_PER_MS]
    assert hesitation == bytes(len(hesitation))
    assert max(silent_runs_ms(spoken.pcm, 8000, 200)) >= 880
    assert false_cutoff(spoken.words, TIMEOUTS[Listening.OPEN]) == 2
    assert false_cutoff(spoken.words, TIMEOUTS[Listening.LONG_NUMBER]) is None


@needs_tools
def test_the_cache_key_has_the_pause_only_when_the_text_has_a_mark(tmp_path: Path) -> None:
    synthesize_turn("four … two", cache_dir=tmp_path, pause_ms=900)
    longer = synthesize_turn("four … two", cache_dir=tmp_path, pause_ms=1200)
    assert gaps_ms(longer.words) == [1200] and len(list(tmp_path.glob("*.pcm"))) == 2
    synthesize_turn("four two", cache_dir=tmp_path, pause_ms=1200)
    synthesize_turn("four two", cache_dir=tmp_path, pause_ms=900)  # no mark: the pause is not in its key
    assert len(list(tmp_path.glob("*.pcm"))) == 3
    # The key an unmarked text always had: the cache under out/ stays warm.
    old = json.dumps([CACHE_FORMAT, "four two", "en-us", 160, WORD_GAP_MS, tool_versions()])
    assert (tmp_path / f"{hashlib.sha256(old.encode()).hexdigest()[:32]}.pcm").exists()


@needs_tools
def test_no_short_end_timeout_cuts_an_utterance_spoken_without_hesitation(tmp_path: Path) -> None:
    shortest = min(TIMEOUTS.values())
    for text in ("yes that's right", "four four eight one two nine", "it's a visa, four one one one"):
        spoken = synthesize_turn(text, cache_dir=tmp_path)
        assert max(silent_runs_ms(spoken.pcm, 8000, 200), default=0) < shortest / 4
        assert false_cutoff(spoken.words, shortest) is None


# --- the recorded calls' hesitations and the shipped timeouts --------------------------------------


def timeline(turn: CallTurn, word_ms: int = 350) -> list[tuple[str, int, int]]:
    """The turn's words as synthesize_turn lays them out, every word ``word_ms`` long."""
    words, pauses = words_and_pauses(turn.spoken)
    out, at = [], 0
    for index, word in enumerate(words):
        if index:
            at += turn.pause_ms if index in pauses else WORD_GAP_MS
        out.append((word, at, at + word_ms))
        at += word_ms
    return out


def test_the_recorded_hesitations_fit_the_timeout_of_what_the_bot_asked() -> None:
    # The bot asked for the account number before each hesitant reading (a long number); the
    # mid-sentence pauses come after the greeting (an open question).
    kinds = {"23-account-number-hesitations": [Listening.LONG_NUMBER],
             "24-lex-account-number-groups": [Listening.LONG_NUMBER],
             "25-account-number-read-again": [Listening.LONG_NUMBER, Listening.LONG_NUMBER],
             "26-lex-pause-mid-sentence": [Listening.OPEN]}  # fmt: skip
    for name, expected in kinds.items():
        hesitant = [t for t in load_call(CALLS / f"{name}.json").turns if t.spoken != t.caller]
        assert len(hesitant) == len(expected), name
        for turn, kind in zip(hesitant, expected, strict=True):
            assert false_cutoff(timeline(turn), TIMEOUTS[kind]) is None, (name, turn.caller)
            # With Lex's fixed 600 ms the account numbers would be cut; a yes/no wait would cut the sentence.
            shorter = TIMEOUTS[Listening.OPEN] if kind is Listening.LONG_NUMBER else TIMEOUTS[Listening.YES_NO]
            assert false_cutoff(timeline(turn), shorter) is not None, (name, turn.caller)


# --- through the deployed flow and the real turn handler -----------------------------------------


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    calls = [load_call(p) for p in call_files([str(CALLS)])]
    with Harness(model_scripts=model_scripts(calls)) as started:
        yield started


@pytest.mark.embedded_aws
@pytest.mark.parametrize(
    ("name", "path"),
    [("23-account-number-hesitations", "InvokeLambda"), ("24-lex-account-number-groups", "LexCodeHook")],
)
def test_each_listen_waits_what_the_previous_answer_listens_for(harness: Harness, name: str, path: str) -> None:
    call = load_call(CALLS / f"{name}.json")
    report = play_call(harness, call.model_copy(update={"contact_id": str(uuid.uuid4())}))
    assert report.outcome == call.expect_outcome and TURN_PATHS[call.format] == path
    # The greeting (the flow's), its open question, the request for the account number, the
    # read-back, then "How can I help you with it today?" (and the model's answer after it).
    kinds = [Listening.OPEN, Listening.OPEN, Listening.LONG_NUMBER, Listening.YES_NO, Listening.OPEN, Listening.OPEN]
    assert [turn.end_timeout_ms for turn in report.turns] == [TIMEOUTS[k] for k in kinds[: len(call.turns)]]
    blocks = {turn.block for turn in report.turns[1:]}
    assert blocks == ({"greet"} if path == "LexCodeHook" else {"speak"})  # the code hook's / the flow's value
    for turn in report.turns:  # what Lex handed over never holds a pause mark
        assert "…" not in str(turn.event) and "..." not in str(turn.event)
