"""Simulated time: report windows back-filled as fast as the collector takes them.

A back-fill of ``--days 7`` is 672 windows of 900 s per home, ending at a window
boundary (by default the last one before now), so the collector sees a week of history
whose timestamps are real past times and evaluates it as of the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

WINDOW_S = 900


@dataclass(frozen=True)
class SimClock:
    """``windows`` windows of ``window_s`` seconds, the last one ending at ``end``."""

    end: int
    windows: int
    window_s: int = WINDOW_S

    @classmethod
    def for_days(cls, days: float, end: int | None = None, window_s: int = WINDOW_S) -> SimClock:
        """The windows of ``days`` days ending at ``end`` (default: now), aligned to ``window_s``."""
        last = int(end if end is not None else time.time())
        last -= last % window_s
        return cls(last, max(1, round(days * 86400 / window_s)), window_s)

    @property
    def first_end(self) -> int:
        """The end of the first window."""
        return self.end - (self.windows - 1) * self.window_s

    @property
    def start(self) -> int:
        """The start of the first window."""
        return self.first_end - self.window_s

    @property
    def span(self) -> tuple[int, int]:
        """(start of the first window, end of the last)."""
        return self.start, self.end

    def window(self, k: int) -> tuple[int, int]:
        """The k-th window (0-based) as (start, end)."""
        end = self.first_end + k * self.window_s
        return end - self.window_s, end
