"""``AudioSource`` over Kinesis Video Streams ``GetMedia``: the call's live audio from Connect.

``GetDataEndpoint`` names the host that serves ``GetMedia`` for the stream; ``GetMedia`` then
streams Matroska fragments from the chosen start for as long as the stream lasts. The body is
read in small pieces (``iter_chunks``) and fed to ``MkvAudioReader``, so the first audio is out
before the fragment it belongs to has fully arrived.

Resuming. ``StartSelectorType=FRAGMENT_NUMBER`` with ``AfterFragmentNumber``: botocore's service
model says both "start with the chunk after a specific fragment" (the selector type) and "the
fragment number from where you want GetMedia to start returning the fragments" (the field).
Amazon Connect's own sample (amazon-connect-realtime-transcription, ``KVSUtils.java``) passes the
contact's ``StartFragmentNumber`` there, the fragment where the customer's audio *starts*, which
only works if that fragment is returned. So this adapter asks from the position's own fragment
and drops the chunks of that fragment at or before the position's timecode: nothing is read
twice, and nothing is skipped, since the rest of that fragment is still to come. (Were the
service to start strictly after it, the rest of the fragment would be lost; ``LocalKinesisVideoMedia``
in ``sim/kvs_media_server.py`` serves the inclusive reading.)

The reader releases the chunks of one timecode (both tracks' blocks of the same instant)
together, so a connection that drops never ends the chunks in the middle of a timecode. A
consumer that checkpoints a chunk's position should do so once the next chunk has a later
timecode (or the stream ended): resuming at a position skips *every* chunk of that timecode.

SDK imports: the clients are injected; ``botocore.exceptions`` is imported when a stream is
read, not when this module is (it costs ~20 ms of cold start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chalicelib.adapters.speech.mkv import MkvAudioReader
from chalicelib.domain.speech import AudioChunk, MediaPosition
from chalicelib.errors import MediaStreamUnavailableError

# 4 KiB is ~125 ms of Connect's two tracks (2 x 16 KB/s plus framing): urllib3's read(n) waits for
# n bytes, so this bounds the latency the read size adds to live audio.
DEFAULT_READ_BYTES = 4096


class KinesisVideoAudioSource:
    """The call's audio from Kinesis Video Streams.

    Args:
        kinesisvideo_client: a boto3 ``kinesisvideo`` client (for ``GetDataEndpoint``).
        media_client_factory: makes a boto3 ``kinesis-video-media`` client for a data endpoint
            URL (its read timeout must exceed the longest pause between fragments).
        read_bytes: the size of the pieces the body is read in.
    """

    def __init__(
        self,
        kinesisvideo_client: Any,
        media_client_factory: Callable[[str], Any],
        *,
        read_bytes: int = DEFAULT_READ_BYTES,
    ) -> None:
        self._kinesisvideo = kinesisvideo_client
        self._media_client_factory = media_client_factory
        self._media_clients: dict[str, Any] = {}
        self._read_bytes = read_bytes

    def chunks(self, stream_arn: str, start: MediaPosition) -> Iterator[AudioChunk]:
        """Every chunk of both tracks from ``start`` on, in stream order, until the stream ends.

        Args:
            stream_arn: the contact's Kinesis video stream.
            start: where to start: the fragment, and the timecode of the last chunk already
                consumed in it (-1: the whole fragment).

        Yields:
            The chunks after ``start``.

        Raises:
            MediaStreamUnavailableError: an endpoint or ``GetMedia`` call failed, or the body
                stopped mid-way (resume from the last chunk's position).
            MediaStreamMalformedError: the bytes are not the Matroska Connect writes.
        """
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy, see the module doc

        try:
            endpoint = self._kinesisvideo.get_data_endpoint(StreamARN=stream_arn, APIName="GET_MEDIA")["DataEndpoint"]
            media = self._media_client(endpoint)
            response = media.get_media(
                StreamARN=stream_arn,
                StartSelector={"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": start.fragment_number},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise MediaStreamUnavailableError(f"GetMedia could not start: {code}") from exc
        except BotoCoreError as exc:
            raise MediaStreamUnavailableError(f"GetMedia could not start: {type(exc).__name__}") from exc
        body = response["Payload"]
        reader = MkvAudioReader()
        try:
            for piece in body.iter_chunks(self._read_bytes):
                for chunk in reader.feed(piece):
                    if not _consumed(chunk, start):
                        yield chunk
            for chunk in reader.finish():
                if not _consumed(chunk, start):
                    yield chunk
        except (BotoCoreError, OSError) as exc:
            raise MediaStreamUnavailableError(
                f"GetMedia body stopped after {reader.position} bytes: {type(exc).__name__}"
            ) from exc
        finally:
            body.close()

    def _media_client(self, endpoint: str) -> Any:
        client = self._media_clients.get(endpoint)
        if client is None:
            client = self._media_clients[endpoint] = self._media_client_factory(endpoint)
        return client


def _consumed(chunk: AudioChunk, start: MediaPosition) -> bool:
    """Whether ``chunk`` was consumed before ``start`` (its fragment, at or before its timecode)."""
    return chunk.fragment_number == start.fragment_number and chunk.timecode_ms <= start.timecode_ms
