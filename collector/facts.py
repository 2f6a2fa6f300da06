"""Counter deltas from two consecutive reports of one gateway (rates follow in store/plan.py).

Counters arrive cumulative. Between two windows a counter may have been reset (the
gateway rebooted: its uptime went down; or a driver reloaded) or wrapped at 32 bits
(some Wi-Fi drivers). Deltas are never negative and never invented.
"""

from __future__ import annotations

WRAP32 = 2**32


def counter_delta(previous: int, current: int, rebooted: bool) -> int:
    """The amount counted between two readings of a cumulative counter."""
    if rebooted:
        return current  # counted since the reboot
    if current >= previous:
        return current - previous
    if previous < WRAP32 and previous - current > WRAP32 // 2:
        return current + WRAP32 - previous  # a 32-bit counter wrapped
    return current  # reset without a reboot (driver reload): count from zero
