"""Hesitations in a caller's words, and where Lex's end timeout would cut an utterance.

A recorded call marks a hesitation with ``…`` (or ``...``) between two words: "my account number
is … four four eight … one two nine". The words Lex hears (and the turn function and the model
get) are the text without its marks (``without_pauses``); the caller's synthesized speech has a
silence there (``sim.speech_audio.synthesize_turn``, ``pause_ms`` each).

Lex ends the caller's turn at the first silence as long as its end timeout: ``false_cutoff``
says which word Lex would not have heard in the same turn (the caller's utterance split in two),
given each word's start and end. ``python -m sim.end_of_turn events/calls`` prints the silences
between the recorded callers' synthesized words and which utterances each end timeout of
``chalicelib/data/end_of_turn.json`` would cut (espeak-ng and sox; the audio cache is reused).
"""

from __future__ import annotations

import argparse
import itertools
import re
from array import array
from collections.abc import Sequence

PAUSE_MARK = "…"
_MARKS = re.compile(r"…|\.{3,}")
HESITATION_MS = 900  # a caller's hesitation while reading a number, unless the turn says otherwise


class PauseMarkPlacementError(ValueError):
    """A pause mark that is not between two words (a text that starts or ends with one)."""


def words_and_pauses(text: str) -> tuple[tuple[str, ...], frozenset[int]]:
    """The words of ``text`` and the indices of the words a hesitation comes before.

    Consecutive marks are one hesitation; a mark before the first word or after the last is no
    hesitation inside the utterance, and is dropped (``check_pause_marks`` refuses it).

    Example:
        >>> words_and_pauses("four four eight … one two nine")
        (('four', 'four', 'eight', 'one', 'two', 'nine'), frozenset({3}))
    """
    words: list[str] = []
    pauses: set[int] = set()
    pending = False
    for token in _MARKS.sub(f" {PAUSE_MARK} ", text).split():
        if token == PAUSE_MARK:
            pending = bool(words)
            continue
        if pending:
            pauses.add(len(words))
            pending = False
        words.append(token)
    return tuple(words), frozenset(pauses)


def check_pause_marks(text: str) -> None:
    """Raise ``PauseMarkPlacementError`` if a pause mark of ``text`` is not between two words."""
    tokens = _MARKS.sub(f" {PAUSE_MARK} ", text).split()
    if tokens and PAUSE_MARK in (tokens[0], tokens[-1]):
        raise PauseMarkPlacementError(f"a pause mark goes between two words, not before or after them: {text!r}")


def has_pauses(text: str) -> bool:
    return _MARKS.search(text) is not None


def without_pauses(text: str) -> str:
    """``text`` as Lex hears it: its words, without the pause marks (white space folded where
    there were marks).

    Example:
        >>> without_pauses("it's four four eight... one two nine")
        "it's four four eight one two nine"
    """
    if not has_pauses(text):
        return text
    return " ".join(words_and_pauses(text)[0])


def false_cutoff(words: Sequence[tuple[str, int, int]], end_timeout_ms: int) -> int | None:
    """The index of the first word after a silence of at least ``end_timeout_ms``: where Lex
    would have ended the caller's turn too early; None when it hears every word in one turn.

    Args:
        words: ``(word, start_ms, end_ms)`` in the order spoken (``SpokenText.words``).
        end_timeout_ms: the silence Lex waits for after the caller's last word.

    Example:
        >>> false_cutoff([("four", 0, 300), ("eight", 1200, 1500)], 600)
        1
        >>> false_cutoff([("four", 0, 300), ("eight", 1200, 1500)], 1400) is None
        True
    """
    for index in range(1, len(words)):
        if words[index][1] - words[index - 1][2] >= end_timeout_ms:
            return index
    return None


def gaps_ms(words: Sequence[tuple[str, int, int]]) -> list[int]:
    """The silences between consecutive words (ms)."""
    return [b[1] - a[2] for a, b in itertools.pairwise(words)]


def silent_runs_ms(pcm: bytes, sample_rate_hz: int, threshold: int, frame_ms: int = 10) -> list[int]:
    """Every run of silent frames inside ``pcm`` (16-bit mono), in ms: a frame is silent when no
    sample reaches ``threshold``. Inside a word too (a stop's closure), which word timings miss."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    frame = sample_rate_hz * frame_ms // 1000
    runs: list[int] = []
    current = 0
    for start in range(0, len(samples), frame):
        if max((abs(s) for s in samples[start : start + frame]), default=0) < threshold:
            current += frame_ms
        elif current:
            runs.append(current)
            current = 0
    return runs


def _percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


def main(argv: list[str] | None = None) -> int:
    """Print the silences in the recorded callers' synthesized speech and what each end timeout
    of the shipped ``end_of_turn.json`` would cut."""
    from chalicelib.adapters.data_files import load_end_of_turn  # noqa: PLC0415 - a CLI's imports
    from chalicelib.domain.speech import SAMPLE_RATE_HZ  # noqa: PLC0415
    from sim.calls import call_files, load_call  # noqa: PLC0415
    from sim.speech_audio import SILENCE_THRESHOLD, synthesize_turn  # noqa: PLC0415

    parser = argparse.ArgumentParser(description="Silences in the callers' speech and the end timeouts' cuts.")
    parser.add_argument("paths", nargs="+", help="recorded call files or folders")
    args = parser.parse_args(argv)
    timeouts = load_end_of_turn().timeouts_ms
    between: list[int] = []
    hesitations: list[int] = []
    inside: list[int] = []
    cut: dict[str, list[str]] = {kind.value: [] for kind in timeouts}
    turns = 0
    for path in call_files(args.paths):
        call = load_call(path)
        for n, turn in enumerate(call.turns, start=1):
            spoken = synthesize_turn(turn.spoken, pause_ms=turn.pause_ms)
            _, pauses = words_and_pauses(turn.spoken)
            turns += 1
            for index, gap in enumerate(gaps_ms(spoken.words), start=1):
                (hesitations if index in pauses else between).append(gap)
            if not pauses:  # the silences of fluent speech: between and inside words
                inside.append(max(silent_runs_ms(spoken.pcm, SAMPLE_RATE_HZ, SILENCE_THRESHOLD), default=0))
            for kind, ms in timeouts.items():
                if false_cutoff(spoken.words, ms) is not None:
                    cut[kind.value].append(f"{path.stem}#{n}")
    print(f"{turns} caller turns; silence between words (ms): min {min(between, default=0)} "
          f"p50 {_percentile(between, 0.5)} p99 {_percentile(between, 0.99)} max {max(between, default=0)} "
          f"({len(between)} gaps); longest silent run (10 ms frames) in a turn without hesitation: "
          f"{max(inside, default=0)}")  # fmt: skip
    if hesitations:
        print(f"hesitations (ms): {len(hesitations)}, min {min(hesitations)} max {max(hesitations)}")
    for kind, ms in sorted(timeouts.items(), key=lambda item: item[1]):
        names = cut[kind.value]
        print(f"{kind.value:12s} {ms:5d} ms would cut {len(names)} turn(s){': ' + ', '.join(names) if names else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
