"""A local Kinesis Video Streams ``GetMedia``: ``POST /getDataEndpoint`` and ``POST /getMedia``
on 127.0.0.1 as botocore's ``kinesisvideo`` and ``kinesis-video-media`` clients call them, with
optional real-time pacing and a switch that cuts the body mid-fragment (a dropped connection).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.adapters.speech.mkv import DOC_TYPE, EBML_HEADER, SEGMENT
from sim.kvs_fragments import Fragment
from sim.matroska import UNKNOWN_SIZE, element, id_bytes, tags_element, text_element
from sim.media import CallMedia


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
    header = element(EBML_HEADER, text_element(DOC_TYPE, "matroska"))
    return header + id_bytes(SEGMENT) + UNKNOWN_SIZE + tags
