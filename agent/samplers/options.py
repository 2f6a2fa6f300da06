"""Sampler tunables, and a reader for settings that AgentConfig may not have yet.

Every tunable has a default here and a proposed configuration key. ``setting`` reads the key
from the configuration when it exists, so the sampler picks it up as soon as the key is added
to :class:`agent.config.AgentConfig`, and falls back to the default until then.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T", int, float, str, bool, tuple[str, ...])

#: Scan for neighbouring networks every this many windows (4 x 15 min = hourly); 0 turns scans off.
#: At most this many neighbours are reported, strongest first.
MAX_NEIGHBOURS = 100
#: Echo requests per target (gateway, internet); BusyBox ping needs whole-second intervals.
PING_COUNT = 5
#: Echo requests per LAN station; kept small because stations are many.
STATION_PING_COUNT = 3
#: At most this many stations are pinged per window (the most recently active first).
MAX_STATION_PINGS = 16
#: A station idle for longer than this is not pinged (it is probably asleep).
STATION_ACTIVE_MS = 60_000
