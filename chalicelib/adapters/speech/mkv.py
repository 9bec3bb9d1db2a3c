"""An incremental reader of the Matroska that Kinesis Video Streams ``GetMedia`` returns.

Why our own: the body of ``GetMedia`` arrives in pieces of any size over minutes, and all we
need from it is the PCM of two audio tracks with its place in the stream. A general EBML library
would be a new runtime dependency that parses whole documents; this reader is a few hundred lines,
keeps at most one element in memory, and knows exactly the subset Amazon Connect writes.

What ``GetMedia`` sends (sources: the ``GetMediaOutput.Payload`` documentation in botocore's
``kinesis-video-media`` service model; aws/amazon-kinesis-video-streams-parser-library,
``FragmentMetadataVisitor.java``, whose state machine reads the fragment's tags when the Cluster
*starts* (PRE_CLUSTER) and the millis-behind-now and continuation-token tags from Tags that
*follow* the Cluster (POST_CLUSTER); amazon-connect/amazon-connect-realtime-transcription,
``KVSUtils.java``, which picks blocks by the track's ``Name``): a sequence of fragments, each a
complete Matroska document::

    EBML header
    Segment (unknown size)
        Info (TimecodeScale)        Tracks (TrackEntry: TrackNumber, Name AUDIO_FROM_CUSTOMER / ...)
        Tags   AWS_KINESISVIDEO_FRAGMENT_NUMBER, _SERVER_TIMESTAMP, _PRODUCER_TIMESTAMP (+ Connect's)
        Cluster (Timecode, SimpleBlock...)
        Tags   AWS_KINESISVIDEO_MILLIS_BEHIND_NOW, AWS_KINESISVIDEO_CONTINUATION_TOKEN
    (or, when ``GetMedia`` stops on an error: Tags AWS_KINESISVIDEO_ERROR_CODE / _ERROR_ID)

The fragment number therefore comes before the fragment's blocks, and chunks are released as
their blocks arrive. The reader does not rely on it: blocks seen before the fragment number are
held until it appears anywhere in the same document, and a document that ends without one is
malformed.

Chunks of one timecode (the two tracks' blocks of the same instant) are released together, when
a block with a later timecode, the end of the Cluster or the end of the document shows the group
is complete. A connection that drops in the middle of a group therefore never leaves half of it
consumed: resuming at the last released chunk's position (which skips everything at or before
its timecode in its fragment) loses nothing and repeats nothing.

Lacing: Connect writes none, but laced blocks are accepted. A laced PCM block's frames are
contiguous, so its PCM is everything after the lace header.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from chalicelib.domain.speech import TRACKS, AudioChunk, Track
from chalicelib.errors import MediaStreamMalformedError, MediaStreamUnavailableError

# --- element ids (Matroska / EBML specification) ----------------------------------------------

EBML_HEADER = 0x1A45DFA3
DOC_TYPE = 0x4282
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
INFO = 0x1549A966
TIMECODE_SCALE = 0x2AD7B1
TRACKS_ID = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_NAME = 0x536E
CODEC_ID = 0x86
CLUSTER = 0x1F43B675
CLUSTER_TIMECODE = 0xE7
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
CUES = 0x1C53BB6B
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
TAGS = 0x1254C367
TAG = 0x7373
SIMPLE_TAG = 0x67C8
TAG_NAME = 0x45A3
TAG_STRING = 0x4487
VOID = 0xEC

TAG_FRAGMENT_NUMBER = "AWS_KINESISVIDEO_FRAGMENT_NUMBER"
TAG_ERROR_CODE = "AWS_KINESISVIDEO_ERROR_CODE"
TAG_ERROR_ID = "AWS_KINESISVIDEO_ERROR_ID"

# The masters this reader enters. Every other element is skipped by its size.
_MASTERS = {EBML_HEADER, SEGMENT, INFO, TRACKS_ID, TRACK_ENTRY, CLUSTER, BLOCK_GROUP, TAGS, TAG, SIMPLE_TAG}
# The leaves it reads, and the one master each belongs to.
_LEAVES = {
    DOC_TYPE: EBML_HEADER,
    TIMECODE_SCALE: INFO,
    TRACK_NUMBER: TRACK_ENTRY,
    TRACK_NAME: TRACK_ENTRY,
    CODEC_ID: TRACK_ENTRY,
    CLUSTER_TIMECODE: CLUSTER,
    SIMPLE_BLOCK: CLUSTER,
    BLOCK: BLOCK_GROUP,
    TAG_NAME: SIMPLE_TAG,
    TAG_STRING: SIMPLE_TAG,
}
_PARENT = {
    EBML_HEADER: None,
    SEGMENT: None,
    INFO: SEGMENT,
    TRACKS_ID: SEGMENT,
    TRACK_ENTRY: TRACKS_ID,
    CLUSTER: SEGMENT,
    BLOCK_GROUP: CLUSTER,
    TAGS: SEGMENT,
    TAG: TAGS,
    SIMPLE_TAG: TAG,
    **_LEAVES,
}
# Segment children and the start of a new document: any of them ends a Cluster of unknown size.
_ENDS_CLUSTER = {SEEK_HEAD, INFO, TRACKS_ID, CLUSTER, CUES, CHAPTERS, ATTACHMENTS, TAGS, EBML_HEADER, SEGMENT}
_CLUSTER_OPEN_ENDED = {SEGMENT, CLUSTER}  # the only masters allowed an unknown size
_UNKNOWN_SIZE = -1
_DEFAULT_TIMECODE_SCALE_NS = 1_000_000
# Larger than any element Connect writes (a block is a fraction of a second of 8 kHz PCM);
# a bigger size is garbage, and buffering it would only waste memory.
MAX_ELEMENT_BYTES = 8 * 1024 * 1024
# Connect's streams made before the two-track format named the caller's track "Track_audio/L16"
# (KVSUtils.java reads it as the customer's audio, for backwards compatibility).
_TRACK_BY_NAME: dict[str, Track] = {**{track: track for track in TRACKS}, "Track_audio/L16": "AUDIO_FROM_CUSTOMER"}


@dataclass
class _Open:
    """A master element being read: its id and where it ends (None: unknown size)."""

    element_id: int
    end: int | None


@dataclass
class _Document:
    """What one Matroska document (one ``GetMedia`` fragment) has declared so far."""

    timecode_scale_ns: int = _DEFAULT_TIMECODE_SCALE_NS
    tracks: dict[int, Track | None] = field(default_factory=dict)  # None: a track we do not read
    entry_number: int | None = None
    entry_name: str | None = None
    tag_name: str | None = None
    tag_value: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    fragment_number: str | None = None
    cluster_timecode: int | None = None
    unnumbered: list[tuple[Track, bytes, int]] = field(default_factory=list)


class MkvAudioReader:
    """Turns the bytes of a ``GetMedia`` body, fed in pieces of any size, into ``AudioChunk``s.

    Example:
        >>> reader = MkvAudioReader()
        >>> chunks = [c for piece in body_pieces for c in reader.feed(piece)]  # doctest: +SKIP
        >>> chunks += reader.finish()  # doctest: +SKIP

    Raises (from ``feed`` and ``finish``):
        MediaStreamMalformedError: bad EBML, a block of an undeclared track, no audio track, a
            document without a fragment number, or bytes that stop in the middle of an element.
        MediaStreamUnavailableError: ``GetMedia`` reported an error in the stream's tags.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0  # read position in _buffer
        self._position = 0  # absolute stream offset of _buffer[_offset]
        self._skip = 0  # bytes of a skipped element still to come
        self._need = 0  # bytes needed in the buffer before parsing can go on
        self._stack: list[_Open] = []
        self._document: _Document | None = None
        self._group: list[AudioChunk] = []
        self._ready: list[AudioChunk] = []
        self.documents = 0
        self.last_tags: dict[str, str] = {}

    # --- public ---------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[AudioChunk]:
        """Read the next piece of the stream.

        Args:
            data: the next bytes, as they arrived (any length, including empty).

        Returns:
            The chunks completed by these bytes, in stream order.
        """
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            self._position += dropped
            data = data[dropped:]
            self._close_finished()
        if data:
            self._buffer += data
        if len(self._buffer) - self._offset >= self._need:
            self._parse()
        return self._take()

    def finish(self) -> list[AudioChunk]:
        """The stream ended: release what is left.

        Returns:
            The chunks of the last timecode group.

        Raises:
            MediaStreamMalformedError: the stream stops in the middle of an element.
        """
        self._close_finished()
        if self._skip or len(self._buffer) > self._offset:
            raise MediaStreamMalformedError(
                f"media stream truncated at byte {self._position}: it ends inside an element"
            )
        while self._stack:
            if self._stack[-1].end is not None:
                raise MediaStreamMalformedError(
                    f"media stream truncated at byte {self._position}: "
                    f"element 0x{self._stack[-1].element_id:X} is incomplete"
                )
            self._close()
        return self._take()

    @property
    def position(self) -> int:
        """How many bytes of the stream have been read."""
        return self._position

    # --- parsing ------------------------------------------------------------------------------

    def _take(self) -> list[AudioChunk]:
        ready, self._ready = self._ready, []
        return ready

    def _parse(self) -> None:
        buffer = self._buffer
        while True:
            self._close_finished()
            available = len(buffer) - self._offset
            header = _read_header(buffer, self._offset, available, self._position)
            if header is None:
                self._need = available + 1
                break
            element_id, size, header_length = header
            self._end_open_ended(element_id)
            parent = self._stack[-1] if self._stack else None
            start = self._position
            end = None if size == _UNKNOWN_SIZE else start + header_length + size
            limit = self._limit()
            if limit is not None and (end is None or end > limit):
                raise MediaStreamMalformedError(f"byte {start}: element 0x{element_id:X} overruns its parent")
            expected_parent = _PARENT.get(element_id, 0)
            if parent is None and element_id not in (EBML_HEADER, SEGMENT, VOID):
                raise MediaStreamMalformedError(
                    f"byte {start}: expected an EBML header or a Segment, found element 0x{element_id:X}"
                )
            known_here = expected_parent != 0 and expected_parent == (parent.element_id if parent else None)
            if known_here and element_id in _MASTERS:
                if size == _UNKNOWN_SIZE and element_id not in _CLUSTER_OPEN_ENDED:
                    raise MediaStreamMalformedError(f"byte {start}: element 0x{element_id:X} has an unknown size")
                self._advance(header_length)
                self._open(element_id, end)
                continue
            if size == _UNKNOWN_SIZE:
                raise MediaStreamMalformedError(f"byte {start}: element 0x{element_id:X} has an unknown size")
            if not known_here:
                self._advance(header_length)
                self._skip_bytes(size)
                continue
            if size > MAX_ELEMENT_BYTES:
                raise MediaStreamMalformedError(f"byte {start}: element 0x{element_id:X} claims {size} bytes")
            if available < header_length + size:
                self._need = header_length + size
                break
            payload = bytes(buffer[self._offset + header_length : self._offset + header_length + size])
            self._advance(header_length + size)
            self._leaf(element_id, payload, start)
        self._compact()

    def _advance(self, count: int) -> None:
        self._offset += count
        self._position += count
        self._need = 0

    def _skip_bytes(self, size: int) -> None:
        available = len(self._buffer) - self._offset
        if size <= available:
            self._advance(size)
            return
        self._advance(available)
        self._skip = size - available

    def _compact(self) -> None:
        if self._offset:
            del self._buffer[: self._offset]
            self._offset = 0

    def _close_finished(self) -> None:
        """Close the elements whose end has been reached (and the unknown-size ones inside them)."""
        while self._stack and (limit := self._limit()) is not None and self._position >= limit:
            self._close()

    def _limit(self) -> int | None:
        """Where the innermost open element of known size ends."""
        for element in reversed(self._stack):
            if element.end is not None:
                return element.end
        return None

    def _end_open_ended(self, element_id: int) -> None:
        """An element that cannot be inside an open unknown-size master ends that master."""
        while self._stack and self._stack[-1].end is None:
            top = self._stack[-1].element_id
            ends_cluster = top == CLUSTER and element_id in _ENDS_CLUSTER
            ends_segment = top == SEGMENT and element_id in (EBML_HEADER, SEGMENT)
            if not (ends_cluster or ends_segment):
                break
            self._close()

    # --- meaning ------------------------------------------------------------------------------

    def _open(self, element_id: int, end: int | None) -> None:
        self._stack.append(_Open(element_id, end))
        if element_id == SEGMENT:
            self._document = _Document()
            self.documents += 1
        document = self._document
        if document is None:
            return
        if element_id == TRACK_ENTRY:
            document.entry_number, document.entry_name = None, None
        elif element_id == SIMPLE_TAG:
            document.tag_name, document.tag_value = None, ""
        elif element_id == CLUSTER:
            document.cluster_timecode = None

    def _close(self) -> None:
        element_id = self._stack.pop().element_id
        document = self._document
        if document is None:
            return
        if element_id == TRACK_ENTRY:
            self._declare_track(document)
        elif element_id == TRACKS_ID:
            if not any(document.tracks.values()):
                raise MediaStreamMalformedError(f"no {' or '.join(TRACKS)} track in the media stream")
        elif element_id == SIMPLE_TAG:
            if document.tag_name is not None:
                document.tags[document.tag_name] = document.tag_value
                if document.tag_name == TAG_FRAGMENT_NUMBER and document.fragment_number is None:
                    document.fragment_number = document.tag_value
                    self._number_held_blocks(document)
        elif element_id == TAG:
            if TAG_ERROR_CODE in document.tags:
                raise MediaStreamUnavailableError(
                    f"GetMedia stopped with error {document.tags.get(TAG_ERROR_ID, '?')}: "
                    f"{document.tags[TAG_ERROR_CODE]}"
                )
        elif element_id == CLUSTER:
            self._release_group()
        elif element_id == SEGMENT:
            self._release_group()
            if document.unnumbered:
                raise MediaStreamMalformedError(
                    f"a media fragment ended without an {TAG_FRAGMENT_NUMBER} tag ({len(document.unnumbered)} blocks)"
                )
            self.last_tags = document.tags
            self._document = None

    def _leaf(self, element_id: int, payload: bytes, start: int) -> None:
        if element_id == DOC_TYPE:
            doc_type = _text(payload)
            if doc_type not in ("matroska", "webm"):
                raise MediaStreamMalformedError(f"byte {start}: DocType {doc_type!r} is not Matroska")
            return
        document = self._document
        if document is None:
            return
        if element_id == TIMECODE_SCALE:
            document.timecode_scale_ns = _uint(payload, start)
            if document.timecode_scale_ns <= 0:
                raise MediaStreamMalformedError(f"byte {start}: TimecodeScale is zero")
        elif element_id == TRACK_NUMBER:
            document.entry_number = _uint(payload, start)
        elif element_id == TRACK_NAME:
            document.entry_name = _text(payload)
        elif element_id == CLUSTER_TIMECODE:
            document.cluster_timecode = _uint(payload, start)
        elif element_id in (SIMPLE_BLOCK, BLOCK):
            self._block(document, payload, start)
        elif element_id == TAG_NAME:
            document.tag_name = _text(payload)
        elif element_id == TAG_STRING:
            document.tag_value = _text(payload)

    def _declare_track(self, document: _Document) -> None:
        if document.entry_number is None:
            raise MediaStreamMalformedError("a TrackEntry has no TrackNumber")
        document.tracks[document.entry_number] = _TRACK_BY_NAME.get(document.entry_name or "")

    def _block(self, document: _Document, payload: bytes, start: int) -> None:
        track_number, pcm_start, relative = _block_header(payload, start)
        if track_number not in document.tracks:
            raise MediaStreamMalformedError(f"byte {start}: a block of track {track_number}, declared by no TrackEntry")
        track = document.tracks[track_number]
        if track is None:
            return
        if document.cluster_timecode is None:
            raise MediaStreamMalformedError(f"byte {start}: a block before its Cluster's Timecode")
        timecode_ms = (document.cluster_timecode + relative) * document.timecode_scale_ns // 1_000_000
        pcm = payload[pcm_start:]
        if document.fragment_number is None:
            document.unnumbered.append((track, pcm, timecode_ms))
        else:
            self._add(AudioChunk(track, pcm, document.fragment_number, timecode_ms))

    def _number_held_blocks(self, document: _Document) -> None:
        held, document.unnumbered = document.unnumbered, []
        for track, pcm, timecode_ms in held:
            self._add(AudioChunk(track, pcm, document.fragment_number or "", timecode_ms))

    def _add(self, chunk: AudioChunk) -> None:
        if self._group and self._group[0].timecode_ms != chunk.timecode_ms:
            self._release_group()
        self._group.append(chunk)

    def _release_group(self) -> None:
        self._ready.extend(self._group)
        self._group = []


