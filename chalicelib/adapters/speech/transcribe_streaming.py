"""``SpeechToText`` over Amazon Transcribe streaming, with the ``amazon-transcribe`` SDK.

One call to ``transcribe`` is one ``StartStreamTranscription`` stream (8 kHz PCM, partial-results
stabilization "high"): the track's audio goes up as ``AudioEvent``s while ``TranscriptEvent``
results come down, each turned into a ``TranscriptResult`` (``stable_text`` is the run of leading
items the service marked ``Stable``). Audio is sent as it comes: the caller feeds it in real time
(live KVS media does; the SDK warns that faster-than-real-time audio longer than five minutes
breaks event signing).

The SDK is imported on first use, not at module import: it pulls in awscrt's native library and
only the transcriber needs it.

Errors: every SDK, awscrt and transport failure (``BadRequestException``,
``LimitExceededException``, ``InternalFailureException``, ``ServiceUnavailableException``,
``ConflictException``, ``HTTPException``, a refused, reset or dropped connection, a TLS failure,
a malformed event stream, the start timeout) becomes ``SpeechToTextUnavailableError``, in one
place (``_service_errors``). Errors of the *audio* iterable (the media source's own) pass through
unchanged. A cut stream needs care: the SDK's response reader ends the result stream silently
when the HTTP/2 stream fails (its pending reads resolve to ``b""``), so after the last event the
adapter awaits the response's completion (the awscrt stream's future, reached through the output
stream's ``_raw_stream``: a private attribute, read only) and also refuses an end of results
that comes before the audio was all sent.

Timeouts: starting a stream is bounded by ``start_timeout_s``. It matters beyond a dead host: a
failed TLS handshake (an untrusted certificate) takes awscrt 10-30 s to report (s2n's blinding
delay; ~20 s measured on loopback). When the timeout cuts a start, awscrt's connect callback
later finds its future cancelled and logs an ``InvalidStateError`` as an unraisable exception:
noise from the SDK's plumbing, not a failure.

TLS trust (``ca_file``): the SDK's ``AwsCrtHttpSessionManager`` builds its TLS context from a
default ``TlsContextOptions()`` and ``TranscribeStreamingClient`` takes no session manager or
TLS option. With a ``ca_file``, the adapter gives the client its own session manager: the SDK's
class, subclassed only to build the TLS context with awscrt's documented
``TlsContextOptions.override_default_trust_store_from_path`` (trust that CA only), set on the one
client instance this adapter owns (the private names ``client._session_manager`` and the
manager's ``_tls_ctx``, both set only with ``ca_file``); nothing in the SDK's modules or classes
changes, and without ``ca_file`` the SDK's own session manager is used untouched.
The alternative, ``SSL_CERT_FILE=<ca>`` in the environment, works too (awscrt's TLS library
honours it, checked with awscrt 0.26.1) and needs no code, but it is process-wide: Python's own
``ssl`` default contexts then trust that file instead of the system store. ``ca_file`` is for the
local endpoint of ``sim/transcribe_endpoint.py`` (or a private endpoint with its own CA).

PII identification (an option, off by default): with ``pii_identification`` the stream asks
Transcribe to identify PII (``content_identification_type="PII"``, and ``pii_entity_types`` when
a subset is wanted; the SDK joins them as the ``x-amzn-transcribe-pii-entity-types`` header, and
without it Transcribe identifies ``ALL``). Transcribe then labels what it found in each final
result's ``Entities``; it changes no text, and only finals carry them ("performed only upon
complete transcription of the audio segments"). It is a label, not a protection: our redactor
(``domain/redaction.py``), run on every result before it is kept, is what protects the model and
the table. Identification and redaction are supported for some languages only
(``PII_LANGUAGES``, from docs.aws.amazon.com/transcribe/latest/dg/pii-redaction-stream.html);
for any other the stream is started without it, since Transcribe would refuse the stream: the
language is the call's, so a stage that turns it on may still stream a call in such a language,
and logs ``pii_language_unsupported`` for it.

The request body: the SDK's own spins awscrt's event-loop thread between pieces of audio (a
core per stream); each client this adapter makes builds its requests with
``audio_body.WaitingAudioBody`` instead, which waits for audio (``audio_body`` says why and how).

Replacement: ``amazon-transcribe`` is deprecated upstream in favour of
``aws-sdk-transcribe-streaming``, which needs Python 3.12; when the runtime moves, this module is
the one thing to replace (the port and its contract tests stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.speech.audio_body import waiting_body_serializer
from chalicelib.domain.speech import SAMPLE_RATE_HZ, Track, TranscriptResult
from chalicelib.errors import ConfigurationInvalidError, SpeechToTextUnavailableError
from chalicelib.observability import logger

MAX_AUDIO_EVENT_BYTES = 32 * 1024  # the service's limit per AudioEvent
DEFAULT_START_TIMEOUT_S = 3.0
DEFAULT_CLOSE_TIMEOUT_S = 2.0
# Streaming PII identification: the languages and the entity types Transcribe supports for it.
PII_LANGUAGES = frozenset({
    "en-AB", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN", "en-NZ", "en-US", "en-WL", "en-ZA",
    "es-US", "es-ES", "fr-FR", "fr-CA", "pt-PT", "pt-BR", "it-IT", "de-DE", "de-CH",
})  # fmt: skip
PII_ENTITY_TYPES = frozenset({
    "ADDRESS", "BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "CREDIT_DEBIT_CVV", "CREDIT_DEBIT_EXPIRY",
    "CREDIT_DEBIT_NUMBER", "EMAIL", "NAME", "PHONE", "PIN", "SSN", "ALL",
})  # fmt: skip


@dataclass(frozen=True)
class AwsCredentials:
    """Static AWS credentials (otherwise awscrt's default chain resolves them)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


class TranscribeStreamingSpeechToText:
    """Amazon Transcribe streaming for one track at a time (many streams may run at once).

    Args:
        region: the AWS region of the service (and of the request signature).
        endpoint_url: an ``https://`` endpoint to use instead of the region's (the local
            endpoint in tests); it must speak HTTP/2 over TLS.
        credentials: static credentials; by default awscrt's chain (environment, profile,
            container/instance role).
        ca_file: a PEM file of the CA to trust for ``endpoint_url`` instead of the system's store.
        start_timeout_s: how long starting a stream (connect, TLS, HTTP/2, response headers)
            may take.
        close_timeout_s: how long, after the last result, to wait for the stream to complete.
        pii_identification: ask Transcribe to identify PII in its results (see the module doc).
        pii_entity_types: the types to identify (``PII_ENTITY_TYPES``); empty: all of them.

    Raises:
        ConfigurationInvalidError: a PII entity type Transcribe does not know.
    """

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        credentials: AwsCredentials | None = None,
        ca_file: str | None = None,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S,
        pii_identification: bool = False,
        pii_entity_types: tuple[str, ...] = (),
    ) -> None:
        if unknown := sorted(set(pii_entity_types) - PII_ENTITY_TYPES):
            raise ConfigurationInvalidError(f"Transcribe PII entity types unknown: {', '.join(unknown)}")
        self._pii_identification = pii_identification
        self._pii_entity_types = pii_entity_types
        self._region = region
        self._endpoint_url = endpoint_url
        self._credentials = credentials
        self._ca_file = ca_file
        self._start_timeout_s = start_timeout_s
        self._close_timeout_s = close_timeout_s
        self._client: Any = None

    async def transcribe(
        self, track: Track, audio: AsyncIterable[bytes], language: str
    ) -> AsyncIterator[TranscriptResult]:
        """Results for ``audio`` (8 kHz 16-bit PCM) as they come, partials then the final.

        Raises:
            SpeechToTextUnavailableError: the service failed, refused or dropped the stream.
        """
        from amazon_transcribe.model import TranscriptEvent  # noqa: PLC0415 - lazy: the SDK loads awscrt

        with _service_errors():
            client = self._get_client()
            sdk_stream = await asyncio.wait_for(
                client.start_stream_transcription(
                    language_code=language,
                    media_sample_rate_hz=SAMPLE_RATE_HZ,
                    media_encoding="pcm",
                    enable_partial_results_stabilization=True,
                    partial_results_stability="high",
                    **self._pii_options(language),
                ),
                self._start_timeout_s,
            )
        stream = _OpenStream(sdk_stream, audio, track, self._close_timeout_s)
        try:
            while (event := await stream.next_event()) is not None:
                if isinstance(event, TranscriptEvent):
                    for result in event.transcript.results:
                        yield _transcript_result(track, result)
            await stream.check_completed()
        finally:
            await stream.close()

    def _pii_options(self, language: str) -> dict[str, Any]:
        """The stream's PII identification parameters: none when off or for a language
        Transcribe does not identify PII in."""
        if not self._pii_identification:
            return {}
        if language not in PII_LANGUAGES:
            logger.info("transcribe pii identification skipped", extra={"reason": "pii_language_unsupported",
                                                                        "language": language})  # fmt: skip
            return {}
        options: dict[str, Any] = {"content_identification_type": "PII"}
        if self._pii_entity_types:
            options["pii_entity_types"] = list(self._pii_entity_types)
        return options

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = _new_client(self._region, self._endpoint_url, self._credentials, self._ca_file)
        return self._client


