"""Test doubles of the speech path: an audio source from a list of chunks, a scripted recogniser,
a session store with a concurrent writer, and a session that is handed over part-way."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import replace

from chalicelib.adapters.memory_transcript import InMemoryTranscriptStore
from chalicelib.domain.conversation import Message, Role
from chalicelib.domain.live_transcript import LiveTranscript
from chalicelib.domain.session import Session, SessionStatus
from chalicelib.domain.speech import TRACKS, AudioChunk, MediaPosition, Track, TranscriptResult, pcm_ms
from chalicelib.errors import MediaStreamUnavailableError, SpeechToTextUnavailableError


def call_chunks(fragments: int = 6, per_fragment: int = 10, block_ms: int = 100, seed: int = 5) -> list[AudioChunk]:
    """Both tracks' chunks of a call: ``fragments`` x ``per_fragment`` timecodes of ``block_ms``,
    every byte random (so any gap or overlap in the audio sent shows)."""
    noise = random.Random(seed)
    chunks: list[AudioChunk] = []
    for f in range(fragments):
        for b in range(per_fragment):
            timecode = (f * per_fragment + b) * block_ms
            for track in TRACKS:
                chunks.append(AudioChunk(track, noise.randbytes(block_ms * 16), f"{1000 + f}", timecode))
    return chunks


def track_audio(chunks: list[AudioChunk], track: Track, from_ms: int = 0) -> bytes:
    return b"".join(chunk.pcm for chunk in chunks if chunk.track == track and chunk.timecode_ms >= from_ms)


def with_prompts(chunks: list[AudioChunk], prompts: list[tuple[int, int]]) -> list[AudioChunk]:
    """The chunks with the to-customer track silent except during ``prompts`` (media ms spans):
    the bot's prompts playing."""

    def playing(chunk: AudioChunk) -> bool:
        return any(start <= chunk.timecode_ms < end for start, end in prompts)

    return [
        replace(c, pcm=bytes(len(c.pcm))) if c.track == "AUDIO_TO_CUSTOMER" and not playing(c) else c for c in chunks
    ]


class HandingOverSessions:
    """The session as the transcriber reads it: with the bot (its replies ``said``) until
    ``handed_over()`` says so, then in handover (as the turn commits a handover reply). Counts
    its reads."""

    def __init__(self, contact_id: str, handed_over: Callable[[], bool], said: tuple[str, ...] = ()) -> None:
        history = tuple(Message(Role.ASSISTANT, text, seq) for seq, text in enumerate(said, 1))
        self._session = replace(Session.new(contact_id, 0), version=1, history=history)
        self._handed_over = handed_over
        self._lock = threading.Lock()
        self.loads = 0

    def load(self, contact_id: str, now_ms: int) -> Session | None:
        with self._lock:
            self.loads += 1
        if self._handed_over():
            return replace(self._session, status=SessionStatus.HANDOVER)
        return self._session

    def save_session(self, session: Session, now_ms: int) -> Session:
        raise AssertionError("the transcriber never writes the session")

    def load_turns(self, contact_id: str, now_ms: int) -> tuple[()]:
        return ()


class InMemoryAudioSource:
    """``AudioSource`` over a list of chunks; can drop the stream after some chunks, once."""

    def __init__(self, chunks: list[AudioChunk], *, drop_after: int | None = None, pace_s: float = 0.0) -> None:
        self._chunks = chunks
        self.pace_s = pace_s
        self.drop_after = drop_after
        self.starts: list[MediaPosition] = []
        self.yielded = 0

    def chunks(self, stream_arn: str, start: MediaPosition) -> Iterator[AudioChunk]:
        self.starts.append(start)
        first = next(i for i, c in enumerate(self._chunks) if c.fragment_number == start.fragment_number)
        count = 0
        for chunk in self._chunks[first:]:
            if chunk.fragment_number == start.fragment_number and chunk.timecode_ms <= start.timecode_ms:
                continue
            if self.drop_after is not None and count == self.drop_after:
                self.drop_after = None
                raise MediaStreamUnavailableError("GetMedia body stopped")
            count += 1
            self.yielded += 1
            if self.pace_s:
                time.sleep(self.pace_s)
            yield chunk


class ScriptedSpeechToText:
    """A recogniser that finalizes every ``utterance_ms`` of a track's audio as one result (a
    partial first), and the rest when the audio ends. Result ids differ per stream, like a real
    service's. Records the audio of every stream; can fail one track's stream once, after
    ``fail_after_ms`` of its audio."""

    def __init__(self, utterance_ms: int = 500, *, fail: tuple[Track, float] | None = None) -> None:
        self.utterance_ms = utterance_ms
        self.fail = fail
        self.streams: list[tuple[Track, bytearray]] = []
        self.active: set[Track] = set()
        self.max_concurrent = 0
        self._ids = itertools.count(1)

    def audio(self, track: Track) -> bytes:
        return b"".join(bytes(audio) for t, audio in self.streams if t == track)

    async def transcribe(
        self, track: Track, audio: AsyncIterable[bytes], language: str
    ) -> AsyncIterator[TranscriptResult]:
        received = bytearray()
        self.streams.append((track, received))
        self.active.add(track)
        self.max_concurrent = max(self.max_concurrent, len(self.active))
        done_ms = 0
        try:
            async for pcm in audio:
                received.extend(pcm)
                heard = int(pcm_ms(bytes(received)))
                if self.fail is not None and self.fail[0] == track and heard >= self.fail[1]:
                    self.fail = None
                    yield self._result(track, done_ms, heard, partial=True)
                    raise SpeechToTextUnavailableError("stream reset")
                while heard - done_ms >= self.utterance_ms:
                    end = done_ms + self.utterance_ms
                    rid = f"r{next(self._ids)}"
                    yield self._result(track, done_ms, end, partial=True, rid=rid)
                    yield self._result(track, done_ms, end, partial=False, rid=rid)
                    done_ms = end
            heard = int(pcm_ms(bytes(received)))
            if heard > done_ms:
                yield self._result(track, done_ms, heard, partial=False)
        finally:
            self.active.discard(track)

    def _result(self, track: Track, start: int, end: int, *, partial: bool, rid: str = "") -> TranscriptResult:
        rid = rid or f"r{next(self._ids)}"
        text = f"{track[6:10].lower()} {start}-{end}"
        return TranscriptResult(rid, track, text, partial, start, end, stable_text=text[:4])


class ConcurrentWriterStore(InMemoryTranscriptStore):
    """A transcript store where another writer (a duplicate transcriber invocation) changes the
    transcript just before some of our writes: those writes meet a version conflict."""

    def __init__(self, change: Callable[[LiveTranscript], LiveTranscript], every: int = 2) -> None:
        super().__init__()
        self._change = change
        self._every = every
        self.saves = 0
        self.interleaved = 0

    def save(self, contact_id: str, transcript: LiveTranscript, version: int, now_ms: int) -> int:
        self.saves += 1
        if self.saves % self._every == 1:  # the first, then every ``every``-th
            current, stored = self.load(contact_id, now_ms)
            self.interleaved += 1
            super().save(contact_id, self._change(current), stored, now_ms)
        return super().save(contact_id, transcript, version, now_ms)
