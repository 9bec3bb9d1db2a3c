"""Seeded decisions that do not depend on the order requests arrive in.

Under concurrent load, a shared ``random.Random`` hands its numbers to whichever request comes
first, so the same seed would inject faults into different requests from one run to the next.
``SeededDraws`` instead draws from a hash of (seed, what the request is, how many times that same
request was seen before): the same seed gives the same faults to the same requests.
"""

from __future__ import annotations

import hashlib
import json
import threading


def draw(seed: int, *parts: object) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``parts``."""
    text = json.dumps([seed, *parts], sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class SeededDraws:
    """Per-request draws: ``next(fingerprint)`` returns the draws for the n-th occurrence of that
    request (a retry of the same request is a new occurrence and gets its own). Thread-safe."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def occurrence(self, fingerprint: str) -> int:
        with self._lock:
            n = self._seen.get(fingerprint, 0)
            self._seen[fingerprint] = n + 1
        return n

    def pick(self, fingerprint: str, rates: dict[str, float], kinds: tuple[str, ...]) -> tuple[str | None, float]:
        """(the fault this occurrence of the request gets, if any; a second draw for jitter)."""
        n = self.occurrence(fingerprint)
        for kind in kinds:
            if rates.get(kind, 0.0) and draw(self.seed, fingerprint, n, kind) < rates[kind]:
                return kind, draw(self.seed, fingerprint, n, "jitter")
        return None, draw(self.seed, fingerprint, n, "jitter")
