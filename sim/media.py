"""The call's audio, offline: speech from text, a two-track Matroska, and a local ``GetMedia``.

Amazon Connect streams each call to Kinesis Video Streams as Matroska fragments with two 8 kHz
16-bit PCM tracks (``AUDIO_FROM_CUSTOMER``, ``AUDIO_TO_CUSTOMER``). To test the streaming speech
path without AWS, this module makes the same thing from a recorded call's text:

- ``synthesize_turn`` speaks a text with ``espeak-ng``, resampled to 8 kHz with ``sox``, word by
  word so every word's place in the audio is known (espeak-ng prints no timings). Results are
  cached under ``out/audio-cache/``, keyed by the text, the voice and the tools' versions.
- ``call_media`` lays the turns and the replies on the two tracks at given offsets, has Debian's
  ``ffmpeg`` mux them (two ``A_PCM/INT/LIT`` tracks named by their ``title``, ~1 s clusters), and
  cuts that file into the documents ``GetMedia`` returns: per Cluster, an EBML header and a
  Segment of unknown size with Info, Tracks, the fragment's tags (fragment number, server and
  producer timestamps, Connect's ContactId), the Cluster, then the millis-behind-now and
  continuation-token tags (the layout ``chalicelib/adapters/speech/mkv.py`` documents).
- ``LocalKinesisVideoMedia`` serves ``POST /getDataEndpoint`` and ``POST /getMedia`` on
  127.0.0.1 as botocore's ``kinesisvideo`` and ``kinesis-video-media`` clients call them, with
  optional real-time pacing and a switch that cuts the body mid-fragment (a dropped connection).

The tools are Debian's (``apt-get install espeak-ng sox ffmpeg``); nothing here is deployed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chalicelib.domain.speech import BYTES_PER_SAMPLE, SAMPLE_RATE_HZ, TRACKS, Track, pcm_ms

ROOT = Path(__file__).resolve().parent.parent
AUDIO_CACHE = ROOT / "out" / "audio-cache"
CACHE_FORMAT = 2  # bump when the synthesis recipe changes: old cache entries stop matching
WORD_GAP_MS = 70
SILENCE_THRESHOLD = 200  # |sample| below this is silence when trimming a word (of 32767)
BYTES_PER_MS = SAMPLE_RATE_HZ * BYTES_PER_SAMPLE // 1000

# --- speech --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpokenText:
    """A text spoken as 8 kHz 16-bit mono PCM, with where each word is in it (ms)."""

    text: str
    pcm: bytes
    words: tuple[tuple[str, int, int], ...]

    @property
    def duration_ms(self) -> float:
        return pcm_ms(self.pcm)


@cache
def tool_versions() -> str:
    """The versions of espeak-ng and sox (part of the cache key: another version, other audio)."""
    versions = [_run([tool, "--version"]).decode(errors="replace").strip() for tool in ("espeak-ng", "sox")]
    return " | ".join(versions)


def synthesize_turn(
    text: str,
    *,
    voice: str = "en-us",
    words_per_minute: int = 160,
    cache_dir: Path = AUDIO_CACHE,
) -> SpokenText:
    """Speak ``text`` with espeak-ng: 8 kHz 16-bit mono PCM and each word's start and end.

    Each word is synthesized alone, trimmed of its silence and joined with ``WORD_GAP_MS`` of
    silence, so its timing is exact. The result is cached in ``cache_dir``.

    Args:
        text: what the speaker says.
        voice: an espeak-ng voice (``espeak-ng --voices``).
        words_per_minute: espeak-ng's speed.
        cache_dir: where results are kept between runs.

    Returns:
        The PCM and ``(word, start_ms, end_ms)`` for every word.
    """
    words = text.split()
    key_source = json.dumps([CACHE_FORMAT, text, voice, words_per_minute, WORD_GAP_MS, tool_versions()])
    key = hashlib.sha256(key_source.encode()).hexdigest()[:32]
    pcm_path, words_path = cache_dir / f"{key}.pcm", cache_dir / f"{key}.json"
    if pcm_path.exists() and words_path.exists():
        timings = tuple((str(w), int(s), int(e)) for w, s, e in json.loads(words_path.read_text()))
        return SpokenText(text, pcm_path.read_bytes(), timings)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(words)))) as pool:
        spoken = list(pool.map(lambda word: _trim(_speak_word(word, voice, words_per_minute)), words))
    gap = bytes(WORD_GAP_MS * BYTES_PER_MS)
    pieces: list[bytes] = []
    timings_list: list[tuple[str, int, int]] = []
    at = 0
    for word, pcm in zip(words, spoken, strict=True):
        if pieces:
            pieces.append(gap)
            at += len(gap)
        timings_list.append((word, at // BYTES_PER_MS, (at + len(pcm)) // BYTES_PER_MS))
        pieces.append(pcm)
        at += len(pcm)
    result = SpokenText(text, b"".join(pieces), tuple(timings_list))
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(pcm_path, result.pcm)
    _write_atomically(words_path, json.dumps(result.words).encode())
    return result


def _speak_word(word: str, voice: str, words_per_minute: int) -> bytes:
    # sox: -D no dither (it is random, and pointless from 16-bit to 16-bit), -R repeatable.
    wav = _run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", "--", word])
    return _run(
        ["sox", "-V1", "-R", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE_HZ), "-c", "1", "-b", "16",
         "-e", "signed-integer", "-L", "-"],
        stdin=wav,
    )  # fmt: skip


def _trim(pcm: bytes) -> bytes:
    """``pcm`` without the silence espeak-ng puts before and after a word."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE])
    loud = [i for i, sample in enumerate(samples) if abs(sample) >= SILENCE_THRESHOLD]
    if not loud:
        return pcm
    return samples[loud[0] : loud[-1] + 1].tobytes()


