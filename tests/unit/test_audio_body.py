"""The Transcribe request body awscrt reads (``adapters/speech/audio_body.py``): the SDK's stream's
contract, and a read that waits for audio instead of answering "nothing yet" at once."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.speech.audio_body import WaitingAudioBody, waiting_body_serializer


def test_a_read_with_nothing_written_waits_for_the_next_write() -> None:
    body = WaitingAudioBody(read_wait_s=30)  # far longer than the write takes: the read must wake on it
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(body.read()))
    reader.start()
    body.write(b"audio")
    reader.join(timeout=10)
    assert got == [b"audio"] and body.empty_reads == 0


def test_a_read_that_waited_in_vain_says_nothing_yet() -> None:
    body = WaitingAudioBody(read_wait_s=0.001)
    with pytest.raises(BlockingIOError):
        body.read()
    assert body.empty_reads == 1


def test_the_end_drains_what_is_buffered_then_reads_empty() -> None:
    body = WaitingAudioBody()
    body.write(b"abc")
    body.end_stream()
    assert (body.read(2), body.read(), body.read()) == (b"ab", b"c", b"")
    with pytest.raises(OSError, match="ended"):
        body.write(b"late")


def test_an_end_wakes_a_waiting_read() -> None:
    body = WaitingAudioBody(read_wait_s=30)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(body.read()))
    reader.start()
    body.end_stream()
    reader.join(timeout=10)
    assert got == [b""]


def test_close_ends_it_at_once_and_drops_what_is_buffered() -> None:
    body = WaitingAudioBody()
    body.write(b"abc")
    body.close()
    assert body.closed and body.read() == b""


def test_it_takes_bytes_only() -> None:
    with pytest.raises(ValueError, match="bytes"):
        WaitingAudioBody().write("text")


def test_readinto_fills_the_buffer_awscrt_hands_it() -> None:
    body = WaitingAudioBody()
    body.write(b"0123456789")
    buffer = bytearray(4)
    assert body.readinto1(buffer) == 4 and bytes(buffer) == b"0123"
    assert body.read() == b"456789"


@given(
    writes=st.lists(st.binary(max_size=64), max_size=20),
    sizes=st.lists(st.integers(min_value=-1, max_value=70).filter(bool), min_size=1, max_size=40),
)
def test_reads_of_any_sizes_give_back_the_writes_in_order(writes: list[bytes], sizes: list[int]) -> None:
    body = WaitingAudioBody(read_wait_s=0)
    for data in writes:
        body.write(data)
    body.end_stream()
    out = b""
    for size in sizes * 200:
        piece = body.read(size)
        if piece == b"":
            break
        out += piece
    assert out == b"".join(writes)
    assert body.read(0) == b""


def test_the_serializer_builds_each_request_with_a_waiting_body() -> None:
    from amazon_transcribe.model import StartStreamTranscriptionRequest

    request = waiting_body_serializer().serialize_start_stream_transcription_request(
        endpoint="https://transcribestreaming.us-east-1.amazonaws.com",
        request_shape=StartStreamTranscriptionRequest(language_code="en-US", media_sample_rate_hz=8000,
                                                      media_encoding="pcm"),
    )  # fmt: skip
    assert isinstance(request.body, WaitingAudioBody)
    assert request.prepare().body is request.body
