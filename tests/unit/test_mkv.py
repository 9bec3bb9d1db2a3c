"""The GetMedia Matroska reader: against a body made by ffmpeg (``events/kvs/getmedia-call.mkv``,
written by ``python -m sim.media events/kvs/getmedia-call``) and against hand-built documents for
the cases ffmpeg does not write (tags after the cluster, lacing, unknown sizes, bad input)."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Iterable
from typing import Any

import pytest

from chalicelib.adapters.speech.mkv import (
    CLUSTER,
    CLUSTER_TIMECODE,
    EBML_HEADER,
    INFO,
    SEGMENT,
    SIMPLE_BLOCK,
    TIMECODE_SCALE,
    TRACKS_ID,
    MkvAudioReader,
    block_header,
    iter_elements,
)
from chalicelib.domain.speech import TRACKS, AudioChunk, pcm_ms
from chalicelib.errors import MediaStreamMalformedError, MediaStreamUnavailableError
from sim.matroska import UNKNOWN_SIZE, element, tags_element, text_element, uint_element
from sim.media import call_media
from tests.conftest import EVENTS

FIXTURE = EVENTS / "kvs" / "getmedia-call.mkv"
EXPECTED: dict[str, Any] = json.loads((EVENTS / "kvs" / "getmedia-call.json").read_text())


def read(pieces: Iterable[bytes]) -> list[AudioChunk]:
    reader = MkvAudioReader()
    chunks = [chunk for piece in pieces for chunk in reader.feed(piece)]
    return chunks + reader.finish()


def track_pcm(chunks: list[AudioChunk], track: str) -> bytes:
    return b"".join(chunk.pcm for chunk in chunks if chunk.track == track)


@pytest.fixture(scope="module")
def body() -> bytes:
    return FIXTURE.read_bytes()


@pytest.fixture(scope="module")
def chunks(body: bytes) -> list[AudioChunk]:
    return read([body])


# --- hand-built documents --------------------------------------------------------------------


def track_entry(number: int, name: str) -> bytes:
    payload = uint_element(0xD7, number) + text_element(0x86, "A_PCM/INT/LIT") + text_element(0x536E, name)
    return element(0xAE, payload)


TWO_TRACKS = element(TRACKS_ID, track_entry(1, "AUDIO_FROM_CUSTOMER") + track_entry(2, "AUDIO_TO_CUSTOMER"))


def block(track: int, relative: int, pcm: bytes, flags: int = 0x80, element_id: int = SIMPLE_BLOCK) -> bytes:
    return element(element_id, bytes([0x80 | track]) + relative.to_bytes(2, "big", signed=True) + bytes([flags]) + pcm)


def cluster(timecode: int, *blocks: bytes, unknown_size: bool = False) -> bytes:
    payload = uint_element(CLUSTER_TIMECODE, timecode) + b"".join(blocks)
    if unknown_size:
        return (0x1F43B675).to_bytes(4, "big") + UNKNOWN_SIZE + payload
    return element(CLUSTER, payload)


def document(*children: bytes, number: str | None = "1") -> bytes:
    """An EBML header and a Segment of unknown size: Info, Tracks (unless given), the fragment tags."""
    header = element(EBML_HEADER, text_element(0x4282, "matroska"))
    parts = list(children)
    if number is not None:
        parts.insert(0, tags_element({"AWS_KINESISVIDEO_FRAGMENT_NUMBER": number}))
    if not any(part.startswith(TRACKS_ID.to_bytes(4, "big")) for part in parts):
        parts.insert(0, TWO_TRACKS)
    parts.insert(0, element(INFO, uint_element(TIMECODE_SCALE, 1_000_000)))
    return header + SEGMENT.to_bytes(4, "big") + UNKNOWN_SIZE + b"".join(parts)


# --- the ffmpeg-made body --------------------------------------------------------------------


def test_both_tracks_are_recognised_by_their_names(chunks: list[AudioChunk]) -> None:
    assert {chunk.track for chunk in chunks} == set(TRACKS)


def test_pcm_of_each_track_round_trips_byte_exact(chunks: list[AudioChunk]) -> None:
    for track in TRACKS:
        pcm = track_pcm(chunks, track)
        assert len(pcm) == EXPECTED["tracks"][track]["bytes"]
        assert hashlib.sha256(pcm).hexdigest() == EXPECTED["tracks"][track]["sha256"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")
def test_pcm_muxed_by_ffmpeg_in_the_test_round_trips_byte_exact() -> None:
    noise = random.Random(3)
    caller = bytes(noise.getrandbits(8) for _ in range(9000))
    reply = bytes(noise.getrandbits(8) for _ in range(7000))
    media = call_media([(50, caller)], [(900, reply)], tail_ms=100)

    chunks = read([media.body])

    assert {track: track_pcm(chunks, track) for track in TRACKS} == media.tracks


def test_timecodes_are_monotonic_and_match_each_tracks_pcm_offset(chunks: list[AudioChunk]) -> None:
    timecodes = [chunk.timecode_ms for chunk in chunks]
    assert timecodes == sorted(timecodes)
    for track in TRACKS:
        played_ms = 0.0
        for chunk in (c for c in chunks if c.track == track):
            assert abs(chunk.timecode_ms - played_ms) <= 1
            played_ms += pcm_ms(chunk.pcm)


def test_each_chunk_carries_the_number_of_the_fragment_holding_it(body: bytes, chunks: list[AudioChunk]) -> None:
    by_fragment: list[AudioChunk] = []
    at = 0
    for fragment in EXPECTED["fragments"]:  # each fragment's document read on its own
        alone = read([body[at : at + fragment["bytes"]]])
        assert {chunk.fragment_number for chunk in alone} == {fragment["number"]}
        by_fragment += alone
        at += fragment["bytes"]
    assert by_fragment == chunks


def test_fed_one_byte_at_a_time_gives_the_same_chunks(body: bytes, chunks: list[AudioChunk]) -> None:
    assert read(body[i : i + 1] for i in range(len(body))) == chunks


def test_fed_in_random_pieces_gives_the_same_chunks(body: bytes, chunks: list[AudioChunk]) -> None:
    sizes = random.Random(11)
    pieces, at = [], 0
    while at < len(body):
        size = sizes.choice([1, 7, 100, 1500, 4096, 20000])
        pieces.append(body[at : at + size])
        at += size
    assert read(pieces) == chunks


def test_a_cut_body_never_stops_inside_a_timecode_of_a_fragment(body: bytes, chunks: list[AudioChunk]) -> None:
    for cut in range(500, len(body), 997):
        released = MkvAudioReader().feed(body[:cut])
        assert released == chunks[: len(released)]
        if released and len(released) < len(chunks):
            following = chunks[len(released)]
            assert following.position != released[-1].position  # its fragment, its timecode: all out


def test_the_fragments_tags_are_kept_with_connects_contact_id(body: bytes) -> None:
    reader = MkvAudioReader()
    reader.feed(body)
    reader.finish()
    assert reader.documents == len(EXPECTED["fragments"])
    assert reader.last_tags["ContactId"] == "00000000-0000-4000-8000-000000000000"
    assert reader.last_tags["AWS_KINESISVIDEO_CONTINUATION_TOKEN"] == EXPECTED["fragments"][-1]["number"]


# --- layouts ffmpeg does not write -----------------------------------------------------------


def test_blocks_before_the_fragment_number_get_it_from_tags_after_the_cluster() -> None:
    data = document(
        cluster(0, block(1, 0, b"\x01\x00"), block(2, 0, b"\x02\x00")),
        tags_element({"AWS_KINESISVIDEO_FRAGMENT_NUMBER": "42"}),
        number=None,
    )
    assert [(c.track, c.fragment_number) for c in read([data])] == [
        ("AUDIO_FROM_CUSTOMER", "42"),
        ("AUDIO_TO_CUSTOMER", "42"),
    ]


def test_a_fragment_without_a_fragment_number_is_malformed() -> None:
    with pytest.raises(MediaStreamMalformedError, match="AWS_KINESISVIDEO_FRAGMENT_NUMBER"):
        read([document(cluster(0, block(1, 0, b"\x01\x00")), number=None)])


def test_an_unknown_size_cluster_ends_at_the_next_segment_level_element() -> None:
    data = document(
        cluster(1000, block(1, 0, b"\x01\x00"), unknown_size=True),
        cluster(2000, block(1, 0, b"\x02\x00"), unknown_size=True),
        tags_element({"AWS_KINESISVIDEO_MILLIS_BEHIND_NOW": "0"}),
    )
    assert [(c.pcm, c.timecode_ms) for c in read([data])] == [(b"\x01\x00", 1000), (b"\x02\x00", 2000)]


def test_unknown_elements_are_skipped_even_when_they_arrive_in_pieces() -> None:
    unknown = element(0x4DBB, bytes(5000))  # a SeekHead child, out of place: skipped by its size
    void = element(0xEC, bytes(300))
    data = document(void, unknown, cluster(0, void, block(1, 0, b"\x05\x00"), unknown))
    assert [c.pcm for c in read(data[i : i + 64] for i in range(0, len(data), 64))] == [b"\x05\x00"]


def test_block_timecodes_follow_the_timecode_scale() -> None:
    data = document(cluster(4000, block(1, 200, b"\x01\x00"), block(2, -2, b"\x02\x00")))
    data = data.replace(uint_element(TIMECODE_SCALE, 1_000_000), uint_element(TIMECODE_SCALE, 500_000))
    assert [c.timecode_ms for c in read([data])] == [2100, 1999]


def test_a_blockgroups_block_is_read_like_a_simple_block() -> None:
    data = document(cluster(0, element(0xA0, block(2, 5, b"\x07\x00", flags=0, element_id=0xA1))))
    assert [(c.track, c.pcm, c.timecode_ms) for c in read([data])] == [("AUDIO_TO_CUSTOMER", b"\x07\x00", 5)]


@pytest.mark.parametrize(
    ("flags", "lace_header"),
    [
        (0x82, bytes([2, 2, 4])),  # Xiph: 3 frames, sizes 2 and 4, the last is the rest
        (0x86, bytes([2, 0x82, 0xBF + 2])),  # EBML: 3 frames, first size 2, then +2
        (0x84, bytes([2])),  # fixed: 3 frames of equal size
    ],
)
def test_a_laced_blocks_pcm_is_its_frames_in_order(flags: int, lace_header: bytes) -> None:
    frames = b"\x01\x00" + b"\x02\x00\x03\x00" + b"\x04\x00\x05\x00\x06\x00"
    if flags == 0x84:
        frames = b"\x01\x00\x02\x00" * 3
    data = document(cluster(0, block(1, 0, lace_header + frames, flags=flags)))
    assert [c.pcm for c in read([data])] == [frames]


def test_getmedia_error_tags_make_the_stream_unavailable() -> None:
    data = document(
        tags_element({"AWS_KINESISVIDEO_ERROR_CODE": "Internal error", "AWS_KINESISVIDEO_ERROR_ID": "5000"})
    )
    with pytest.raises(MediaStreamUnavailableError, match="5000"):
        read([data])


# --- bad input -------------------------------------------------------------------------------


def test_a_truncated_body_is_malformed(body: bytes) -> None:
    reader = MkvAudioReader()
    reader.feed(body[:-100])
    with pytest.raises(MediaStreamMalformedError, match="truncated"):
        reader.finish()


def test_garbage_is_malformed() -> None:
    garbage = random.Random(5).randbytes(4096)
    with pytest.raises(MediaStreamMalformedError):
        read([garbage])


def test_text_is_malformed() -> None:
    with pytest.raises(MediaStreamMalformedError, match="EBML"):
        read([b'{"this": "is json, not matroska"}'])


def test_a_document_that_is_not_matroska_is_malformed() -> None:
    with pytest.raises(MediaStreamMalformedError, match="DocType"):
        read([element(EBML_HEADER, text_element(0x4282, "mkvmerge-pdf"))])


def test_a_block_of_an_undeclared_track_is_malformed() -> None:
    with pytest.raises(MediaStreamMalformedError, match="track 3"):
        read([document(cluster(0, block(3, 0, b"\x01\x00")))])


def test_a_stream_without_connects_audio_tracks_is_malformed() -> None:
    tracks = element(TRACKS_ID, track_entry(1, "VIDEO"))
    with pytest.raises(MediaStreamMalformedError, match="AUDIO_FROM_CUSTOMER"):
        read([document(tracks, cluster(0, block(1, 0, b"\x01\x00")))])


def test_a_child_that_overruns_its_parent_is_malformed() -> None:
    inner = element(0xE7, b"\x00\x00\x00\x00")
    bad_cluster = (0x1F43B675).to_bytes(4, "big") + bytes([0x80 | 2]) + inner  # claims 2 bytes, holds 6
    with pytest.raises(MediaStreamMalformedError, match="overruns"):
        read([document(bad_cluster)])


def test_iter_elements_lists_one_level_of_a_complete_buffer_with_its_offsets() -> None:
    data = element(CLUSTER, uint_element(CLUSTER_TIMECODE, 5)) + text_element(0x4282, "matroska")

    top = list(iter_elements(data))
    inner = list(iter_elements(data, top[0].data_start, top[0].end))

    assert [(e.element_id, e.start, e.data_start, e.end) for e in top] == [(CLUSTER, 0, 5, 8), (0x4282, 8, 11, 19)]
    assert [(e.element_id, data[e.data_start : e.end]) for e in inner] == [(CLUSTER_TIMECODE, b"\x05")]


def test_iter_elements_refuses_an_unknown_size_and_an_element_past_the_end() -> None:
    with pytest.raises(MediaStreamMalformedError, match="unknown size"):
        list(iter_elements((SEGMENT).to_bytes(4, "big") + UNKNOWN_SIZE))
    with pytest.raises(MediaStreamMalformedError, match="past the buffer"):
        list(iter_elements(element(CLUSTER_TIMECODE, b"\x01\x02")[:-1]))


def test_block_header_gives_the_track_where_the_frames_start_and_the_relative_timecode() -> None:
    assert block_header(bytes([0x82, 0xFF, 0xFE, 0x80]) + b"pcm") == (2, 4, -2)
