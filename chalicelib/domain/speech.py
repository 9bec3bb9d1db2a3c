"""The call's live audio and its transcription: the types and ports of the streaming speech path.

Amazon Connect streams a call's audio to Kinesis Video Streams as Matroska, one track for what
the customer says (``AUDIO_FROM_CUSTOMER``) and one for what the customer hears
(``AUDIO_TO_CUSTOMER``), 8 kHz 16-bit little-endian PCM. An ``AudioSource`` reads it back in
chunks that carry their place in the stream (fragment number and timecode), so a restarted
transcriber resumes where it stopped. A ``SpeechToText`` turns one track into transcript results
(partials with their stable prefix, then a final), each identified by a result id.

The speech-to-text SDK lives behind ``SpeechToText`` on purpose: ``amazon-transcribe`` is
deprecated upstream and its successor needs Python 3.12, so replacing it is one adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

Track = Literal["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"]
TRACKS: tuple[Track, ...] = ("AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER")
SAMPLE_RATE_HZ = 8000
BYTES_PER_SAMPLE = 2


VOICE_AMPLITUDE = 600  # peak 16-bit amplitude above the line noise of a phone call (about -35 dBFS)


def is_voiced(pcm: bytes, threshold: int = VOICE_AMPLITUDE) -> bool:
    """Whether a piece of 8 kHz 16-bit PCM holds speech rather than silence or line noise: its
    peak amplitude (every 4th sample: enough at 8 kHz) passes ``threshold``. A plain energy gate,
    all a pause detector needs on a call's separate caller track."""
    samples = memoryview(pcm[: len(pcm) - len(pcm) % 2]).cast("h")
    return any(abs(sample) > threshold for sample in samples[::4])


def pcm_ms(pcm: bytes) -> float:
    """How long a piece of 8 kHz 16-bit mono PCM plays."""
    return len(pcm) / (SAMPLE_RATE_HZ * BYTES_PER_SAMPLE) * 1000


# Why a call does not stream in the language its start event names (the stage's default is used).
LANGUAGE_UNSUPPORTED = "language_unsupported"  # a code Transcribe streaming does not take
LANGUAGE_MALFORMED = "language_malformed"  # not a language code (xx-XX) at all


@dataclass(frozen=True)
class StreamLanguage:
    """The language a call is transcribed in, and why it is not the one asked for (None: it is,
    or none was asked for)."""

    language: str
    reason: str | None = None


def stream_language(requested: str | None, default: str, supported: frozenset[str]) -> StreamLanguage:
    """The language to stream a call in: ``requested`` (Connect's ``es-US``, or Lex's ``es_US``)
    when Transcribe streaming takes it, else ``default`` with the reason.

    Example:
        >>> stream_language("es_US", "en-US", frozenset({"en-US", "es-US"}))
        StreamLanguage(language='es-US', reason=None)
        >>> stream_language("xx-XX", "en-US", frozenset({"en-US"})).reason
        'language_unsupported'
    """
    if not requested or not requested.strip():
        return StreamLanguage(default)
    code = requested.strip().replace("_", "-")
    if code in supported:
        return StreamLanguage(code)
    parts = code.split("-")
    well_formed = len(parts) == 2 and parts[0].isalpha() and parts[0].islower() and parts[1].isalpha()
    return StreamLanguage(default, LANGUAGE_UNSUPPORTED if well_formed else LANGUAGE_MALFORMED)


@dataclass(frozen=True)
class MediaPosition:
    """A place in the call's media stream: a fragment, and a time inside it.

    ``timecode_ms`` is the absolute timecode (ms from the stream's start) of the last chunk
    consumed; resuming at this position skips chunks at or before it in that fragment.
    """

    fragment_number: str
    timecode_ms: int = -1


@dataclass(frozen=True)
class AudioChunk:
    """One block of one track's audio, with its place in the stream."""

    track: Track
    pcm: bytes
    fragment_number: str
    timecode_ms: int  # absolute: the fragment's cluster timecode + the block's offset

    @property
    def position(self) -> MediaPosition:
        return MediaPosition(self.fragment_number, self.timecode_ms)

    @property
    def duration_ms(self) -> float:
        return pcm_ms(self.pcm)


@dataclass(frozen=True)
class TranscriptResult:
    """One result of a speech-to-text stream.

    Partials of one ``result_id`` are cumulative; the final one (``is_partial`` False) replaces
    them. ``stable_text`` is the prefix the service has marked stable (partial-results
    stabilization): it will not change in later partials. Times are ms of the track's audio.
    """

    result_id: str
    track: Track
    text: str
    is_partial: bool
    start_ms: int
    end_ms: int
    stable_text: str = ""


class AudioSource(Protocol):
    """The call's audio (Kinesis Video Streams ``GetMedia`` in production)."""

    def chunks(self, stream_arn: str, start: MediaPosition) -> Iterator[AudioChunk]:
        """Every chunk of both tracks from ``start`` on (inclusive fragment, exclusive timecode),
        in stream order, until the stream ends.

        Raises:
            MediaStreamUnavailableError: the stream could not be read (retryable).
            MediaStreamMalformedError: the bytes are not the Matroska Connect writes.
        """
        ...


class SpeechToText(Protocol):
    """A streaming speech recogniser for one track (Amazon Transcribe streaming in production)."""

    def transcribe(self, track: Track, audio: AsyncIterable[bytes], language: str) -> AsyncIterator[TranscriptResult]:
        """Results for ``audio`` (8 kHz 16-bit PCM) as they come.

        Raises:
            SpeechToTextUnavailableError: the service failed, refused or dropped the stream
                (retryable: resume from the last audio position consumed).
        """
        ...
