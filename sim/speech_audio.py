"""Speech from text, offline: ``espeak-ng`` resampled to 8 kHz by ``sox``, word by word.

``synthesize_turn`` speaks each word alone, so every word's place in the audio is known
(espeak-ng prints no timings); a pause mark between words (``…`` or ``...``, ``sim.end_of_turn``)
is a hesitation: a longer silence, no word. Results are cached under ``out/audio-cache/``, keyed
by the text (its marks included), the voice, the gaps and the tools' versions. The tools are
Debian's (``apt-get install espeak-ng sox``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from chalicelib.domain.speech import BYTES_PER_SAMPLE, SAMPLE_RATE_HZ, pcm_ms
from sim.end_of_turn import HESITATION_MS, has_pauses, words_and_pauses
from sim.media_tools import run_media_tool

ROOT = Path(__file__).resolve().parent.parent
AUDIO_CACHE = ROOT / "out" / "audio-cache"
CACHE_FORMAT = 2  # bump when the synthesis recipe changes: old cache entries stop matching
WORD_GAP_MS = 70
SILENCE_THRESHOLD = 200  # |sample| below this is silence when trimming a word (of 32767)
BYTES_PER_MS = SAMPLE_RATE_HZ * BYTES_PER_SAMPLE // 1000


@dataclass(frozen=True)
class SpokenText:
    """A text spoken as 8 kHz 16-bit mono PCM, with where each word is in it (ms); ``text`` keeps
    its pause marks, ``words`` are the words alone."""

    text: str
    pcm: bytes
    words: tuple[tuple[str, int, int], ...]

    @property
    def duration_ms(self) -> float:
        return pcm_ms(self.pcm)


@cache
def tool_versions() -> str:
    """The versions of espeak-ng and sox (part of the cache key: another version, other audio)."""
    versions = [run_media_tool([tool, "--version"]).decode(errors="replace").strip() for tool in ("espeak-ng", "sox")]
    return " | ".join(versions)


def synthesize_turn(
    text: str,
    *,
    voice: str = "en-us",
    words_per_minute: int = 160,
    cache_dir: Path = AUDIO_CACHE,
    pause_ms: int = HESITATION_MS,
) -> SpokenText:
    """Speak ``text`` with espeak-ng: 8 kHz 16-bit mono PCM and each word's start and end.

    Each word is synthesized alone, trimmed of its silence and joined with ``WORD_GAP_MS`` of
    silence, so its timing is exact; where a pause mark sits between two words, the silence is
    ``pause_ms`` instead. The result is cached in ``cache_dir``.

    Args:
        text: what the speaker says, with ``…`` (or ``...``) where they hesitate.
        voice: an espeak-ng voice (``espeak-ng --voices``).
        words_per_minute: espeak-ng's speed.
        cache_dir: where results are kept between runs.
        pause_ms: the silence of each hesitation.

    Returns:
        The PCM and ``(word, start_ms, end_ms)`` for every word (never a mark).
    """
    spoken_words, pauses = words_and_pauses(text)
    words = list(spoken_words)
    key_parts: list[object] = [CACHE_FORMAT, text, voice, words_per_minute, WORD_GAP_MS, tool_versions()]
    if has_pauses(text):  # a text without marks keeps the key it always had (the cache stays warm)
        key_parts.append(pause_ms)
    key_source = json.dumps(key_parts)
    key = hashlib.sha256(key_source.encode()).hexdigest()[:32]
    pcm_path, words_path = cache_dir / f"{key}.pcm", cache_dir / f"{key}.json"
    if pcm_path.exists() and words_path.exists():
        timings = tuple((str(w), int(s), int(e)) for w, s, e in json.loads(words_path.read_text()))
        return SpokenText(text, pcm_path.read_bytes(), timings)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(words)))) as pool:
        spoken = list(pool.map(lambda word: _trim(_speak_word(word, voice, words_per_minute)), words))
    gap = bytes(WORD_GAP_MS * BYTES_PER_MS)
    hesitation = bytes(pause_ms * BYTES_PER_MS)
    pieces: list[bytes] = []
    timings_list: list[tuple[str, int, int]] = []
    at = 0
    for index, (word, pcm) in enumerate(zip(words, spoken, strict=True)):
        if pieces:
            silence = hesitation if index in pauses else gap
            pieces.append(silence)
            at += len(silence)
        timings_list.append((word, at // BYTES_PER_MS, (at + len(pcm)) // BYTES_PER_MS))
        pieces.append(pcm)
        at += len(pcm)
    result = SpokenText(text, b"".join(pieces), tuple(timings_list))
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(pcm_path, result.pcm)
    _write_atomically(words_path, json.dumps(result.words).encode())
    return result


def _speak_word(word: str, voice: str, words_per_minute: int) -> bytes:
    # sox: -D no dither (it is random, and pointless from 16-bit to 16-bit), -R repeatable.
    wav = run_media_tool(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", "--", word])
    return run_media_tool(
        ["sox", "-V1", "-R", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE_HZ), "-c", "1", "-b", "16",
         "-e", "signed-integer", "-L", "-"],
        stdin=wav,
    )  # fmt: skip


def _trim(pcm: bytes) -> bytes:
    """``pcm`` without the silence espeak-ng puts before and after a word."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE])
    loud = [i for i, sample in enumerate(samples) if abs(sample) >= SILENCE_THRESHOLD]
    if not loud:
        return pcm
    return samples[loud[0] : loud[-1] + 1].tobytes()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` so a concurrent reader never sees half of it."""
    partial = path.with_name(f"{path.name}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    partial.replace(path)