# --- the call's media ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fragment:
    """One ``GetMedia`` fragment: its number, its Matroska document and the audio it covers."""

    number: str
    data: bytes
    start_ms: int
    duration_ms: int


@dataclass(frozen=True)
class CallMedia:
    """A call's audio: both tracks' PCM, and the KVS fragments that carry it."""

    tracks: dict[Track, bytes]
    fragments: tuple[Fragment, ...]

    @property
    def body(self) -> bytes:
        """Every fragment, as one ``GetMedia`` body from the stream's start."""
        return b"".join(fragment.data for fragment in self.fragments)

    @property
    def duration_ms(self) -> float:
        return pcm_ms(self.tracks["AUDIO_FROM_CUSTOMER"])


def call_timeline(
    caller: Sequence[tuple[int, bytes]], replies: Sequence[tuple[int, bytes]], *, tail_ms: int = 500
) -> dict[Track, bytes]:
    """Both tracks of a call as PCM of equal length: each speech at its offset, silence between.

    Args:
        caller: ``(offset_ms, pcm)`` of what the customer says (``AUDIO_FROM_CUSTOMER``).
        replies: ``(offset_ms, pcm)`` of what the customer hears (``AUDIO_TO_CUSTOMER``).
        tail_ms: silence after the last speech.

    Raises:
        ValueError: two pieces of speech overlap on one track.
    """
    placed = {"AUDIO_FROM_CUSTOMER": caller, "AUDIO_TO_CUSTOMER": replies}
    end = max((offset * BYTES_PER_MS + len(pcm) for pieces in placed.values() for offset, pcm in pieces), default=0)
    length = end + tail_ms * BYTES_PER_MS
    length += length % BYTES_PER_SAMPLE
    tracks: dict[Track, bytes] = {}
    for track in TRACKS:
        timeline = bytearray(length)
        taken_until = 0
        for offset_ms, pcm in sorted(placed[track], key=lambda piece: piece[0]):
            at = offset_ms * BYTES_PER_MS
            if at < taken_until:
                raise ValueError(f"speech at {offset_ms} ms overlaps the one before it on {track}")
            timeline[at : at + len(pcm)] = pcm
            taken_until = at + len(pcm)
        tracks[track] = bytes(timeline)
    return tracks