# --- EBML primitives ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EbmlElement:
    """One element of a complete buffer: its id, and where its header, its data and it end."""

    element_id: int
    start: int  # the header's first byte
    data_start: int
    end: int


def iter_elements(data: bytes, start: int = 0, end: int | None = None) -> Iterator[EbmlElement]:
    """The elements of a complete, known-size EBML buffer at one level, with the reader's parsing.

    For a whole file in memory (tools, tests); ``MkvAudioReader`` is the one for a stream.

    Example:
        >>> [e.element_id for e in iter_elements(bytes([0xE7, 0x81, 0x05, 0xEC, 0x80]))]
        [231, 236]

    Raises:
        MediaStreamMalformedError: a bad id or size, an element of unknown size, or one that runs
            past ``end``.
    """
    end = len(data) if end is None else end
    at = start
    while at < end:
        header = _read_header(data, at, end - at, at)
        if header is None:
            raise MediaStreamMalformedError(f"byte {at}: the buffer ends inside an element header")
        element_id, size, header_length = header
        if size == _UNKNOWN_SIZE:
            raise MediaStreamMalformedError(f"byte {at}: element 0x{element_id:X} has an unknown size")
        data_start = at + header_length
        if data_start + size > end:
            raise MediaStreamMalformedError(f"byte {at}: element 0x{element_id:X} runs past the buffer")
        yield EbmlElement(element_id, at, data_start, data_start + size)
        at = data_start + size


