"""The transcriber's pure rules: where a run resumes, and when the caller paused on stable words."""

from __future__ import annotations

from chalicelib.domain.live_transcript import AGENT, CALLER
from chalicelib.domain.speech import MediaPosition, TranscriptResult
from chalicelib.domain.transcription import TrackProgress, paused_words, resume_point

START, WRITTEN = MediaPosition("100", 0), MediaPosition("101", 1000)
SENT = [
    (MediaPosition("101", 1000), 1000.0),
    (MediaPosition("102", 2000), 2000.0),
    (MediaPosition("103", 3000), 3000.0),
]


def test_a_drained_run_resumes_after_the_last_timecode_it_sent() -> None:
    tracks = {CALLER: TrackProgress(0, final_end_ms=3000), AGENT: TrackProgress(0, final_end_ms=2900)}
    assert resume_point(START, SENT, tracks, {CALLER: 3000}, {}, drained=True, written=WRITTEN) == (SENT[-1][0], ())


def test_streams_that_did_not_drain_keep_the_checkpoint_last_written() -> None:
    assert resume_point(START, SENT, {}, {}, {}, drained=False, written=WRITTEN) == (WRITTEN, ())


def test_a_run_that_sent_nothing_keeps_its_start_and_what_was_skipped() -> None:
    assert resume_point(START, [], {}, {}, {AGENT: 900}, drained=True, written=WRITTEN) == (START, ((AGENT, 900),))


def test_a_failed_stream_resumes_where_its_finals_end_and_the_other_track_skips_what_it_sent() -> None:
    tracks = {CALLER: TrackProgress(0, open_partial_ms=2100, final_end_ms=2000, failed=True),
              AGENT: TrackProgress(0, final_end_ms=3000)}  # fmt: skip
    checkpoint, through = resume_point(START, SENT, tracks, {CALLER: 3000, AGENT: 3000}, {}, drained=True,
                                       written=WRITTEN)  # fmt: skip
    assert (checkpoint, through) == (MediaPosition("102", 2000), ((AGENT, 3000),))


def caller(text: str, end_ms: int, *, partial: bool = True) -> TranscriptResult:
    return TranscriptResult("r1", CALLER, text, partial, 0, end_ms)


def test_a_final_result_is_a_pause_at_once() -> None:
    words = paused_words(caller("What time do you close?", 900, partial=False), sent_ms=900, voice_end_ms=900,
                         pause_ms=250, final_only=True, already="")  # fmt: skip
    assert words == "what time do you close"


def test_a_partial_is_a_pause_only_after_enough_silence_once_it_caught_up() -> None:
    latest = caller("what time do you close", 900)
    assert paused_words(latest, sent_ms=1000, voice_end_ms=900, pause_ms=250, final_only=False, already="") is None
    assert paused_words(latest, sent_ms=1200, voice_end_ms=900, pause_ms=250, final_only=False, already="")
    behind = caller("what time", 400)  # the speech went on after the partial's words
    assert paused_words(behind, sent_ms=1200, voice_end_ms=900, pause_ms=250, final_only=False, already="") is None
    assert paused_words(latest, sent_ms=1200, voice_end_ms=900, pause_ms=250, final_only=True, already="") is None


def test_the_same_words_are_never_speculated_on_twice() -> None:
    latest = caller("What time do you close?", 900, partial=False)
    assert paused_words(latest, sent_ms=900, voice_end_ms=900, pause_ms=250, final_only=True,
                        already="what time do you close") is None  # fmt: skip
