"""The body of a Transcribe stream's HTTP/2 request: the signed audio events, as awscrt reads them.

The ``amazon-transcribe`` SDK writes each signed event into its ``BufferableByteStream`` and hands
that object to awscrt as the request body. awscrt reads it on its event-loop thread, and when
nothing is buffered the SDK's ``read`` raises ``BlockingIOError`` at once; awscrt then asks again
at once. Between two pieces of audio (every 32 ms or so) that is a busy loop: one core held for
the stream's whole life, and the GIL taken on every read (``awslabs/amazon-transcribe-streaming-sdk``
issues 25, 84 and 121: "100% CPU per stream"). Measured here: in ``sim stream``, the transcriber's
awscrt thread at 55 to 90 % of a core per stream, with ``epoll_wait(…, 0)`` and a 16 KB buffer
mapped and unmapped per round (strace), and the audio loop, the redactor and the speculation
hook of the same process short of the GIL; 2 s of audio fed in real time (100 ms pieces) to the
local endpoint took 91,655 reads and 2.26 s of CPU with the SDK's body, 377 reads and 0.29 s
with this one.

``WaitingAudioBody`` is the same stream with one change: a read with nothing buffered waits for
a write (``threading.Condition``, which releases the GIL) for at most ``READ_WAIT_S`` before it
says "nothing yet". awscrt's thread then sleeps between pieces of audio instead of spinning. The
wait delays what else that event-loop thread serves (the stream's results) by at most
``READ_WAIT_S``, and a write wakes it at once. Everything else is the SDK's stream's contract:
bytes only, written in order, ``end_stream`` then ``b""`` once drained, ``close`` ends it.

``waiting_body_serializer`` gives a client a serializer that builds its requests with this body
(the SDK takes no body factory; the client's ``_serializer`` is replaced on the one client the
adapter owns, as its session manager is for ``ca_file``). Nothing in the SDK changes.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from typing import Any

READ_WAIT_S = 0.005  # the longest a read waits for audio before it answers "nothing yet"


class WaitingAudioBody(io.BufferedIOBase):
    """A byte stream written by the SDK (the asyncio thread) and read by awscrt (its own thread)."""

    def __init__(self, read_wait_s: float = READ_WAIT_S) -> None:
        super().__init__()
        self._chunks: deque[bytes] = deque()
        self._done = False
        self._ended = False
        self._ready = threading.Condition()
        self._read_wait_s = read_wait_s
        self.empty_reads = 0  # reads that found nothing after their wait (what a busy loop shows)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all of the next write with -1); ``b""`` once ended and drained.

        Raises:
            BlockingIOError: nothing was written within the wait (awscrt asks again later).
        """
        with self._ready:
            if not self._chunks and not self._done:
                self._ready.wait(self._read_wait_s)
            if self._ended or (self._done and not self._chunks):
                return b""
            if not self._chunks:
                self.empty_reads += 1
                raise BlockingIOError("read")
            chunk = self._chunks.popleft()
            if size is None or size < 0 or size >= len(chunk):
                return chunk
            self._chunks.appendleft(chunk[size:])
            return chunk[:size]

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readinto1(self, buffer: Any) -> int:
        return self.readinto(buffer)

    def write(self, data: Any) -> int:
        if not isinstance(data, bytes):
            raise ValueError(f"the audio body takes bytes, not {type(data).__name__}")
        with self._ready:
            if self._done:
                raise OSError("the audio body is ended: no more writes")
            if data:
                self._chunks.append(data)
                self._ready.notify_all()
        return len(data)

    def end_stream(self) -> None:
        """No more writes: reads drain what is buffered, then return ``b""``."""
        with self._ready:
            self._done = True
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        return self._ended

    def close(self) -> None:
        """Ends the body at once (buffered bytes are dropped), as the SDK's ``close`` does."""
        with self._ready:
            self._done = self._ended = True
            self._chunks.clear()
            self._ready.notify_all()


def waiting_body_serializer() -> Any:
    """The SDK's request serializer, building each stream's request with a ``WaitingAudioBody``."""
    from amazon_transcribe.serialize import TranscribeStreamingSerializer  # noqa: PLC0415 - lazy, like the SDK

    class WaitingBodySerializer(TranscribeStreamingSerializer):
        def serialize_start_stream_transcription_request(self, *args: Any, **kwargs: Any) -> Any:
            request = super().serialize_start_stream_transcription_request(*args, **kwargs)
            request.body = WaitingAudioBody()
            return request

    return WaitingBodySerializer()