def block_header(payload: bytes, start: int = 0) -> tuple[int, int, int]:
    """A (Simple)Block's track number, where its frames start (after any lace header), and its
    timecode relative to its Cluster's.

    Raises:
        MediaStreamMalformedError: the block is too short or its header is bad (``start``, the
            block's place in the stream, is in the message).
    """
    return _block_header(payload, start)


def _read_header(buffer: bytes | bytearray, offset: int, available: int, position: int) -> tuple[int, int, int] | None:
    """The element id, data size (``_UNKNOWN_SIZE`` if unknown) and header length at ``offset``,
    or None when the header is not complete yet."""
    if available < 1:
        return None
    first = buffer[offset]
    id_length = _vint_length(first)
    if id_length == 0 or id_length > 4:
        raise MediaStreamMalformedError(f"byte {position}: 0x{first:02X} does not start an EBML element id")
    if available < id_length + 1:
        return None
    element_id = int.from_bytes(buffer[offset : offset + id_length], "big")
    size_first = buffer[offset + id_length]
    size_length = _vint_length(size_first)
    if size_length == 0:
        raise MediaStreamMalformedError(f"byte {position}: element 0x{element_id:X} has an invalid size")
    if available < id_length + size_length:
        return None
    raw = int.from_bytes(buffer[offset + id_length : offset + id_length + size_length], "big")
    marker = 1 << (7 * size_length)
    size = raw - marker
    if size == marker - 1:
        size = _UNKNOWN_SIZE
    return element_id, size, id_length + size_length


