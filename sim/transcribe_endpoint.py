"""A local Amazon Transcribe streaming endpoint on 127.0.0.1 that the real ``amazon-transcribe``
client talks to.

A fake recogniser, and labelled as one: it does not listen to the audio. Each stream is given a
script (what is said on the track and when: utterances of ``(word, start_ms, end_ms)`` in the
stream's audio time) and answers as the audio it has *received* passes the script's times
(audio time = bytes received / 16 bytes per ms of 8 kHz 16-bit PCM):

* when the audio passes a word's end: a partial result for its utterance so far (one
  ``ResultId`` per utterance, cumulative; with partial-results stabilization on, every word but
  the last two is ``Stable``);
* when the audio passes the utterance's last word + ``endpointing_delay_ms``: the final result
  (``IsPartial`` false); at the end of the audio, every utterance with words heard is finalized.

Wire format, as the service speaks it: HTTP/2 over TLS (ALPN ``h2``; the SDK's awscrt transport
speaks nothing else), ``POST /stream-transcription`` with the ``x-amzn-transcribe-*`` headers, a
request body of AWS event-stream messages (each a signed envelope around an ``AudioEvent``; an
empty envelope ends the audio), and a response body of ``TranscriptEvent`` messages (or one
exception message). Event-stream framing is ``amazon_transcribe.eventstream``'s own encoder and
decoder. SigV4 is not checked, but the ``Authorization`` header must be there.

The language code must be one Transcribe streaming takes (``chalicelib/data/transcribe_languages.json``:
``en-US``, ``es-US``, ``fr-CA``, ...); another is a ``BadRequestException``, as the service answers.

PII identification and redaction are accepted as the service takes them: ``content-identification-type``
or ``content-redaction-type`` ``PII`` (not both), ``pii-entity-types`` only with one of them and
only of the known types, and only for a language the service identifies PII in (otherwise a
``BadRequestException``, as the service answers); the response echoes them. The fake recogniser
labels nothing (it does not know what PII is): its results carry no ``Entities`` and its text is
the script's.

TLS: a CA and a server certificate for 127.0.0.1 are made at start (``cryptography``, EC P-256)
in a temporary directory; ``ca_file`` is the CA a client must trust.

Scripts attach to streams in order: ``script()`` queues them and each new stream takes the next
one (a stream with none queued hears nothing and is counted as ``unscripted``). Streams started
at once cannot be told apart by their order (the SDK opens a connection per stream and the first
TLS handshake done wins): ``script_by_sound()`` queues a choice instead, made by the stream when
its audio is first not silence, from that audio time and the audio heard so far (``sim stream``
finds it on the call's tracks: which track, and where on the media the stream began). Faults are
scripted per stream: ``drop_after_ms`` closes the whole connection (no HTTP/2 GOAWAY, no end of
stream) once that much audio has arrived; ``error_after_ms`` answers an exception message
(``error_type``, e.g. ``BadRequestException``) and ends the stream. Both are counted in ``stats``.

Example::

    with LocalTranscribeStreaming() as endpoint:
        endpoint.script(StreamScript(utterances=((("hello", 200, 500), ("there", 550, 900)),)))
        stt = TranscribeStreamingSpeechToText("us-east-1", endpoint_url=endpoint.url, ca_file=endpoint.ca_file, ...)
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import ipaddress
import json
import ssl
import tempfile
import threading
import uuid
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from amazon_transcribe.eventstream import EventStreamBuffer, EventStreamMessageSerializer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chalicelib.adapters.data_files import load_streaming_languages
from chalicelib.adapters.speech.transcribe_streaming import PII_ENTITY_TYPES, PII_LANGUAGES

Word = tuple[str, int, int]  # (word, start_ms, end_ms) in the stream's audio time
BYTES_PER_MS = 16  # 8 kHz x 16-bit mono
PATH = "/stream-transcription"
START_TIMEOUT_S = 5.0
SOUND_THRESHOLD = 200  # |sample| at or above this is sound (of 32767), for script_by_sound


@dataclass(frozen=True)
class StreamScript:
    """What one stream hears, and how it fails.

    Args:
        utterances: each a sequence of ``(word, start_ms, end_ms)``, in time order.
        drop_after_ms: close the connection once this much audio has arrived.
        error_after_ms: answer ``error_type`` (an exception message) once this much audio has
            arrived (0: at the first audio event), and end the stream.
        error_type: the exception's type, as the service names it (``BadRequestException``,
            ``LimitExceededException``, ``InternalFailureException``,
            ``ServiceUnavailableException``, ``ConflictException``).
    """

    utterances: tuple[tuple[Word, ...], ...] = ()
    drop_after_ms: int | None = None
    error_after_ms: int | None = None
    error_type: str = "ServiceUnavailableException"

    @classmethod
    def of(cls, *utterances: Sequence[Word], **faults: Any) -> StreamScript:
        return cls(tuple(tuple(u) for u in utterances), **faults)

    def after(self, ms: int) -> StreamScript:
        """The same speech heard by a stream started ``ms`` into this one's audio: the words
        that end after ``ms``, shifted to the new stream's time (faults are not carried over)."""
        rest = []
        for utterance in self.utterances:
            words = tuple((w, max(0, s - ms), e - ms) for w, s, e in utterance if e > ms)
            if words:
                rest.append(words)
        return StreamScript(tuple(rest))


