"""The sim's call audio: espeak-ng speech with word timings and its cache, the two-track timeline,
and the local GetMedia server's bounds."""

from __future__ import annotations

import json
import shutil
import time
from array import array
from pathlib import Path

import pytest

from sim.kvs_media_server import LocalKinesisVideoMedia
from sim.media import call_timeline, fixture_media
from sim.speech_audio import BYTES_PER_MS, synthesize_turn, tool_versions
from tests.conftest import EVENTS

needs_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("espeak-ng", "sox")), reason="needs Debian's espeak-ng and sox"
)


def loudest(pcm: bytes) -> int:
    samples = array("h")
    samples.frombytes(pcm)
    return max((abs(s) for s in samples), default=0)


@needs_tools
def test_each_word_has_its_place_in_the_audio_in_order(tmp_path: Path) -> None:
    spoken = synthesize_turn("please check my balance", cache_dir=tmp_path)

    assert [word for word, _, _ in spoken.words] == ["please", "check", "my", "balance"]
    ends = [0] + [end for _, _, end in spoken.words]
    for (_, start, end), previous_end in zip(spoken.words, ends, strict=False):
        assert previous_end <= start < end
        assert loudest(spoken.pcm[start * BYTES_PER_MS : end * BYTES_PER_MS]) > 1000  # speech, not silence
    assert spoken.words[-1][2] <= spoken.duration_ms <= spoken.words[-1][2] + 1


@needs_tools
def test_a_repeated_synthesis_comes_from_the_cache(tmp_path: Path) -> None:
    first = synthesize_turn("my account number is four two", cache_dir=tmp_path)
    started = time.perf_counter()
    again = synthesize_turn("my account number is four two", cache_dir=tmp_path)
    cached_s = time.perf_counter() - started

    assert again == first
    assert len(list(tmp_path.glob("*.pcm"))) == 1
    assert cached_s < 0.05


def test_speech_that_overlaps_on_one_track_is_refused() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        call_timeline([(0, bytes(1600)), (50, bytes(160))], [])


def test_both_tracks_last_as_long_as_the_call() -> None:
    tracks = call_timeline([(100, b"\x01\x00" * 80)], [(300, b"\x02\x00" * 800)], tail_ms=50)
    assert {len(pcm) for pcm in tracks.values()} == {(300 + 100 + 50) * BYTES_PER_MS}
    assert tracks["AUDIO_FROM_CUSTOMER"][100 * BYTES_PER_MS : 110 * BYTES_PER_MS] == b"\x01\x00" * 80


def test_the_local_getmedia_listens_on_loopback_only() -> None:
    with LocalKinesisVideoMedia() as server:
        assert server.endpoint_url.startswith("http://127.0.0.1:")


@needs_tools
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")
def test_the_committed_getmedia_body_is_what_its_command_makes(tmp_path: Path) -> None:
    expected = json.loads((EVENTS / "kvs" / "getmedia-call.json").read_text())
    if expected["tools"] != tool_versions():
        pytest.skip("other espeak-ng/sox versions speak differently: remake the fixture with them")
    media, _, _ = fixture_media(cache_dir=tmp_path)  # a fresh cache: synthesized again

    assert media.body == (EVENTS / "kvs" / "getmedia-call.mkv").read_bytes()