def _vint_length(first: int) -> int:
    """How many bytes a variable-size integer starting with ``first`` takes (0: invalid)."""
    if first == 0:
        return 0
    return 9 - first.bit_length()


def _read_vint(data: bytes, offset: int, start: int) -> tuple[int, int]:
    """A variable-size integer (marker removed) inside a block, and its length."""
    if offset >= len(data):
        raise MediaStreamMalformedError(f"byte {start}: block too short")
    length = _vint_length(data[offset])
    if length == 0 or offset + length > len(data):
        raise MediaStreamMalformedError(f"byte {start}: bad variable-size integer in a block")
    value = int.from_bytes(data[offset : offset + length], "big") - (1 << (7 * length))
    return value, length


def _block_header(payload: bytes, start: int) -> tuple[int, int, int]:
    """A (Simple)Block's track number, where its PCM starts, and its relative timecode."""
    track_number, length = _read_vint(payload, 0, start)
    if len(payload) < length + 3:
        raise MediaStreamMalformedError(f"byte {start}: block too short")
    relative = int.from_bytes(payload[length : length + 2], "big", signed=True)
    flags = payload[length + 2]
    data_start = length + 3
    lacing = (flags >> 1) & 0x03
    if lacing:
        data_start = _skip_lace_header(payload, data_start, lacing, start)
    return track_number, data_start, relative