@dataclass(frozen=True)
class ScriptBySound:
    """A script chosen by the stream itself: ``pick`` gets the audio time (ms) of the first
    sample that is not silence and the stream's audio through it (from its start), and returns
    the stream's script (in the stream's own audio time: a stream may open mid-call)."""

    pick: Callable[[float, bytes], StreamScript]


@dataclass
class TranscribeEndpointStats:
    streams: int = 0
    unscripted: int = 0
    rejected: int = 0  # requests refused before streaming (no Authorization, bad path, ...)
    audio_events: int = 0
    audio_bytes: int = 0
    partials: int = 0
    finals: int = 0
    audio_ends: int = 0  # streams whose audio the client ended (the empty envelope)
    drops: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "errors": dict(self.errors)}


class LocalTranscribeStreaming:
    """Serve Transcribe streaming over HTTP/2 + TLS on 127.0.0.1 (a port chosen by the system).

    Args:
        endpointing_delay_ms: audio past an utterance's last word before its final result.
        stable_tail_words: with stabilization on, how many trailing words of a partial are not
            yet stable.
    """

    def __init__(self, *, endpointing_delay_ms: int = 600, stable_tail_words: int = 2) -> None:
        self.endpointing_delay_ms = endpointing_delay_ms
        self.stable_tail_words = stable_tail_words
        self.stats = TranscribeEndpointStats()
        self.requests: list[dict[str, str]] = []  # each stream's x-amzn-transcribe-* headers
        self.url = ""
        self.ca_file = ""
        self._scripts: deque[StreamScript | ScriptBySound] = deque()
        self._lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._started = threading.Event()
        self._start_error: BaseException | None = None

    # --- scripts and counters (any thread) -------------------------------------------------------

    def script(self, *scripts: StreamScript) -> None:
        """Queue scripts; each new stream takes the next one, in order."""
        with self._lock:
            self._scripts.extend(scripts)

    def script_by_sound(self, *choices: ScriptBySound) -> None:
        """Queue choices of script, taken by new streams in order like scripts; each stream picks
        its script when it first hears sound."""
        with self._lock:
            self._scripts.extend(choices)

    def clear_scripts(self) -> int:
        """Drop the scripts and choices no stream took (a stream that never opened); how many."""
        with self._lock:
            dropped = len(self._scripts)
            self._scripts.clear()
            return dropped

    def pending_scripts(self) -> int:
        with self._lock:
            return len(self._scripts)

    def _next_script(self, headers: dict[str, str]) -> StreamScript | ScriptBySound:
        with self._lock:
            self.requests.append({k: v for k, v in headers.items() if k.startswith("x-amzn-transcribe-")})
            self.stats.streams += 1
            if self._scripts:
                return self._scripts.popleft()
            self.stats.unscripted += 1
            return StreamScript()

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + n)

    def _count_error(self, error_type: str) -> None:
        with self._lock:
            self.stats.errors[error_type] = self.stats.errors.get(error_type, 0) + 1

    # --- life cycle --------------------------------------------------------------------------------

    def start(self) -> LocalTranscribeStreaming:
        self._tmp = tempfile.TemporaryDirectory(prefix="transcribe-endpoint-")
        ca_file, cert_file, key_file = _write_certificates(Path(self._tmp.name))
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(cert_file, key_file)
        tls.set_alpn_protocols(["h2"])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(tls,), name="transcribe-endpoint", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S) or self._server is None:
            self.stop()
            raise RuntimeError("the local Transcribe endpoint did not start") from self._start_error
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"
        self.ca_file = str(ca_file)
        return self

    def _serve(self, tls: ssl.SSLContext) -> None:
        loop = self._loop
        if loop is None:
            return
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: _Connection(self), "127.0.0.1", 0, ssl=tls)
            )
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises
            self._start_error = exc
        self._started.set()
        try:
            if self._server is not None:
                loop.run_forever()
                self._server.close()
                for connection in list(self._connections):
                    connection.abort()
                loop.run_until_complete(self._server.wait_closed())
                # TLS handshakes still in progress are tasks of the loop: end them too.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(asyncio.sleep(0.01))  # let connection_lost callbacks run
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def stop(self) -> None:
        if self._thread is not None and self._loop is not None:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_S)
        self._thread = None
        self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalTranscribeStreaming:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- one HTTP/2 connection -------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    def __init__(self, endpoint: LocalTranscribeStreaming) -> None:
        self.endpoint = endpoint
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.outbox: dict[int, bytearray] = {}  # response bytes waiting for flow-control window
        self.closing_after: set[int] = set()
        self.dropped = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream server's
        self.endpoint._connections.add(self)
        self.h2.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint._connections.discard(self)
        self.streams.clear()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def drop(self) -> None:
        """Close the connection with no GOAWAY and no end of stream: a network failure as the
        client sees it (what was already written goes out first)."""
        if not self.dropped and self.transport is not None:
            self.dropped = True
            self.endpoint._count("drops")
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.dropped:
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self.abort()
            return
        for event in events:
            if self.dropped:
                return
            if isinstance(event, h2.events.RequestReceived):
                self._on_request(event.stream_id, dict(event.headers))
            elif isinstance(event, h2.events.DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.on_body(event.data)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.on_audio_end()
            elif isinstance(event, h2.events.StreamReset):
                self.streams.pop(event.stream_id, None)
                self.outbox.pop(event.stream_id, None)
            elif isinstance(event, h2.events.WindowUpdated):
                self._send_pending()
        self._flush()

    # --- requests --------------------------------------------------------------------------------

    def _on_request(self, stream_id: int, headers: dict[str, str]) -> None:
        if headers.get(":method") != "POST" or headers.get(":path") != PATH:
            self._refuse(stream_id, 404, "UnknownOperationException", "unknown operation")
            return
        if not headers.get("authorization"):
            self._refuse(stream_id, 403, "MissingAuthenticationTokenException", "missing Authorization")
            return
        language = headers.get("x-amzn-transcribe-language-code", "")
        rate = headers.get("x-amzn-transcribe-sample-rate", "")
        encoding = headers.get("x-amzn-transcribe-media-encoding", "")
        if not language or not rate.isdigit() or encoding not in ("pcm", "flac", "ogg-opus"):
            self._refuse(stream_id, 400, "BadRequestException", "language code, sample rate and media encoding needed")
            return
        if language not in _streaming_languages():
            self._refuse(stream_id, 400, "BadRequestException", f"language code {language[:16]!r} is not supported")
            return
        refused = _pii_refusal(headers, language)
        if refused:
            self._refuse(stream_id, 400, "BadRequestException", refused)
            return
        stabilized = headers.get("x-amzn-transcribe-enable-partial-results-stabilization", "").lower() == "true"
        script = self.endpoint._next_script(headers)
        self.streams[stream_id] = _Stream(self, stream_id, script, stabilized)
        session_id = headers.get("x-amzn-transcribe-session-id") or str(uuid.uuid4())
        response = [
            (":status", "200"),
            ("content-type", "application/vnd.amazon.eventstream"),
            ("x-amzn-request-id", str(uuid.uuid4())),
            ("x-amzn-transcribe-session-id", session_id),
            ("x-amzn-transcribe-language-code", language),
            ("x-amzn-transcribe-sample-rate", rate),
            ("x-amzn-transcribe-media-encoding", encoding),
        ]
        if stabilized:
            response.append(("x-amzn-transcribe-enable-partial-results-stabilization", "true"))
            stability = headers.get("x-amzn-transcribe-partial-results-stability", "high")
            response.append(("x-amzn-transcribe-partial-results-stability", stability))
        response += [(name, headers[name]) for name in _PII_HEADERS if name in headers]
        self.h2.send_headers(stream_id, response)

    def _refuse(self, stream_id: int, status: int, error_type: str, message: str) -> None:
        self.endpoint._count("rejected")
        body = json.dumps({"Message": message}).encode()
        self.h2.send_headers(
            stream_id,
            [
                (":status", str(status)),
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amzn-errortype", f"{error_type}:"),
                ("content-length", str(len(body))),
            ],
        )
        self.send(stream_id, body, end_stream=True)

    # --- responses, within the peer's flow-control window ----------------------------------------

    def send(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        self.outbox.setdefault(stream_id, bytearray()).extend(data)
        if end_stream:
            self.closing_after.add(stream_id)
        self._send_pending()

    def _send_pending(self) -> None:
        for stream_id in list(self.outbox):
            pending = self.outbox[stream_id]
            try:
                while pending:
                    size = min(
                        len(pending), self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size
                    )
                    if size <= 0:
                        break
                    self.h2.send_data(stream_id, bytes(pending[:size]))
                    del pending[:size]
                if not pending:
                    del self.outbox[stream_id]
                    if stream_id in self.closing_after:
                        self.closing_after.discard(stream_id)
                        self.h2.end_stream(stream_id)
                        self.streams.pop(stream_id, None)
            except h2.exceptions.StreamClosedError:
                self.outbox.pop(stream_id, None)
                self.closing_after.discard(stream_id)
                self.streams.pop(stream_id, None)

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


_IDENTIFY, _REDACT = "x-amzn-transcribe-content-identification-type", "x-amzn-transcribe-content-redaction-type"
_ENTITY_TYPES = "x-amzn-transcribe-pii-entity-types"
_PII_HEADERS = (_IDENTIFY, _REDACT, _ENTITY_TYPES)


@functools.cache
def _streaming_languages() -> frozenset[str]:
    return load_streaming_languages()


def _pii_refusal(headers: dict[str, str], language: str) -> str:
    """Why the service would refuse the stream's PII options ('' when it takes them)."""
    identify, redact, types = headers.get(_IDENTIFY), headers.get(_REDACT), headers.get(_ENTITY_TYPES)
    if identify is not None and redact is not None:
        return "content identification and content redaction cannot be set together"
    if any(value is not None and value != "PII" for value in (identify, redact)):
        return "content identification and redaction take PII only"
    if types is not None and identify is None and redact is None:
        return "pii entity types need content identification or content redaction"
    if types is not None and (unknown := set(types.split(",")) - PII_ENTITY_TYPES):
        return f"unknown pii entity types {sorted(unknown)}"
    if (identify or redact) and language not in PII_LANGUAGES:
        return f"PII identification and redaction are not supported for {language}"
    return ""


# --- one transcription stream: the fake recogniser ------------------------------------------------


_SERIALIZER = EventStreamMessageSerializer()


class _Stream:
    def __init__(
        self, connection: _Connection, stream_id: int, script: StreamScript | ScriptBySound, stabilized: bool
    ) -> None:
        self.connection = connection
        self.endpoint = connection.endpoint
        self.stream_id = stream_id
        self.stabilized = stabilized
        self.envelopes = EventStreamBuffer()
        self.received_bytes = 0
        self.done = False
        self.pick = script.pick if isinstance(script, ScriptBySound) else None
        self.before_sound = bytearray()  # the audio until the first sound, for ``pick``
        self._use(script if isinstance(script, StreamScript) else StreamScript())

    def _use(self, script: StreamScript) -> None:
        self.script = script
        self.heard = [0] * len(script.utterances)  # words of each utterance already reported
        self.finalized = [False] * len(script.utterances)
        self.result_ids = [str(uuid.uuid4()) for _ in script.utterances]

    @property
    def audio_ms(self) -> float:
        return self.received_bytes / BYTES_PER_MS

    def on_body(self, data: bytes) -> None:
        if self.done:
            return
        self.envelopes.add_data(data)
        for envelope in self.envelopes:  # signed envelope: headers :date, :chunk-signature
            if not envelope.payload:  # the empty envelope ends the audio
                self.on_audio_end()
                return
            inner = EventStreamBuffer()
            inner.add_data(envelope.payload)
            for message in inner:
                if message.headers.get(":event-type") == "AudioEvent":
                    self.on_audio(message.payload)
                if self.done or self.connection.dropped:
                    return

    def on_audio(self, pcm: bytes) -> None:
        self.endpoint._count("audio_events")
        self.endpoint._count("audio_bytes", len(pcm))
        if self.pick is not None:
            sound_ms = _first_sound_ms(pcm)
            self.before_sound.extend(pcm)
            if sound_ms is not None:
                self._use(self.pick(self.audio_ms + sound_ms, bytes(self.before_sound)))
                self.pick, self.before_sound = None, bytearray()
        self.received_bytes += len(pcm)
        script = self.script
        if script.error_after_ms is not None and self.audio_ms >= script.error_after_ms:
            self._recognise(min(self.audio_ms, script.error_after_ms), final_pending=False)
            self._fail(script.error_type)
            return
        if script.drop_after_ms is not None and self.audio_ms >= script.drop_after_ms:
            self._recognise(script.drop_after_ms, final_pending=False)
            self.connection._flush()
            self.connection.drop()
            return
        self._recognise(self.audio_ms, final_pending=False)

    def on_audio_end(self) -> None:
        if self.done:
            return
        self._recognise(self.audio_ms, final_pending=True)
        self.done = True
        self.endpoint._count("audio_ends")
        self.connection.send(self.stream_id, b"", end_stream=True)

    def _recognise(self, audio_ms: float, *, final_pending: bool) -> None:
        """Report what the script says was heard by ``audio_ms``; with ``final_pending`` (the
        audio ended) finalize every utterance that has words heard."""
        for index, utterance in enumerate(self.script.utterances):
            if self.finalized[index]:
                continue
            while self.heard[index] < len(utterance) and utterance[self.heard[index]][2] <= audio_ms:
                self.heard[index] += 1
                self._send_result(index, partial=True)
            complete = self.heard[index] == len(utterance)
            endpointed = complete and audio_ms >= utterance[-1][2] + self.endpoint.endpointing_delay_ms
            if self.heard[index] and (endpointed or final_pending):
                self.finalized[index] = True
                self._send_result(index, partial=False)

    def _send_result(self, index: int, *, partial: bool) -> None:
        words = self.script.utterances[index][: self.heard[index]]
        unstable_from = len(words) - self.endpoint.stable_tail_words if partial else len(words)
        items = []
        for position, (word, start_ms, end_ms) in enumerate(words):
            item: dict[str, Any] = {
                "Content": word,
                "StartTime": start_ms / 1000,
                "EndTime": end_ms / 1000,
                "Type": "pronunciation",
                "VocabularyFilterMatch": False,
            }
            if self.stabilized:
                item["Stable"] = position < unstable_from
            items.append(item)
        result = {
            "ResultId": self.result_ids[index],
            "StartTime": words[0][1] / 1000,
            "EndTime": words[-1][2] / 1000,
            "IsPartial": partial,
            "ChannelId": "ch_0",
            "Alternatives": [{"Transcript": " ".join(w for w, _, _ in words), "Items": items}],
        }
        payload = json.dumps({"Transcript": {"Results": [result]}}).encode()
        headers = {":message-type": "event", ":event-type": "TranscriptEvent", ":content-type": "application/json"}
        self.connection.send(self.stream_id, _SERIALIZER.serialize(headers, payload))
        self.endpoint._count("partials" if partial else "finals")

    def _fail(self, error_type: str) -> None:
        self.done = True
        self.endpoint._count_error(error_type)
        headers = {":message-type": "exception", ":exception-type": error_type, ":content-type": "application/json"}
        payload = json.dumps({"Message": f"scripted {error_type}"}).encode()
        self.connection.send(self.stream_id, _SERIALIZER.serialize(headers, payload), end_stream=True)


def _first_sound_ms(pcm: bytes) -> float | None:
    """Where in ``pcm`` (16-bit little-endian mono, 8 kHz) the first sample that is not silence
    is, in ms; None when it is all silence."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    for index, sample in enumerate(samples):
        if abs(sample) >= SOUND_THRESHOLD:
            return index * 2 / BYTES_PER_MS
    return None


# --- certificates ----------------------------------------------------------------------------------


def _write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Switchboard sim test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file
