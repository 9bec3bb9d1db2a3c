"""``KinesisVideoAudioSource`` with real boto3 clients against ``LocalKinesisVideoMedia`` (127.0.0.1):
whole streams, resuming mid-stream, a connection dropped mid-fragment, and the service's errors."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.adapters.speech.kvs_audio_source import KinesisVideoAudioSource
from chalicelib.domain.speech import TRACKS, AudioChunk, MediaPosition
from chalicelib.errors import MediaStreamUnavailableError
from sim.kvs_media_server import LocalKinesisVideoMedia
from sim.media import CallMedia, call_media
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")

STREAM_ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-contact-1/1700000000000"


@pytest.fixture(scope="module")
def media() -> CallMedia:
    """Four seconds of noise on both tracks (every byte differs, so any gap or overlap shows)."""
    noise = random.Random(17)
    caller = noise.randbytes(30_000)
    reply = noise.randbytes(26_000)
    return call_media([(0, caller), (2400, noise.randbytes(8000))], [(1100, reply)], tail_ms=300)


@pytest.fixture
def server(media: CallMedia) -> Iterator[LocalKinesisVideoMedia]:
    with LocalKinesisVideoMedia() as local:
        local.add_stream(STREAM_ARN, media)
        yield local


def config() -> Config:
    return Config(region_name="us-east-1", retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)


@pytest.fixture
def source(server: LocalKinesisVideoMedia) -> KinesisVideoAudioSource:
    session = boto3.session.Session()
    kinesisvideo = session.client("kinesisvideo", endpoint_url=server.endpoint_url, config=config())

    def media_client(endpoint: str) -> Any:
        return session.client("kinesis-video-media", endpoint_url=endpoint, config=config())

    return KinesisVideoAudioSource(kinesisvideo, media_client)


def pcm_by_track(chunks: list[AudioChunk]) -> dict[str, bytes]:
    return {track: b"".join(chunk.pcm for chunk in chunks if chunk.track == track) for track in TRACKS}


def first_position(media: CallMedia) -> MediaPosition:
    return MediaPosition(media.fragments[0].number)


def test_the_whole_stream_is_read_byte_exact(source: KinesisVideoAudioSource, media: CallMedia) -> None:
    chunks = list(source.chunks(STREAM_ARN, first_position(media)))
    assert pcm_by_track(chunks) == media.tracks
    assert [c.fragment_number for c in chunks][-1] == media.fragments[-1].number


def test_getmedia_is_asked_from_the_positions_fragment(
    source: KinesisVideoAudioSource, server: LocalKinesisVideoMedia, media: CallMedia
) -> None:
    list(source.chunks(STREAM_ARN, MediaPosition(media.fragments[2].number, 2200)))
    assert server.stats.selectors == [
        {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": media.fragments[2].number}
    ]


def test_resuming_mid_stream_gives_exactly_the_rest(source: KinesisVideoAudioSource, media: CallMedia) -> None:
    whole = list(source.chunks(STREAM_ARN, first_position(media)))
    # Stop at a few places inside fragments (as a restarted consumer would), then resume there.
    for stop in (len(whole) // 3, len(whole) // 2 + 1, len(whole) - 3):
        end = stop + 1
        while end < len(whole) and whole[end].position == whole[end - 1].position:
            end += 1  # a checkpoint is taken once the chunks of its timecode are all in
        consumed = whole[:end]
        rest = list(source.chunks(STREAM_ARN, consumed[-1].position))
        assert consumed + rest == whole


def test_a_dropped_connection_is_unavailable_and_resuming_completes_the_audio(
    source: KinesisVideoAudioSource, server: LocalKinesisVideoMedia, media: CallMedia
) -> None:
    server.drop_next(STREAM_ARN, after_bytes=int(len(media.body) * 0.55))  # mid-fragment
    consumed: list[AudioChunk] = []
    with pytest.raises(MediaStreamUnavailableError, match="stopped"):
        for chunk in source.chunks(STREAM_ARN, first_position(media)):
            consumed.append(chunk)
    assert server.stats.dropped == 1
    assert consumed

    rest = list(source.chunks(STREAM_ARN, consumed[-1].position))

    assert pcm_by_track(consumed + rest) == media.tracks


def test_an_unknown_stream_is_unavailable(source: KinesisVideoAudioSource) -> None:
    with pytest.raises(MediaStreamUnavailableError, match="ResourceNotFoundException"):
        list(source.chunks(STREAM_ARN + "-gone", MediaPosition("1")))


def test_an_unknown_fragment_is_unavailable(source: KinesisVideoAudioSource) -> None:
    with pytest.raises(MediaStreamUnavailableError, match="4000"):
        list(source.chunks(STREAM_ARN, MediaPosition("12345")))


def test_a_refused_connection_is_unavailable(media: CallMedia) -> None:
    with LocalKinesisVideoMedia() as closed:
        url = closed.endpoint_url
    kinesisvideo = boto3.session.Session().client("kinesisvideo", endpoint_url=url, config=config())
    source = KinesisVideoAudioSource(kinesisvideo, lambda endpoint: None)
    with pytest.raises(MediaStreamUnavailableError, match="could not start"):
        list(source.chunks(STREAM_ARN, first_position(media)))


def test_a_paced_stream_arrives_at_the_given_speed(media: CallMedia) -> None:
    with LocalKinesisVideoMedia(speed=20.0) as paced:
        paced.add_stream(STREAM_ARN, media)
        session = boto3.session.Session()
        kinesisvideo = session.client("kinesisvideo", endpoint_url=paced.endpoint_url, config=config())
        source = KinesisVideoAudioSource(
            kinesisvideo, lambda endpoint: session.client("kinesis-video-media", endpoint_url=endpoint, config=config())
        )
        started = time.monotonic()
        chunks = list(source.chunks(STREAM_ARN, first_position(media)))
        elapsed = time.monotonic() - started
    assert pcm_by_track(chunks) == media.tracks
    assert elapsed >= media.duration_ms / 1000 / 20 * 0.9


def test_importing_the_adapter_loads_no_aws_sdk() -> None:
    code = (
        "import sys, chalicelib.adapters.speech.kvs_audio_source; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'urllib3')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
