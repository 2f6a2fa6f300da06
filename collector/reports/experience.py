"""What homes lived through in a period: Wi-Fi experience, usage, areas and capacity.

Each home's profile is built from its day rollups of the period only (``build_profile``
over the smallest profile window that covers the period: ``day``, ``7d`` or ``30d``; a
31-day month is read over its last 30 days). Homes are read in chunks of gateways, so
memory stays bounded by the chunk, not the fleet.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from collector.profiles.config import WINDOWS, ProfilesConfig
from collector.profiles.profile import build_profile
from collector.reports.period import Period
from collector.store.base import InsightsStore

CHUNK = 250
#: A home's Wi-Fi score this many points below the period before counts as "got worse".
WORSE_BY = 10.0


@dataclass(frozen=True, slots=True)
class HomeFigures:
    """One home over one period (profile figures a report aggregates)."""

    gateway_id: str
    area: str | None
    wifi_score: float | None
    congestion_pct: float | None  # mean channel utilisation of its bands
    utilisation: float | None  # p95 download rate against the plan
    coverage: float  # share of 15-minute slots reported with the WAN up
    gb_per_day: float
    hours_per_day: dict[str, float]
    apps: tuple[str, ...]
    competitor: bool


def window_for(period: Period) -> str:
    """The smallest profile window covering ``period`` (the largest when none does)."""
    fitting = [w for w, n in sorted(WINDOWS.items(), key=lambda wn: wn[1]) if n >= period.days]
    return fitting[0] if fitting else max(WINDOWS, key=lambda w: WINDOWS[w])


def _figures(
    gid: str, days: list[tuple[int, dict[str, Any]]], sub: dict[str, Any] | None, config: ProfilesConfig,
    period: Period, competitor_share: float,
) -> HomeFigures | None:  # fmt: skip
    rows = [(d, data) for d, data in days if period.first_day <= d <= period.last_day]
    if not rows:
        return None
    p = build_profile(gid, rows, sub, config, period.end, window_for(period))
    busy = [v for v in p.quality.utilisation_pct.values() if v is not None]
    strongest = p.competitor.strongest
    return HomeFigures(
        gateway_id=gid,
        area=(sub or {}).get("area"),
        wifi_score=p.quality.wifi_score,
        congestion_pct=sum(busy) / len(busy) if busy else None,
        utilisation=p.traffic.utilisation,
        coverage=p.activity.coverage,
        gb_per_day=p.traffic.gb_per_day,
        hours_per_day={k: v for k, v in p.preferences.hours_per_day.items() if v > 0},
        apps=tuple(sorted({a for apps in p.preferences.top_apps.values() for a in apps})),
        competitor=bool(strongest and strongest["strong_share"] >= competitor_share),
    )


async def homes(
    store: InsightsStore, config: ProfilesConfig, now: Period, before: Period
) -> tuple[dict[str, HomeFigures], dict[str, HomeFigures]]:
    """Every home's figures in ``now`` and in ``before`` (homes with no day in a period are absent)."""
    first = min(now.first_day, before.first_day)
    last = max(now.last_day, before.last_day)
    ids = [g for g in await store.home_ids(first) if g]
    subs = await store.subscribers(ids if len(ids) < 20_000 else None)
    share = float(config.rule("churn_risk").get("competitor_scan_share", 0.3))
    out_now: dict[str, HomeFigures] = {}
    out_before: dict[str, HomeFigures] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        rows = await store.home_days(first, last, chunk, detail=True)  # detail: top applications

        def build(rows: list[tuple[str, int, dict[str, Any]]] = rows) -> None:
            by_home: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for gid, day, data in rows:
                by_home.setdefault(gid, []).append((day, data))
            for gid, days in by_home.items():
                for period, out in ((now, out_now), (before, out_before)):
                    found = _figures(gid, days, subs.get(gid), config, period, share)
                    if found is not None:
                        out[gid] = found

        await asyncio.to_thread(build)  # CPU work off the event loop (ingest keeps going)
    return out_now, out_before
