"""The real clock."""

from __future__ import annotations

import time


class SystemClock:
    """``Clock`` backed by the operating system."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ms(self) -> float:
        return time.perf_counter() * 1000.0
