"""A Matroska file cut into the fragments Kinesis Video Streams ``GetMedia`` returns.

Per Cluster, an EBML header and a Segment of unknown size with Info, Tracks, the fragment's tags
(fragment number, server and producer timestamps, Connect's ContactId), the Cluster, then the
millis-behind-now and continuation-token tags (the layout ``chalicelib/adapters/speech/mkv.py``
documents). The file is read with that module's reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.speech.mkv import (
    CLUSTER,
    CLUSTER_TIMECODE,
    EBML_HEADER,
    INFO,
    SEGMENT,
    SIMPLE_BLOCK,
    TIMECODE_SCALE,
    TRACKS_ID,
    EbmlElement,
    block_header,
    iter_elements,
)
from sim.matroska import (
    MUXING_APP,
    UNKNOWN_SIZE,
    WRITING_APP,
    element,
    id_bytes,
    tags_element,
    text_element,
    uint_element,
)
from sim.speech_audio import BYTES_PER_MS

# Real fragment numbers are 47-digit decimals that grow by 2**92 from one fragment to the next.
FRAGMENT_NUMBER_BASE = 91343852333181432397633822764885441725874549018
FRAGMENT_NUMBER_STEP = 2**92


def fragment_number(index: int) -> str:
    """The number of the ``index``-th fragment of the sim's streams."""
    return str(FRAGMENT_NUMBER_BASE + index * FRAGMENT_NUMBER_STEP)


@dataclass(frozen=True)
class Fragment:
    """One ``GetMedia`` fragment: its number, its Matroska document and the audio it covers."""

    number: str
    data: bytes
    start_ms: int
    duration_ms: int


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
    segment: EbmlElement | None = None
    for top in iter_elements(matroska):
        if top.element_id == EBML_HEADER:
            header = matroska[top.start : top.end]
        elif top.element_id == SEGMENT:
            segment = top
    if not header or segment is None:
        raise ValueError("not a Matroska file: no EBML header or Segment")
    scale, tracks, clusters = 1_000_000, b"", []
    for child in iter_elements(matroska, segment.data_start, segment.end):
        if child.element_id == INFO:
            for item in iter_elements(matroska, child.data_start, child.end):
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
        data = header + id_bytes(SEGMENT) + UNKNOWN_SIZE + body
        fragments.append(Fragment(number, data, start_ms, end_ms - start_ms))
    return tuple(fragments)


def _cluster_timecode(matroska: bytes, cluster: EbmlElement) -> int:
    for item in iter_elements(matroska, cluster.data_start, cluster.end):
        if item.element_id == CLUSTER_TIMECODE:
            return int.from_bytes(matroska[item.data_start : item.end], "big")
    raise ValueError("a Cluster without a Timecode")


def _cluster_end_ms(matroska: bytes, cluster: EbmlElement, scale: int) -> int:
    """Where a cluster's audio ends: its last block's time plus that block's PCM length."""
    base = _cluster_timecode(matroska, cluster)
    end_ms = base * scale // 1_000_000
    for item in iter_elements(matroska, cluster.data_start, cluster.end):
        if item.element_id == SIMPLE_BLOCK:
            payload = matroska[item.data_start : item.end]
            _, frames_start, relative = block_header(payload, item.data_start)
            pcm_bytes = len(payload) - frames_start
            end_ms = max(end_ms, int((base + relative) * scale / 1_000_000 + pcm_bytes / BYTES_PER_MS))
    return end_ms
