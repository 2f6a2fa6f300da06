"""Conversions the network itself verifies, per offer type, with a sentence of evidence each.

A CRM order says a subscriber bought; the gateway's telemetry says whether the product is
really there and doing what it was sold for. Per converted home, the day rollups
(``home_days``, :mod:`collector.profiles.rollup`) from before the order are compared with
those from the order's day on:

- ``mesh_node`` (mesh, FTTR): more mesh nodes or APs in the topology than before the order;
- ``plan``: a faster plan in the CRM than when the audience was frozen, or reported by the
  gateway after the order, or a WAN throughput (p95 of the windows' download rates) after
  the order above the old plan's speed, which the old plan could not carry;
- ``video_hours``: engaged video hours a day (long, short and live video) up by a tenth and
  at least a quarter of an hour;
- ``latency``: the measured delay to the internet down by at least 15% and 3 ms;
- ``none``: nothing to verify.

Pure comparisons (:func:`judge`) over :class:`Figures` of a span of days; :func:`verify`
reads the days.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector.profiles import layout
from collector.store.profiles import Profiles
from collector.store.sql import Database, in_list

DAY_S = 86400
#: Days before the order compared with the days after it.
BEFORE_DAYS = 14
VIDEO = ("video", "short_video", "live_streaming")
_VIDEO_AT = [layout.cat_at(c, layout.CAT_ENGAGED) for c in VIDEO]
_INTERNET = layout.QUALITY + 4 * layout.QUALITY_TARGETS.index("internet")
REPORTS_PER_DAY = 96
MS_SCALE = 10  # delays are stored in tenths of a millisecond (rollup.MS_SCALE)


@dataclass(frozen=True)
class Figures:
    """What a span of days shows of a home: the most mesh nodes, the fastest reported plan, the
    p95 download rate, engaged video hours a day and the mean delay to the internet."""

    days: int
    mesh: int
    plan_kbps: int
    p95_kbps: float | None
    video_hours: float | None
    delay_ms: float | None


@dataclass(frozen=True)
class Verified:
    """A conversion the telemetry confirms, and the sentence that says how."""

    gateway_id: str
    subscriber_id: str
    evidence: str


def _at(v: list[int], i: int) -> int:
    return v[i] if i < len(v) else 0  # a vector stored before a block was appended reads as zeros


def figures(days: Iterable[Mapping[str, Any]]) -> Figures:
    """The :class:`Figures` of day rollups (in any order)."""
    n = mesh = plan = reports = video = q_windows = q_delay = 0
    rates = [0] * layout.RATE_BUCKETS
    for d in days:
        n += 1
        mesh = max(mesh, int(d.get("mesh") or 0))
        plan = max(plan, int(d.get("plan") or 0))
        v = d.get("v") or []
        reports += _at(v, layout.N)
        video += sum(_at(v, i) for i in _VIDEO_AT)
        q_windows += _at(v, _INTERNET)
        q_delay += _at(v, _INTERNET + 1)
        for i in range(layout.RATE_BUCKETS):
            rates[i] += _at(v, layout.RATE_WINDOWS + i)
    p95: float | None = None
    if sum(rates):
        enough, seen = 0.05 * sum(rates), 0
        for i in range(layout.RATE_BUCKETS - 1, -1, -1):  # from the fastest windows down
            seen += rates[i]
            if seen >= enough:
                p95 = layout.RATE_MIDS[i]
                break
    observed = reports / REPORTS_PER_DAY  # days' worth of reports
    return Figures(n, mesh, plan, p95, round(video / 60 / observed, 3) if observed else None,
                   round(q_delay / q_windows / MS_SCALE, 1) if q_windows else None)  # fmt: skip


def _mbps(kbps: float) -> str:
    return f"{kbps / 1000:.0f} Mbit/s"


def judge(
    verify: str, before: Figures, after: Figures, plan_then: float | None, plan_now: float | None
) -> str | None:
    """The evidence sentence if the days ``after`` the order show the offer, else ``None``.
    ``plan_then``/``plan_now``: the CRM plan (Mbit/s) when frozen and now."""
    span = f"({before.days} day(s) before the order, {after.days} from it)"
    if verify == "mesh_node":
        if after.mesh > before.mesh:
            return f"mesh nodes/APs in the topology {before.mesh} -> {after.mesh} {span}"
        return None
    if verify == "plan":
        proof = []
        if plan_then and plan_now and plan_now > plan_then:
            proof.append(f"CRM plan {plan_then:g} -> {plan_now:g} Mbit/s")
        if before.plan_kbps and after.plan_kbps > before.plan_kbps:
            proof.append(
                f"plan reported by the gateway {_mbps(before.plan_kbps)} -> {_mbps(after.plan_kbps)}"
            )
        old_kbps = (plan_then or 0) * 1000 or before.plan_kbps
        was = f"{_mbps(before.p95_kbps)} -> " if before.p95_kbps else ""
        if after.p95_kbps and old_kbps and after.p95_kbps > 1.05 * old_kbps:
            proof.append(
                f"WAN throughput p95 {was}{_mbps(after.p95_kbps)}, above the old plan's {_mbps(old_kbps)}"
            )
        elif proof and after.p95_kbps:  # not proof (a home may not use the new speed yet), but worth saying
            proof.append(f"WAN throughput p95 {was}{_mbps(after.p95_kbps)}")
        return f"{'; '.join(proof)} {span}" if proof else None
    if verify == "video_hours":
        b, a = before.video_hours, after.video_hours
        if b is not None and a is not None and a >= 1.1 * b and a - b >= 0.25:
            return f"video watched {b:.1f} -> {a:.1f} h/day {span}"
        return None
    if verify == "latency":
        b, a = before.delay_ms, after.delay_ms
        if b is not None and a is not None and a <= 0.85 * b and b - a >= 3.0:
            return f"delay to the internet {b:.0f} -> {a:.0f} ms {span}"
        return None
    return None


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


async def verify(db: Database, verify: str, converted: Mapping[str, tuple[str, float]],
                 plans_then: Mapping[str, float | None]) -> list[Verified]:  # fmt: skip
    """The converted homes (gateway -> (subscriber, order time)) whose telemetry shows the offer."""
    if not converted or verify == "none":
        return []
    gids = sorted(converted)
    first = min(at for _, at in converted.values())
    days = await Profiles(db).home_days(int(first // DAY_S) - BEFORE_DAYS, gateway_ids=gids)
    by_gateway: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for gid, day, data in days:
        by_gateway.setdefault(gid, []).append((day, data))
    plans_now: dict[str, float | None] = {}
    if verify == "plan":
        for i in range(0, len(gids), 500):
            part = gids[i : i + 500]
            rows = await db.fetch(
                f"SELECT gateway_id, plan_down_mbps FROM subscribers WHERE gateway_id IN {in_list(part)}",
                part,
            )
            plans_now.update({r["gateway_id"]: r["plan_down_mbps"] for r in rows})
    out = []
    for gid in gids:
        subscriber, at = converted[gid]
        order_day = math.floor(at / DAY_S)
        mine = by_gateway.get(gid, [])
        before = figures(d for day, d in mine if order_day - BEFORE_DAYS <= day < order_day)
        after = figures(d for day, d in mine if day >= order_day)
        sentence = judge(verify, before, after, plans_then.get(gid), plans_now.get(gid))
        if sentence:
            out.append(Verified(gid, subscriber, f"{sentence}; ordered {_day(at)}"))
    return out
