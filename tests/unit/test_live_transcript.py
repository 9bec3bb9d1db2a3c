"""The live transcript beside the session: idempotent, order-tolerant, bounded, handover-aware."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.adapters.dynamodb_transcript import DynamoDbTranscriptStore
from chalicelib.adapters.memory_transcript import InMemoryTranscriptStore
from chalicelib.domain import live_transcript as lt
from chalicelib.domain.live_transcript import (
    apply_results,
    caller_text_since,
    human_part,
    stable_caller_partial,
)
from chalicelib.domain.ports import TranscriptStore
from chalicelib.domain.speech import MediaPosition, Track, TranscriptResult
from chalicelib.errors import SessionVersionConflictError

NOW = 1_790_000_000_000

CALLER: Track = "AUDIO_FROM_CUSTOMER"
AGENT: Track = "AUDIO_TO_CUSTOMER"


def result(
    rid: str, text: str, start: int, end: int, *, partial: bool = False, track: Track = CALLER, stable: str = ""
) -> TranscriptResult:
    return TranscriptResult(rid, track, text, partial, start, end, stable_text=stable)


def texts(live: lt.LiveTranscript) -> list[str]:
    return [line.text for line in live.lines]


def fresh() -> lt.LiveTranscript:
    return lt.LiveTranscript()


def test_a_repeated_result_changes_nothing() -> None:
    batch = [result("r1", "my card", 0, 800, partial=True), result("r1", "my card is broken", 0, 1500)]
    once = apply_results(fresh(), batch, MediaPosition("10", 1500))
    assert apply_results(once, batch, MediaPosition("10", 1500)) is once
    assert texts(once) == ["my card is broken"]


def test_a_final_is_never_replaced_by_a_partial() -> None:
    final = apply_results(fresh(), [result("r1", "my card is broken", 0, 1500)])
    after = apply_results(final, [result("r1", "my card is", 0, 1600, partial=True)])
    assert texts(after) == ["my card is broken"]
    assert after.lines[0].is_final


def test_a_partial_that_arrives_late_does_not_replace_a_newer_one() -> None:
    newer = result("r1", "my card is", 0, 1200, partial=True, stable="my card")
    older = result("r1", "my", 0, 400, partial=True)
    assert texts(apply_results(fresh(), [newer, older])) == ["my card is"]
    assert apply_results(fresh(), [newer, older]) == apply_results(fresh(), [older, newer])


def test_lines_are_kept_in_time_order_whatever_the_arrival_order() -> None:
    a, b = result("r1", "hello", 0, 500), result("r2", "hi there", 600, 900, track=AGENT)
    assert texts(apply_results(fresh(), [b, a])) == ["hello", "hi there"]


def test_a_duplicate_stream_over_the_same_audio_adds_nothing() -> None:
    first = apply_results(fresh(), [result("r1", "my card is broken", 1000, 2500)])
    again = apply_results(first, [result("x9", "my card is broken", 1010, 2490)])
    assert texts(again) == ["my card is broken"]


def test_a_final_after_a_resume_that_touches_the_last_one_is_kept() -> None:
    first = apply_results(fresh(), [result("r1", "my card", 1000, 2000)])
    resumed = apply_results(first, [result("x1", "is broken", 1900, 3500)])
    assert texts(resumed) == ["my card", "is broken"]


def test_a_final_replaces_a_stale_partial_of_another_stream() -> None:
    stale = apply_results(fresh(), [result("r1", "my ca", 1000, 1400, partial=True)])
    final = apply_results(stale, [result("x1", "my card is broken", 1000, 2500)])
    assert texts(final) == ["my card is broken"]


def test_the_transcript_keeps_the_newest_lines_within_its_bounds() -> None:
    many = [result(f"r{i}", f"word {i}", i * 100, i * 100 + 90) for i in range(lt.MAX_LINES + 50)]
    bounded = apply_results(fresh(), many)
    assert len(bounded.lines) == lt.MAX_LINES
    assert bounded.lines[-1].text == f"word {lt.MAX_LINES + 49}"
    assert bounded.dropped == 50
    long = [result(f"r{i}", "x" * 1000, i * 100, i * 100 + 90) for i in range(40)]
    assert sum(len(line.text) for line in apply_results(fresh(), long).lines) <= lt.MAX_CHARS


def test_the_checkpoint_never_moves_backwards() -> None:
    later = apply_results(fresh(), [], MediaPosition("20", 300), "continuing")
    assert apply_results(later, [], MediaPosition("19", 900)).checkpoint == MediaPosition("20", 300)


def test_caller_text_since_and_the_stable_partial() -> None:
    session = apply_results(
        fresh(),
        [
            result("r1", "hello", 0, 500),
            result("a1", "how can I help", 600, 1500, track=AGENT),
            result("r2", "my card is bro", 1600, 2600, partial=True, stable="my card"),
        ],
    )
    assert caller_text_since(session, 550) == "my card is bro"
    assert stable_caller_partial(session) == ("my card", False)
    done = apply_results(session, [result("r2", "my card is broken", 1600, 2800)])
    assert stable_caller_partial(done) == ("my card is broken", True)
    assert stable_caller_partial(fresh()) is None


def test_human_part_is_what_was_said_after_the_handover_started() -> None:
    bot = apply_results(
        fresh(), [result("r1", "agent please", 0, 900), result("a1", "transferring", 1000, 2000, track=AGENT)]
    )
    later = apply_results(
        bot,
        [result("a2", "hi this is Sam", 9000, 10000, track=AGENT), result("r2", "my card", 10500, 11000)],
        in_handover=True,
    )
    assert human_part(later) == (("AGENT", "hi this is Sam"), ("CUSTOMER", "my card"))
    assert human_part(bot) == ()


def test_the_human_part_starts_where_the_transcriber_placed_the_handover_the_first_placing_stays() -> None:
    bot = apply_results(fresh(), [result("r1", "agent please", 0, 900)])
    placed = apply_results(bot, [result("r2", "hello", 4000, 4500)], handover_at_ms=3_200)
    assert placed.handover_at_ms == 3_200 and human_part(placed) == (("CUSTOMER", "hello"),)
    again = apply_results(placed, [], handover_at_ms=5_000, in_handover=True)  # a later run's placing
    assert again.handover_at_ms == 3_200


def test_the_prompts_played_spans_merge_idempotently_in_any_order_and_are_bounded() -> None:
    a, b, c = lt.PlayedSpan(0, 900), lt.PlayedSpan(1_300, 2_000), lt.PlayedSpan(5_000, 6_000)
    merged = apply_results(fresh(), [], played=[c, b, a])
    assert merged.played == (lt.PlayedSpan(0, 2_000), c)  # 400 ms apart: one prompt
    assert apply_results(merged, [], played=[b, lt.PlayedSpan(5_200, 5_600)]) is merged  # a re-read adds nothing
    assert lt.prompt_playing_at(merged, 1_000) == lt.PlayedSpan(0, 2_000)
    assert lt.prompt_playing_at(merged, 2_000) is None
    many = [lt.PlayedSpan(i * 1_000, i * 1_000 + 100) for i in range(lt.MAX_PLAYED + 20)]
    bounded = apply_results(fresh(), [], played=many).played
    assert len(bounded) == lt.MAX_PLAYED and bounded[-1] == many[-1]


@pytest.fixture(params=["in_memory", "dynamodb"])
def transcripts(request: pytest.FixtureRequest) -> Iterator[TranscriptStore]:
    if request.param == "in_memory":
        yield InMemoryTranscriptStore()
    else:
        yield DynamoDbTranscriptStore(request.getfixturevalue("moto_dynamodb"), "switchboard-dev-sessions", 3600)


def test_the_transcript_round_trips_through_its_store_under_its_version(transcripts: TranscriptStore) -> None:
    live = apply_results(
        fresh(), [result("r1", "hello", 0, 500, partial=True, stable="he")], MediaPosition("91343852333181", 420),
        "transcribing",
    )  # fmt: skip
    live = apply_results(live, [], handover_at_ms=300, played=[lt.PlayedSpan(0, 250)])
    assert transcripts.load("c-1", NOW) == (lt.LiveTranscript(), 0)
    assert transcripts.save("c-1", live, 0, NOW) == 1
    assert transcripts.load("c-1", NOW) == (live, 1)
    with pytest.raises(SessionVersionConflictError):
        transcripts.save("c-1", live, 0, NOW)


def test_speech_is_told_from_silence_and_line_noise_by_its_amplitude() -> None:
    import array
    import math

    from chalicelib.domain.speech import is_voiced

    assert not is_voiced(bytes(320))
    assert not is_voiced(array.array("h", [120, -150, 90, -60] * 40).tobytes())  # line noise
    voice = [int(4000 * math.sin(2 * math.pi * 180 * n / 8000)) for n in range(160)]  # 20 ms at 180 Hz
    assert is_voiced(array.array("h", voice).tobytes())