class _OpenStream:
    """One started SDK stream: audio going up (a task), events coming down."""

    def __init__(self, sdk_stream: Any, audio: AsyncIterable[bytes], track: Track, close_timeout_s: float) -> None:
        self._sdk_stream = sdk_stream
        self._close_timeout_s = close_timeout_s
        self._feeder = asyncio.create_task(_feed(sdk_stream.input_stream, audio), name=f"transcribe-audio-{track}")
        self._events = aiter(sdk_stream.output_stream)
        self._pending: asyncio.Future[Any] | None = None

    async def next_event(self) -> Any:
        """The next event, or None at the end of the results. Raises the audio's own error if
        the audio fails first."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(anext(self._events, None))
        pending, feeder = self._pending, self._feeder
        while not pending.done():
            await asyncio.wait({pending} if feeder.done() else {pending, feeder}, return_when=asyncio.FIRST_COMPLETED)
            if feeder.done() and not feeder.cancelled() and (error := feeder.exception()) is not None:
                raise error  # the audio source's own error (or a send error, already mapped)
        self._pending = None
        with _service_errors():
            return pending.result()

    async def check_completed(self) -> None:
        """After the last event: raise if the stream was cut rather than completed."""
        audio_sent = self._feeder.done()
        with _service_errors():
            # The SDK ends the results silently on a cut HTTP/2 stream: its completion says.
            completion = getattr(self._sdk_stream.output_stream, "_raw_stream", None)
            if completion is not None:
                await asyncio.wait_for(completion.done, self._close_timeout_s)
        if not audio_sent:
            raise SpeechToTextUnavailableError("the results ended before the audio did")

    async def close(self) -> None:
        feeder = self._feeder
        if not feeder.done():
            feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        if feeder.cancelled() or feeder.exception() is not None:
            # Ends our side so the service closes the stream instead of waiting for audio.
            with contextlib.suppress(Exception):
                await self._sdk_stream.input_stream.end_stream()
        if self._pending is not None and not self._pending.done():
            # Drained rather than cancelled: the SDK's response reader sets a result on a read it
            # handed out when the stream completes, and fails if that read was cancelled.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(self._pending), self._close_timeout_s)

    async def _drain(self, pending: asyncio.Future[Any]) -> None:
        event = await pending
        while event is not None:
            event = await anext(self._events, None)


async def _feed(input_stream: Any, audio: AsyncIterable[bytes]) -> bool:
    """Send ``audio`` as ``AudioEvent``s (at most 32 KB each), then end the stream. Returns True
    once the end was sent."""
    async for pcm in audio:
        for offset in range(0, len(pcm), MAX_AUDIO_EVENT_BYTES):
            with _service_errors():
                await input_stream.send_audio_event(audio_chunk=pcm[offset : offset + MAX_AUDIO_EVENT_BYTES])
        await asyncio.sleep(0)  # sending never blocks (the SDK buffers): let results through
    with _service_errors():
        await input_stream.end_stream()
    return True


def _transcript_result(track: Track, result: Any) -> TranscriptResult:
    alternative = result.alternatives[0] if result.alternatives else None
    items = (alternative.items or []) if alternative is not None else []
    stable: list[Any] = []
    for item in items:
        if not item.stable:
            break
        stable.append(item)
    return TranscriptResult(
        result_id=result.result_id,
        track=track,
        text=(alternative.transcript or "") if alternative is not None else "",
        is_partial=bool(result.is_partial),
        start_ms=round((result.start_time or 0.0) * 1000),
        end_ms=round((result.end_time or 0.0) * 1000),
        stable_text=_join_items(stable),
    )


def _join_items(items: list[Any]) -> str:
    """Items as the service writes them in a transcript: words apart, punctuation attached."""
    text = ""
    for item in items:
        content = item.content or ""
        if item.item_type == "punctuation" or not text:
            text += content
        else:
            text += " " + content
    return text


def _new_client(region: str, endpoint_url: str | None, credentials: AwsCredentials | None, ca_file: str | None) -> Any:
    from amazon_transcribe.auth import StaticCredentialResolver  # noqa: PLC0415 - lazy, see above
    from amazon_transcribe.client import TranscribeStreamingClient  # noqa: PLC0415
    from amazon_transcribe.endpoints import StaticEndpointResolver  # noqa: PLC0415

    client = TranscribeStreamingClient(
        region=region,
        endpoint_resolver=StaticEndpointResolver(endpoint_url) if endpoint_url else None,
        credential_resolver=(
            StaticCredentialResolver(
                credentials.access_key_id, credentials.secret_access_key, credentials.session_token
            )
            if credentials is not None
            else None
        ),
    )
    client._serializer = waiting_body_serializer()  # no busy loop between pieces of audio: audio_body.py
    if ca_file is not None:
        client._session_manager = _session_manager_trusting(ca_file)  # see the module docstring
    return client


def _session_manager_trusting(ca_file: str) -> Any:
    """The SDK's own HTTP/2 session manager, with a TLS context that trusts ``ca_file``."""
    from amazon_transcribe.httpsession import AwsCrtHttpSessionManager  # noqa: PLC0415 - lazy
    from awscrt import io  # noqa: PLC0415

    class CaTrustingSessionManager(AwsCrtHttpSessionManager):
        def __init__(self, bootstrap: io.ClientBootstrap) -> None:
            super().__init__(bootstrap)
            options = io.TlsContextOptions()
            options.override_default_trust_store_from_path(ca_filepath=ca_file)
            self._tls_ctx = io.ClientTlsContext(options)

    return CaTrustingSessionManager(io.ClientBootstrap.get_or_create_static_default())


@contextlib.contextmanager
def _service_errors() -> Iterator[None]:
    """The one place SDK, awscrt and transport errors become ``SpeechToTextUnavailableError``."""
    from amazon_transcribe.eventstream import ParserError  # noqa: PLC0415 - lazy
    from amazon_transcribe.exceptions import SDKError  # noqa: PLC0415
    from awscrt.exceptions import AwsCrtError  # noqa: PLC0415

    try:
        yield
    except SpeechToTextUnavailableError:
        raise
    except (SDKError, AwsCrtError, ParserError, json.JSONDecodeError, OSError) as exc:
        # OSError covers ConnectionError and TimeoutError (asyncio.wait_for's, since 3.11).
        raise SpeechToTextUnavailableError(f"Transcribe streaming failed: {type(exc).__name__}") from exc