def _skip_lace_header(payload: bytes, offset: int, lacing: int, start: int) -> int:
    """Where a laced block's frames start. They are contiguous, so PCM is all that follows."""
    if offset >= len(payload):
        raise MediaStreamMalformedError(f"byte {start}: laced block without a frame count")
    frames = payload[offset] + 1
    offset += 1
    sizes = 0
    if lacing == 1:  # Xiph: each size but the last as a run of 255s and a final byte
        for _ in range(frames - 1):
            while True:
                if offset >= len(payload):
                    raise MediaStreamMalformedError(f"byte {start}: truncated Xiph lace header")
                byte = payload[offset]
                offset += 1
                sizes += byte
                if byte != 0xFF:
                    break
    elif lacing == 3:  # EBML: the first size, then signed differences
        size, length = _read_vint(payload, offset, start)
        offset += length
        sizes = size
        for _ in range(frames - 2):
            raw, length = _read_vint(payload, offset, start)
            offset += length
            size += raw - ((1 << (7 * length - 1)) - 1)
            sizes += size
    elif (len(payload) - offset) % frames:  # fixed: equal frames
        raise MediaStreamMalformedError(f"byte {start}: fixed-size lacing with unequal frames")
    if offset + sizes > len(payload):
        raise MediaStreamMalformedError(f"byte {start}: lace sizes exceed the block")
    return offset


def _uint(payload: bytes, start: int) -> int:
    if len(payload) > 8:
        raise MediaStreamMalformedError(f"byte {start}: unsigned integer of {len(payload)} bytes")
    return int.from_bytes(payload, "big")


def _text(payload: bytes) -> str:
    return payload.rstrip(b"\x00").decode("utf-8", errors="replace")
