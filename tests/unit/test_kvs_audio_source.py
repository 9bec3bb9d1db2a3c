"""``KinesisVideoAudioSource`` over an in-memory fake of the two KVS clients, serving the recorded
body ``events/kvs/getmedia-call.mkv``: resuming at every checkpoint a consumer can take gives the
rest of the audio exactly, and a body that stops mid-way is reported as unavailable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError

from chalicelib.adapters.speech.kvs_audio_source import KinesisVideoAudioSource
from chalicelib.domain.speech import AudioChunk, MediaPosition
from chalicelib.errors import MediaStreamUnavailableError
from tests.conftest import EVENTS

STREAM_ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/contact/1"
BODY = (EVENTS / "kvs" / "getmedia-call.mkv").read_bytes()
FRAGMENTS: list[dict[str, Any]] = json.loads((EVENTS / "kvs" / "getmedia-call.json").read_text())["fragments"]


class StoredBody:
    """What botocore's ``StreamingBody`` offers the adapter, over bytes; optionally breaks."""

    def __init__(self, data: bytes, break_after: int | None = None) -> None:
        self.data = data
        self.break_after = break_after
        self.closed = False

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        end = len(self.data) if self.break_after is None else self.break_after
        for at in range(0, end, chunk_size):
            yield self.data[at : min(at + chunk_size, end)]
        if self.break_after is not None:
            raise ResponseStreamingError(error="Connection broken: IncompleteRead")

    def close(self) -> None:
        self.closed = True


class InMemoryKinesisVideo:
    """``GetDataEndpoint`` and ``GetMedia`` (starting with the named fragment) over one body."""

    def __init__(self, break_after: int | None = None) -> None:
        self.break_after = break_after
        self.bodies: list[StoredBody] = []

    def get_data_endpoint(self, StreamARN: str, APIName: str) -> dict[str, str]:
        if StreamARN != STREAM_ARN:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetDataEndpoint")
        return {"DataEndpoint": "memory://kvs"}

    def get_media(self, StreamARN: str, StartSelector: dict[str, str]) -> dict[str, Any]:
        offset = 0
        for fragment in FRAGMENTS:
            if fragment["number"] == StartSelector["AfterFragmentNumber"]:
                break
            offset += fragment["bytes"]
        body = StoredBody(BODY[offset:], self.break_after)
        self.break_after = None
        self.bodies.append(body)
        return {"Payload": body}


def source_over(fake: InMemoryKinesisVideo) -> KinesisVideoAudioSource:
    return KinesisVideoAudioSource(fake, lambda endpoint: fake, read_bytes=1000)


START = MediaPosition(FRAGMENTS[0]["number"])


@pytest.fixture(scope="module")
def whole() -> list[AudioChunk]:
    return list(source_over(InMemoryKinesisVideo()).chunks(STREAM_ARN, START))


def test_resuming_at_any_checkpoint_gives_exactly_the_rest(whole: list[AudioChunk]) -> None:
    source = source_over(InMemoryKinesisVideo())
    checkpoints = [i for i in range(len(whole) - 1) if whole[i + 1].position != whole[i].position]
    assert len(checkpoints) > 100
    for i in checkpoints:
        assert whole[: i + 1] + list(source.chunks(STREAM_ARN, whole[i].position)) == whole


def test_a_body_that_breaks_is_unavailable_and_resuming_completes_it(whole: list[AudioChunk]) -> None:
    for break_after in range(700, len(BODY), 9_973):
        fake = InMemoryKinesisVideo(break_after=break_after)
        source = source_over(fake)
        consumed: list[AudioChunk] = []
        with pytest.raises(MediaStreamUnavailableError, match="ResponseStreamingError"):
            consumed.extend(source.chunks(STREAM_ARN, START))
        resumed_from = consumed[-1].position if consumed else START
        assert consumed + list(source.chunks(STREAM_ARN, resumed_from)) == whole
        assert all(body.closed for body in fake.bodies)


def test_a_consumer_that_stops_early_closes_the_body() -> None:
    fake = InMemoryKinesisVideo()
    chunks = source_over(fake).chunks(STREAM_ARN, START)
    next(chunks)
    chunks.close()
    assert fake.bodies[0].closed


def test_a_refused_endpoint_is_unavailable() -> None:
    with pytest.raises(MediaStreamUnavailableError, match="ResourceNotFoundException"):
        list(source_over(InMemoryKinesisVideo()).chunks(STREAM_ARN + "-other", START))
