"""The DPI application categories: what an ``apps[].category`` on the wire may name.

Owned here, the floor both sides stand on: the agent's classifier tags flows with these, and
the collector's home-day vector keeps five figures per category at positions that are part of
the stored format. The tuple is APPEND-ONLY: a new category goes at the end (the collector
then gives it a block of its own at the end of the vector, so no stored position moves;
``tests/collector/profiles/test_layout.py`` pins this). Anything a report names outside the
tuple counts as ``other``.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "video", "short_video", "live_streaming", "game", "social", "messaging", "shopping", "app_store",
    "operator", "reading", "music", "work", "cloud", "web", "other",
    # appended: devices' own traffic (cloud heartbeats of plugs, cameras, speakers, TVs) and
    # the systems' (OS updates, telemetry, connectivity checks); never people's use
    "iot", "background",
)  # fmt: skip
#: The category unknown names count as.
OTHER = "other"