def matroska_from_tracks(tracks: dict[Track, bytes], *, cluster_ms: int = 1000) -> bytes:
    """Both tracks muxed by ffmpeg into one Matroska file (``A_PCM/INT/LIT``, named tracks).

    ``-fflags +bitexact`` keeps the output free of version strings and random UIDs, so the same
    input gives the same bytes.
    """
    with tempfile.TemporaryDirectory(prefix="switchboard-media-") as work:
        inputs: list[str] = []
        for index, track in enumerate(TRACKS):
            raw = Path(work) / f"{index}.raw"
            raw.write_bytes(tracks[track])
            inputs += ["-f", "s16le", "-ar", str(SAMPLE_RATE_HZ), "-ac", "1", "-i", str(raw)]
        output = Path(work) / "call.mkv"
        titles = [arg for i, t in enumerate(TRACKS) for arg in (f"-metadata:s:a:{i}", f"title={t}")]
        _run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs,
             "-map", "0:a", "-map", "1:a", "-c:a", "pcm_s16le", *titles,
             "-fflags", "+bitexact", "-flags:a", "+bitexact",
             "-cluster_time_limit", str(cluster_ms), "-cluster_size_limit", str(4 * 1024 * 1024),
             "-f", "matroska", str(output)]
        )  # fmt: skip
        return output.read_bytes()


def call_media(
    caller: Sequence[tuple[int, bytes]],
    replies: Sequence[tuple[int, bytes]],
    *,
    contact_id: str = "00000000-0000-4000-8000-000000000000",
    cluster_ms: int = 1000,
    tail_ms: int = 500,
    first_fragment: int = 0,
    started_at: float = 1_700_000_000.0,
) -> CallMedia:
    """A whole call's audio as the KVS fragments Connect's stream would hold.

    Args:
        caller: ``(offset_ms, pcm)`` of each customer turn.
        replies: ``(offset_ms, pcm)`` of each reply the customer hears.
        contact_id: written in every fragment's tags, as Connect does.
        cluster_ms: the length of a fragment (one Cluster each).
        tail_ms: silence after the last speech.
        first_fragment: the index of the first fragment number (another call, other numbers).
        started_at: the producer timestamp of the first fragment (seconds since the epoch).

    Returns:
        The tracks' PCM and the fragments.
    """
    tracks = call_timeline(caller, replies, tail_ms=tail_ms)
    fragments = kvs_fragments(
        matroska_from_tracks(tracks, cluster_ms=cluster_ms),
        contact_id=contact_id,
        first_fragment=first_fragment,
        started_at=started_at,
    )
    return CallMedia(tracks, fragments)


# --- Matroska: a tiny EBML writer and walker -------------------------------------------------

EBML_HEADER, SEGMENT, INFO, TIMECODE_SCALE, DURATION = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x2AD7B1, 0x4489
TRACKS_ID, CLUSTER, CLUSTER_TIMECODE, SIMPLE_BLOCK = 0x1654AE6B, 0x1F43B675, 0xE7, 0xA3
TAGS, TAG, TARGETS, SIMPLE_TAG, TAG_NAME, TAG_STRING = 0x1254C367, 0x7373, 0x63C0, 0x67C8, 0x45A3, 0x4487
MUXING_APP, WRITING_APP = 0x4D80, 0x5741
UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"
# Real fragment numbers are 47-digit decimals that grow by 2**92 from one fragment to the next.
FRAGMENT_NUMBER_BASE = 91343852333181432397633822764885441725874549018
FRAGMENT_NUMBER_STEP = 2**92


