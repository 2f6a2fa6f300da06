"""What an opted-in agent would report as ``unclassified`` (protocol 1.3) for a virtual home.

Some domains are shared by many homes (a regional news site, a city portal, a small video
service, a smart plug's cloud, a game's patch server: what an operator would want to classify),
and each home also has one of its own, which no other home sends, so the collector's view of
the fleet's unclassified domains has something in it and something it must keep hidden.
Deterministic per gateway id and seed; a random stream of its own, so turning it on changes
nothing else a home reports.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

#: (registrable domain, where an agent would count its bytes, share of homes that use it)
SHARED = (
    ("regional-news.example", "web", 0.7),
    ("city-portal.example", "web", 0.5),
    ("indie-video.example", "web", 0.4),
    ("plug-cloud.example", "other", 0.3),
    ("game-patch.example", "other", 0.25),
)


def _uses(gateway_id: str, domain: str, share: float) -> bool:
    return zlib.crc32(f"{gateway_id}/{domain}".encode()) % 1000 < share * 1000


class UnnamedTraffic:
    """One home's unclassified domains: a share of its ``web`` and ``other`` bytes each window."""

    def __init__(self, gateway_id: str, seed: int, top: int) -> None:
        self.top = top
        self.rng = random.Random(f"unclassified:{seed}")
        own = f"site-{zlib.crc32(gateway_id.encode()):08x}.example"  # this home's alone
        self.domains = [(d, cat) for d, cat, share in SHARED if _uses(gateway_id, d, share)] + [(own, "web")]

    def rows(self, apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The window's ``unclassified`` section, from its ``apps`` rows (the bytes it names stay there)."""
        by_cat: dict[str, tuple[int, int]] = {}
        for row in apps:
            if row["category"] in ("web", "other"):
                down, minutes = by_cat.get(row["category"], (0, 0))
                by_cat[row["category"]] = (down + row["bytes_down"], max(minutes, row["active_minutes"]))
        out: list[dict[str, Any]] = []
        for domain, preferred in self.domains:
            # where an agent counted them: web for a web site, else whatever this window holds
            cat = preferred if preferred in by_cat else next(iter(sorted(by_cat)), preferred)
            down, minutes = by_cat.get(cat, (0, 0))
            if down <= 0 or self.rng.random() < 0.3:  # not every window visits every site
                continue
            share = int(down * self.rng.uniform(0.02, 0.12))  # at most 6 x 12%: never more than was counted
            if share > 0:
                out.append({"domain": domain, "category": cat, "bytes_up": share // 50, "bytes_down": share,
                            "active_minutes": max(1, minutes // 2)})  # fmt: skip
        out.sort(key=lambda r: (-(r["bytes_up"] + r["bytes_down"]), r["domain"]))
        return out[: self.top]
