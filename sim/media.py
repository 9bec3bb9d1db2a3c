"""The call's audio, offline: both tracks of a recorded call, muxed and cut as Connect streams it.

Amazon Connect streams each call to Kinesis Video Streams as Matroska fragments with two 8 kHz
16-bit PCM tracks (``AUDIO_FROM_CUSTOMER``, ``AUDIO_TO_CUSTOMER``). To test the streaming speech
path without AWS, ``call_media`` makes the same thing from speech (``sim.speech_audio``): it lays
the turns and the replies on the two tracks at given offsets, has Debian's ``ffmpeg`` mux them
(two ``A_PCM/INT/LIT`` tracks named by their ``title``, ~1 s clusters), and cuts that file into
the documents ``GetMedia`` returns (``sim.kvs_fragments``), which ``sim.kvs_media_server`` serves.
``python -m sim.media`` writes the committed fixture.

The tools are Debian's (``apt-get install espeak-ng sox ffmpeg``); nothing here is deployed.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.domain.speech import BYTES_PER_SAMPLE, SAMPLE_RATE_HZ, TRACKS, Track, pcm_ms
from sim.kvs_fragments import Fragment, kvs_fragments
from sim.media_tools import run_media_tool
from sim.speech_audio import AUDIO_CACHE, BYTES_PER_MS, SpokenText, synthesize_turn, tool_versions


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
        run_media_tool(
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