def fragment_number(index: int) -> str:
    """The number of the ``index``-th fragment of the sim's streams."""
    return str(FRAGMENT_NUMBER_BASE + index * FRAGMENT_NUMBER_STEP)


def element(element_id: int, payload: bytes) -> bytes:
    """One EBML element: its id, its size (a minimal variable-size integer), its payload."""
    return _id_bytes(element_id) + size_vint(len(payload)) + payload


def size_vint(size: int) -> bytes:
    """``size`` as an EBML variable-size integer of the fewest bytes (all-ones is reserved)."""
    for length in range(1, 9):
        if size < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | size).to_bytes(length, "big")
    raise ValueError(f"size {size} does not fit an EBML integer")


def uint_element(element_id: int, value: int) -> bytes:
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def text_element(element_id: int, value: str) -> bytes:
    return element(element_id, value.encode())


def tags_element(tags: dict[str, str]) -> bytes:
    """A Tags element with one Tag (empty Targets: the whole segment) holding ``tags``."""
    simple = b"".join(
        element(SIMPLE_TAG, text_element(TAG_NAME, name) + text_element(TAG_STRING, value))
        for name, value in tags.items()
    )
    return element(TAGS, element(TAG, element(TARGETS, b"") + simple))


def _id_bytes(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


@dataclass(frozen=True)
class _Element:
    element_id: int
    start: int  # the header's first byte
    data_start: int
    end: int


def walk(data: bytes, start: int = 0, end: int | None = None) -> Iterator[_Element]:
    """The elements of a complete, known-size EBML buffer at one level."""
    end = len(data) if end is None else end
    at = start
    while at < end:
        id_length = 9 - data[at].bit_length()
        element_id = int.from_bytes(data[at : at + id_length], "big")
        size_length = 9 - data[at + id_length].bit_length()
        raw = int.from_bytes(data[at + id_length : at + id_length + size_length], "big")
        size = raw - (1 << (7 * size_length))
        data_start = at + id_length + size_length
        if size == (1 << (7 * size_length)) - 1:
            raise ValueError(f"element 0x{element_id:X} has an unknown size (write a file, not a pipe)")
        yield _Element(element_id, at, data_start, data_start + size)
        at = data_start + size


def kvs_fragments(
    matroska: bytes,
    *,
    contact_id: str = "00000000-0000-4000-8000-000000000000",
    first_fragment: int = 0,
    started_at: float = 1_700_000_000.0,
    server_delay_s: float = 0.4,
) -> tuple[Fragment, ...]:
    """Cut an ffmpeg Matroska file into KVS fragments, one per Cluster, as ``GetMedia`` sends them.

    Each becomes its own document: the file's EBML header, then a Segment of unknown size with
    Info (TimecodeScale), the file's Tracks, the fragment's tags, the Cluster as ffmpeg wrote it,
    and the tags that follow a Cluster in ``GetMedia`` output.
    """
    header = b""
    segment: _Element | None = None
    for top in walk(matroska):
        if top.element_id == EBML_HEADER:
            header = matroska[top.start : top.end]
        elif top.element_id == SEGMENT:
            segment = top
    if not header or segment is None:
        raise ValueError("not a Matroska file: no EBML header or Segment")
    scale, tracks, clusters = 1_000_000, b"", []
    for child in walk(matroska, segment.data_start, segment.end):
        if child.element_id == INFO:
            for item in walk(matroska, child.data_start, child.end):
                if item.element_id == TIMECODE_SCALE:
                    scale = int.from_bytes(matroska[item.data_start : item.end], "big")
        elif child.element_id == TRACKS_ID:
            tracks = matroska[child.start : child.end]
        elif child.element_id == CLUSTER:
            clusters.append(child)
    info = element(
        INFO,
        uint_element(TIMECODE_SCALE, scale) + text_element(MUXING_APP, "switchboard-sim")
        + text_element(WRITING_APP, "switchboard-sim"),
    )  # fmt: skip
    starts = [_cluster_timecode(matroska, cluster) * scale // 1_000_000 for cluster in clusters]
    fragments: list[Fragment] = []
    for index, cluster in enumerate(clusters):
        number = fragment_number(first_fragment + index)
        start_ms = starts[index]
        end_ms = starts[index + 1] if index + 1 < len(starts) else _cluster_end_ms(matroska, cluster, scale)
        producer = started_at + start_ms / 1000
        before = tags_element({
            "AWS_KINESISVIDEO_FRAGMENT_NUMBER": number,
            "AWS_KINESISVIDEO_SERVER_TIMESTAMP": f"{producer + server_delay_s:.3f}",
            "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP": f"{producer:.3f}",
            "ContactId": contact_id,
        })  # fmt: skip
        after = tags_element({
            "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW": str(max(0, (starts[-1] - start_ms))),
            "AWS_KINESISVIDEO_CONTINUATION_TOKEN": number,
        })  # fmt: skip
        body = info + tracks + before + matroska[cluster.start : cluster.end] + after
        data = header + _id_bytes(SEGMENT) + UNKNOWN_SIZE + body
        fragments.append(Fragment(number, data, start_ms, end_ms - start_ms))
    return tuple(fragments)


def _cluster_timecode(matroska: bytes, cluster: _Element) -> int:
    for item in walk(matroska, cluster.data_start, cluster.end):
        if item.element_id == CLUSTER_TIMECODE:
            return int.from_bytes(matroska[item.data_start : item.end], "big")
    raise ValueError("a Cluster without a Timecode")


def _cluster_end_ms(matroska: bytes, cluster: _Element, scale: int) -> int:
    """Where a cluster's audio ends: its last block's time plus that block's PCM length."""
    base = _cluster_timecode(matroska, cluster)
    end_ms = base * scale // 1_000_000
    for item in walk(matroska, cluster.data_start, cluster.end):
        if item.element_id == SIMPLE_BLOCK:
            track_length = 9 - matroska[item.data_start].bit_length()
            at = item.data_start + track_length
            relative = int.from_bytes(matroska[at : at + 2], "big", signed=True)
            pcm_bytes = item.end - (at + 3)
            end_ms = max(end_ms, int((base + relative) * scale / 1_000_000 + pcm_bytes / BYTES_PER_MS))
    return end_ms


# --- a local GetMedia ------------------------------------------------------------------------


@dataclass
class MediaServerStats:
    """What the server has answered (read by tests)."""

    data_endpoint_requests: int = 0
    get_media_requests: int = 0
    selectors: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0


class LocalKinesisVideoMedia:
    """``GetDataEndpoint`` and ``GetMedia`` on 127.0.0.1 for streams registered by ARN.

    Point a boto3 ``kinesisvideo`` client at ``endpoint_url``; ``GetDataEndpoint`` answers the
    same URL, where the ``kinesis-video-media`` client's ``GetMedia`` streams the fragments
    (``Transfer-Encoding: chunked``, as a live stream has no length).

    ``StartSelector``: ``EARLIEST``, or ``FRAGMENT_NUMBER`` which starts *with* the fragment
    named in ``AfterFragmentNumber`` (see ``chalicelib/adapters/speech/kvs_audio_source.py`` for
    why); an unknown fragment number gets the in-band error ``GetMedia`` reports (tags
    ``AWS_KINESISVIDEO_ERROR_CODE`` / ``_ERROR_ID`` 4000).

    Args:
        speed: None sends as fast as the socket takes it; 1.0 paces the body in real time (each
            piece sent when its audio would have been recorded), 10.0 ten times as fast.
        piece_bytes: the size of the body's HTTP chunks.
    """

    def __init__(self, *, speed: float | None = None, piece_bytes: int = 4096) -> None:
        self.speed = speed
        self.piece_bytes = piece_bytes
        self.stats = MediaServerStats()
        self.endpoint_url = ""
        self._streams: dict[str, CallMedia] = {}
        self._drops: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    def add_stream(self, stream_arn: str, media: CallMedia) -> None:
        """Serve ``media`` as the stream ``stream_arn``."""
        with self._lock:
            self._streams[stream_arn] = media

    def drop_next(self, stream_arn: str, after_bytes: int) -> None:
        """Cut the next ``GetMedia`` body of ``stream_arn`` after ``after_bytes`` bytes (a
        connection that drops: no end of the chunked body, the socket just closes)."""
        with self._lock:
            self._drops[stream_arn] = after_bytes

    def start(self) -> LocalKinesisVideoMedia:
        media = self

        class Handler(_MediaHandler):
            owner = media

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-kvs-media", daemon=True
        ).start()
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalKinesisVideoMedia:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _plan(self, body: dict[str, Any]) -> tuple[list[Fragment] | None, int | None, str]:
        """The fragments to send, the byte count to drop after, and an error code if any."""
        arn = str(body.get("StreamARN") or body.get("StreamName") or "")
        selector = body.get("StartSelector") or {}
        with self._lock:
            self.stats.get_media_requests += 1
            self.stats.selectors.append(dict(selector))
            media = self._streams.get(arn)
            drop = self._drops.pop(arn, None)
        if media is None:
            return None, None, "ResourceNotFoundException"
        fragments = list(media.fragments)
        kind = selector.get("StartSelectorType")
        if kind == "EARLIEST":
            return fragments, drop, ""
        if kind == "FRAGMENT_NUMBER":
            numbers = [fragment.number for fragment in fragments]
            wanted = selector.get("AfterFragmentNumber")
            if wanted not in numbers:
                return [], drop, "4000"
            return fragments[numbers.index(wanted) :], drop, ""
        return None, None, "InvalidArgumentException"


class _MediaHandler(BaseHTTPRequestHandler):
    owner: LocalKinesisVideoMedia
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:  # quiet: one line per request otherwise
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._error(400, "InvalidArgumentException", "the request body is not JSON")
            return
        if self.path == "/getDataEndpoint":
            self._data_endpoint(body)
        elif self.path == "/getMedia":
            self._get_media(body)
        else:
            self._error(404, "ResourceNotFoundException", f"no route {self.path}")

    def _data_endpoint(self, body: dict[str, Any]) -> None:
        owner = self.owner
        arn = str(body.get("StreamARN") or body.get("StreamName") or "")
        with owner._lock:
            owner.stats.data_endpoint_requests += 1
            known = arn in owner._streams
        if not known:
            self._error(404, "ResourceNotFoundException", f"stream {arn} not found")
            return
        if body.get("APIName") != "GET_MEDIA":
            self._error(400, "InvalidArgumentException", f"APIName {body.get('APIName')} is not served here")
            return
        self._json(200, {"DataEndpoint": owner.endpoint_url})

    def _get_media(self, body: dict[str, Any]) -> None:
        owner = self.owner
        fragments, drop_after, error = owner._plan(body)
        if fragments is None:
            status = 404 if error == "ResourceNotFoundException" else 400
            self._error(status, error, "stream not found" if status == 404 else "unsupported StartSelector")
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/webm")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if error:  # in-band, as GetMedia reports a fragment it cannot find
            self._send_chunk(_error_document(error, "Requested fragment is not found"))
            self._end_chunks()
            return
        sent = 0
        paced_from = time.monotonic()
        first_ms = fragments[0].start_ms if fragments else 0
        try:
            for fragment in fragments:
                for at in range(0, len(fragment.data), owner.piece_bytes):
                    piece = fragment.data[at : at + owner.piece_bytes]
                    if owner.speed:
                        # Each piece when its share of the fragment's audio has been recorded: Kinesis
                        # Video Streams makes incoming data available on GetMedia at once (the KVS FAQ,
                        # "How do I think about latency"), as the producer streams the fragment in.
                        share = (at + len(piece)) / len(fragment.data)
                        due = (
                            paced_from
                            + (fragment.start_ms + share * fragment.duration_ms - first_ms) / 1000 / owner.speed
                        )
                        if owner._stopping.wait(max(0.0, due - time.monotonic())):
                            return
                    if drop_after is not None and sent + len(piece) > drop_after:
                        self._send_chunk(piece[: drop_after - sent])
                        self._drop()
                        return
                    self._send_chunk(piece)
                    sent += len(piece)
            self._end_chunks()
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away: nothing to do

    def _send_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        with self.owner._lock:
            self.owner.stats.dropped += 1
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        data = json.dumps({"message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error_document(error_id: str, message: str) -> bytes:
    """The document ``GetMedia`` ends a response with when it fails: tags, no cluster."""
    tags = tags_element({"AWS_KINESISVIDEO_ERROR_CODE": message, "AWS_KINESISVIDEO_ERROR_ID": error_id})
    header = element(EBML_HEADER, text_element(0x4282, "matroska"))
    return header + _id_bytes(SEGMENT) + UNKNOWN_SIZE + tags


# --- helpers ---------------------------------------------------------------------------------


def _run(command: list[str], stdin: bytes | None = None) -> bytes:
    """Run one of the media tools and return its output; a missing tool says how to install it."""
    if shutil.which(command[0]) is None:
        raise FileNotFoundError(f"{command[0]} is not installed (apt-get install espeak-ng sox ffmpeg)")
    done = subprocess.run(command, input=stdin, capture_output=True, check=False, timeout=120)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` so a concurrent reader never sees half of it."""
    partial = path.with_name(f"{path.name}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


# --- the committed fixture -------------------------------------------------------------------

FIXTURE_CALLER = "I would like to check my balance"
FIXTURE_REPLY = "Sure, one moment"


def fixture_media(cache_dir: Path = AUDIO_CACHE) -> tuple[CallMedia, SpokenText, SpokenText]:
    """The committed fixture's call: the caller speaks at 100 ms and the reply starts 300 ms
    before the caller ends (a barge-in), so both tracks carry speech in one fragment."""
    caller = synthesize_turn(FIXTURE_CALLER, cache_dir=cache_dir)
    reply = synthesize_turn(FIXTURE_REPLY, cache_dir=cache_dir)
    media = call_media([(100, caller.pcm)], [(int(caller.duration_ms) - 200, reply.pcm)], tail_ms=200)
    return media, caller, reply


def write_fixture(stem: Path) -> dict[str, Any]:
    """Write ``<stem>.mkv`` (a ``GetMedia`` body) and ``<stem>.json`` (what it holds).

    Run: ``python -m sim.media events/kvs/getmedia-call``.
    """
    media, caller, reply = fixture_media()
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".mkv").write_bytes(media.body)
    expected = {
        "made_by": f"python -m sim.media {stem}",
        "tools": tool_versions(),
        "fragments": [
            {"number": f.number, "start_ms": f.start_ms, "duration_ms": f.duration_ms, "bytes": len(f.data)}
            for f in media.fragments
        ],
        "tracks": {
            track: {"bytes": len(pcm), "sha256": hashlib.sha256(pcm).hexdigest()} for track, pcm in media.tracks.items()
        },
        "words": {"AUDIO_FROM_CUSTOMER": caller.words, "AUDIO_TO_CUSTOMER": reply.words},
    }
    stem.with_suffix(".json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


if __name__ == "__main__":
    import sys

    written = write_fixture(Path(sys.argv[1] if len(sys.argv) > 1 else "events/kvs/getmedia-call"))
    print(json.dumps({"fragments": len(written["fragments"]), "tracks": written["tracks"]}, indent=2))
