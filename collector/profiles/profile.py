"""A home's profile over a window of days: six dimensions built from its day rollups and CRM row.

The dimensions are terminals, traffic, network quality, plan, preferences and competitor
signals (plus the activity they rest on). "Per day" figures divide by the days the window
has observed since the home first reported (so a new home is not diluted), and series
"on N of M days" count complete UTC days only. Every figure is a plain number so the
rules' evidence can quote it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from collector.profiles import layout
from collector.profiles.config import WINDOWS, ProfilesConfig
from collector.profiles.quality import NetworkQuality, Terminals, network_quality, terminals_of
from collector.profiles.rollup import merge_many
from collector.profiles.window import SLOTS_PER_DAY

GB = 1e9
#: What a profile reads from the window's merged rollup (per-day keys such as the slot bitmaps
#: are read day by day); merging only these is a third of an evaluation's merge work.
PROFILE_KEYS = ("v", "tm", "comp", "qmax", "mesh", "plan", "sx", "apps", "hb")
#: The last half hour is not yet expected: reports arrive after their window ends.
SETTLE_S = 1800
_DAY_MASK = (1 << SLOTS_PER_DAY) - 1


@dataclass(frozen=True, slots=True)
class _Settings:
    """The ``[profile]`` figures every home reads, resolved once per configuration."""

    utc_offset_h: int
    peak_hours: frozenset[int]
    busy_share_of_plan: float
    high_bitrate_kbps: float
    high_from: int  # first position of the high-bitrate rate buckets in ``v``
    strong_buckets: tuple[int, ...]  # competitor signal buckets at or above competitor_strong_dbm
    own_operators: frozenset[str]
    busy_from: dict[float, int]  # plan kbps -> first busy rate bucket (filled as plans are met)


def _settings_of(config: ProfilesConfig) -> _Settings:
    prof = config.profile
    strong = int(prof["competitor_strong_dbm"])
    high = float(prof["high_bitrate_kbps"])
    return _Settings(
        utc_offset_h=int(prof["utc_offset_h"]),
        peak_hours=frozenset(prof["peak_hours"]),
        busy_share_of_plan=float(prof["busy_share_of_plan"]),
        high_bitrate_kbps=high,
        high_from=layout.RATE_BYTES + layout.first_bucket_from(high),
        # a bucket counts as strong when all of it is at or above the threshold
        strong_buckets=tuple(i for i in range(layout.SIG_BUCKETS) if layout.sig_bucket_top(i) - 4 >= strong),
        own_operators=frozenset(prof["own_operators"]),
        busy_from={},
    )


def _settings(config: ProfilesConfig) -> _Settings:
    return config.derived("profile", _settings_of)


@dataclass(slots=True)
class Activity:
    """When the home reported, and how much of the window it was reachable."""

    start: int  # when the window's observation begins (first report, or the window start)
    observed_days: float
    complete_days: int
    coverage: float  # share of expected 15-minute slots with a report and the WAN up
    longest_offline_h: float
    online_hours_per_day: float  # engaged: someone used a foreground application on a personal terminal
    #: Hours a day devices and systems were busy on their own (plugs, cameras, the iot and
    #: background categories): counted apart, never engaged.
    background_hours_per_day: float = 0.0
    background_gb_per_day: float = 0.0


@dataclass(slots=True)
class Traffic:
    """Volume, when it happens, and how it sits against the plan."""

    gb_per_day: float
    down_gb_per_day: float
    up_gb_per_day: float
    daily_gb: list[float]  # complete days, oldest first
    peak_hour: int | None  # local hour with the most bytes
    peak_share: float  # share of bytes in the configured peak hours
    busy_windows_per_day: float | None  # windows at >= busy_share_of_plan of the plan (None: no plan)
    p95_kbps: float  # 95th percentile of the active windows' average download rate
    utilisation: float | None  # p95 against the plan speed
    high_bitrate_share: float  # share of download bytes at >= high_bitrate_kbps
    busy_share_of_plan: float
    high_bitrate_kbps: float
    plan_mbps: float | None


@dataclass(slots=True)
class Plan:
    """The subscription, from the operator's CRM import (or the gateway's own plan figures)."""

    source: str | None = None  # "crm", "report" or None
    subscriber_id: str | None = None
    down_mbps: float | None = None
    up_mbps: float | None = None
    price: float | None = None
    contract_end: str | None = None
    days_to_contract_end: int | None = None
    area: str | None = None
    community: str | None = None
    #: Optional CRM figures churn uses: months since joining, complaints in 90 days, amount overdue.
    tenure_months: float | None = None
    complaints: float | None = None
    arrears: float | None = None


@dataclass(slots=True)
class Preferences:
    """What the home does, in engaged hours a day per category, and with which applications."""

    hours_per_day: dict[str, float]
    daily_minutes: dict[str, list[float]]  # complete days, oldest first
    top_apps: dict[str, list[str]]
    upload_hours_per_day: dict[str, float]  # windows where the category sent more than it received
    upload_kbps: dict[str, float]
    weekday_hours_per_day: dict[str, float]
    short_video_share: float | None
    #: Live streams watched (live_streaming time less the windows that broadcast): video too.
    live_viewing_hours_per_day: float = 0.0


@dataclass(slots=True)
class Competitor:
    """Signs of another operator: its networks from inside the home, declining use, absences."""

    operators: list[dict[str, Any]]  # operator, ssid, max_dbm, strong_share
    scans: int
    strongest: dict[str, Any] | None
    decline_ratio: float | None  # recent / earlier engaged hours a day (complete days)
    recent_days: int
    earlier_hours_per_day: float
    recent_hours_per_day: float


@dataclass(slots=True)
class Profile:
    """Everything rules may read about one home over one window."""

    gateway_id: str
    window: str
    as_of: int
    reports: int
    activity: Activity
    terminals: Terminals
    traffic: Traffic
    quality: NetworkQuality
    plan: Plan
    preferences: Preferences
    competitor: Competitor
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's ``profile``)."""
        return asdict(self)

    def for_window(self, window: str) -> Profile:
        """The same profile under another window's name (windows covering the same days).

        ``dataclasses.replace`` without its introspection: the dimensions are shared.
        """
        copy = object.__new__(Profile)
        for name in _PROFILE_SLOTS:
            setattr(copy, name, getattr(self, name))
        copy.window = window
        return copy


_PROFILE_SLOTS = tuple(f.name for f in fields(Profile))


def as_of_day(as_of: int) -> int:
    """The UTC day an evaluation at ``as_of`` belongs to (midnight closes the previous day)."""
    return (as_of - 1) // 86400


def window_days(window: str, as_of: int) -> tuple[int, int]:
    """First and last UTC day of a window ending with ``as_of``'s day."""
    last = as_of_day(as_of)
    return last - WINDOWS[window] + 1, last


def plan_of(subscriber: dict[str, Any] | None, reported_kbps: int | None, as_of: int) -> Plan:
    """The plan: CRM first; the gateway's reported plan speed when the CRM has no row."""
    if subscriber:
        end = subscriber.get("contract_end") or None
        days_left = None
        if end:
            days_left = _days_between(str(end), as_of)
        return Plan(
            source="crm",
            subscriber_id=subscriber.get("subscriber_id"),
            down_mbps=subscriber.get("plan_down_mbps"),
            up_mbps=subscriber.get("plan_up_mbps"),
            price=subscriber.get("price"),
            contract_end=end,
            days_to_contract_end=days_left,
            area=subscriber.get("area"),
            community=subscriber.get("community"),
            tenure_months=subscriber.get("tenure_months"),
            complaints=subscriber.get("complaints"),
            arrears=subscriber.get("arrears"),
        )
    if reported_kbps:
        return Plan(source="report", down_mbps=reported_kbps / 1000)
    return Plan()


@lru_cache(maxsize=4096)
def _days_between(end: str, as_of: int) -> int:
    # the same few contract ends and one as_of for a whole fleet
    return (date.fromisoformat(end) - datetime.fromtimestamp(as_of, UTC).date()).days


def _longest_zero_run(bits: str) -> int:
    # a binary search on "is there a run of k zeros": a dozen substring searches in C instead
    # of a Python object per run (or per slot)
    low, high = 0, bits.count("0")
    while low < high:
        k = (low + high + 1) // 2
        if "0" * k in bits:
            low = k
        else:
            high = k - 1
    return low


def _activity(
    rows: list[tuple[int, dict[str, Any]]], total: dict[str, Any], start: int, as_of: int, complete: list[int]
) -> Activity:
    observed = max((as_of - start) / 86400, 1 / SLOTS_PER_DAY)
    first_slot = start // 900
    last_slot = max(first_slot, (as_of - SETTLE_S) // 900)
    first_day = first_slot // SLOTS_PER_DAY
    days = last_slot // SLOTS_PER_DAY + 1 - first_day
    # every day's slots in one integer, day by day from the lowest bits (slot 0 is the lowest bit)
    bits = 0
    for d, data in rows:
        if first_day <= d < first_day + days:
            up = int(data["slots"], 16) & ~int(data.get("off", "0"), 16)
            bits |= (up & _DAY_MASK) << (SLOTS_PER_DAY * (d - first_day))
    offset = first_slot - first_day * SLOTS_PER_DAY
    slots = last_slot - first_slot
    window = (bits >> offset) & ((1 << slots) - 1)
    reported = window.bit_count()
    # the longest stretch offline needs the slots as text (forward in time); mostly they are all up
    longest = 0 if reported == slots else _longest_zero_run(f"{window:0{slots}b}"[::-1])
    expected = max(1, slots)
    return Activity(
        start=start,
        observed_days=round(observed, 3),
        complete_days=len(complete),
        coverage=round(reported / expected, 3),
        longest_offline_h=longest / 4,
        online_hours_per_day=round(total["v"][layout.ENGAGED] / 60 / observed, 2),
        background_hours_per_day=round(_at(total["v"], layout.BACKGROUND + layout.BG_MIN) / 60 / observed, 2),
        background_gb_per_day=round(_at(total["v"], layout.BACKGROUND + layout.BG_BYTES) / 1e9 / observed, 3),
    )


def _at(v: list[int], i: int) -> int:
    # a vector stored before a block was appended reads as zeros past its end
    return v[i] if i < len(v) else 0


def _traffic(
    total: dict[str, Any], daily: list[float], observed: float, plan: Plan, config: ProfilesConfig
) -> Traffic:
    st = _settings(config)
    v = total.get("v") or layout.zeros()
    down, up = v[layout.BYTES_DOWN], v[layout.BYTES_UP]
    peak_hour: int | None = None
    peak_share = 0.0
    if total.get("hb"):  # bytes per hour are detail: only the home's own page reads them
        offset = st.utc_offset_h
        local = [total["hb"][(h - offset) % 24] for h in range(24)]
        if sum(local):
            peak_hour = max(range(24), key=lambda h: local[h])
            peak_share = round(sum(local[h] for h in st.peak_hours) / sum(local), 3)
    counts = v[layout.RATE_WINDOWS : layout.RATE_WINDOWS + layout.RATE_BUCKETS]
    active = sum(counts)
    p95 = 0.0
    if active:
        enough = 0.05 * active
        seen = 0
        for i in range(layout.RATE_BUCKETS - 1, -1, -1):  # from the fastest windows down
            seen += counts[i]
            if seen >= enough:
                p95 = layout.RATE_MIDS[i]
                break
    busy: float | None = None
    utilisation: float | None = None
    if plan.down_mbps:
        plan_kbps = plan.down_mbps * 1000
        busy_from = st.busy_from.get(plan_kbps)
        if busy_from is None:
            busy_from = st.busy_from[plan_kbps] = layout.first_bucket_from(st.busy_share_of_plan * plan_kbps)
        busy = round(sum(counts[busy_from:]) / observed, 2)
        utilisation = round(p95 / plan_kbps, 3)
    high_bytes = sum(v[st.high_from : layout.RATE_BYTES + layout.RATE_BUCKETS])
    return Traffic(
        gb_per_day=round((down + up) / GB / observed, 3),
        down_gb_per_day=round(down / GB / observed, 3),
        up_gb_per_day=round(up / GB / observed, 3),
        daily_gb=[round(x / GB, 3) for x in daily],
        peak_hour=peak_hour,
        peak_share=peak_share,
        busy_windows_per_day=busy,
        p95_kbps=round(p95, 1),
        utilisation=utilisation,
        high_bitrate_share=round(high_bytes / down, 3) if down else 0.0,
        busy_share_of_plan=st.busy_share_of_plan,
        high_bitrate_kbps=st.high_bitrate_kbps,
        plan_mbps=plan.down_mbps,
    )


def _preferences(
    total: dict[str, Any], rows: dict[int, dict[str, Any]], complete: list[int], observed: float
) -> Preferences:
    v = total.get("v") or layout.zeros()
    used = [
        (c, at) for c, at in layout.CAT_OFFSETS if v[at] or v[at + layout.CAT_DOWN] or v[at + layout.CAT_UP]
    ]
    hours = {c: round(v[at + layout.CAT_ENGAGED] / 60 / observed, 3) for c, at in used}
    days: list[Any] = [rows[d]["v"] if d in rows else None for d in complete]
    # per-day series of the categories someone spent time on (the others are all zeros)
    if all(days):
        daily = {c: list(map(float, map(itemgetter(at), days))) for c, at in used if v[at]}
    else:
        daily = {c: [float(dv[at]) if dv else 0.0 for dv in days] for c, at in used if v[at]}
    # 1970-01-01 (day 0) was a Thursday
    weekday = [i for i, d in enumerate(complete) if (d + 3) % 7 < 5]
    if len(weekday) > 1:
        pick = itemgetter(*weekday)  # a tuple of the weekdays' minutes, in order
        n = len(weekday)
        weekday_hours = {c: round(sum(pick(m)) / 60 / n, 3) for c, m in daily.items()}
    elif weekday:
        weekday_hours = {
            c: round(sum([m[i] for i in weekday]) / 60 / len(weekday), 3) for c, m in daily.items()
        }
    else:
        weekday_hours = dict(hours)
    top: dict[str, list[str]] = {}
    for c, apps in (total.get("apps") or {}).items():  # detail only
        top[c] = [a for a, _ in sorted(apps.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
    upload: dict[str, float] = {}
    upload_kbps: dict[str, float] = {}
    for c, at in used:
        minutes = v[at + layout.CAT_UP_MIN]
        if minutes:
            upload[c] = round(minutes / 60 / observed, 3)
            upload_kbps[c] = round(v[at + layout.CAT_UP_BYTES] * 8 / (minutes * 60) / 1000, 1)
    short, long = hours.get("short_video", 0.0), hours.get("video", 0.0)
    return Preferences(
        hours_per_day=hours,
        daily_minutes=daily,
        top_apps=top,
        upload_hours_per_day=upload,
        upload_kbps=upload_kbps,
        weekday_hours_per_day=weekday_hours,
        short_video_share=round(short / (short + long), 3) if short + long else None,
        live_viewing_hours_per_day=round(
            max(0.0, hours.get("live_streaming", 0.0) - upload.get("live_streaming", 0.0)), 3
        ),
    )


def _competitor(
    total: dict[str, Any], engaged_daily: list[float], complete: list[int], config: ProfilesConfig
) -> Competitor:
    st = _settings(config)
    own = st.own_operators
    scans = int((total.get("v") or layout.zeros())[layout.SCANS])
    strong_buckets = st.strong_buckets
    ops: list[dict[str, Any]] = []
    for op, (max_dbm, ssid, counts) in (total.get("comp") or {}).items():
        if op in own:
            continue
        strong_scans = sum(counts[i] for i in strong_buckets)
        ops.append(
            {
                "operator": op,
                "ssid": ssid,
                "max_dbm": max_dbm,
                "strong_share": round(strong_scans / scans, 3) if scans else 0.0,
            }
        )
    ops.sort(key=lambda o: (-o["strong_share"], -o["max_dbm"], o["operator"]))
    recent_n = max(2, len(complete) // 3) if len(complete) >= 4 else 0
    ratio = None
    earlier_h = recent_h = 0.0
    if recent_n:
        earlier, recent = engaged_daily[:-recent_n], engaged_daily[-recent_n:]
        earlier_h = sum(earlier) / len(earlier) / 60
        recent_h = sum(recent) / len(recent) / 60
        ratio = round(recent_h / earlier_h, 3) if earlier_h else None
    return Competitor(
        operators=ops,
        scans=scans,
        strongest=ops[0] if ops else None,
        decline_ratio=ratio,
        recent_days=recent_n,
        earlier_hours_per_day=round(earlier_h, 2),
        recent_hours_per_day=round(recent_h, 2),
    )


def build_profile(
    gateway_id: str,
    days: list[tuple[int, dict[str, Any]]],
    subscriber: dict[str, Any] | None,
    config: ProfilesConfig,
    as_of: int,
    window: str = "7d",
) -> Profile:
    """The profile of one home over ``window`` ending with ``as_of``'s day.

    ``days`` may hold older days too: they only tell since when the home has reported.
    """
    first_day, last_day = window_days(window, as_of)
    # a day stored under an older, shorter layout reads as zeros past its end
    rows = [
        (d, data if len(data["v"]) >= layout.SIZE else {**data, "v": layout.fit(data["v"])})
        for d, data in days
        if first_day <= d <= last_day
    ]
    # a home with no rollup at all (only old results) is taken as known since the window began
    known_since = min((data["first"] for _, data in days), default=first_day * 86400)
    start = min(max(first_day * 86400, known_since), as_of)
    total: dict[str, Any] = merge_many((data for _, data in rows), PROFILE_KEYS) if rows else {}
    by_day = dict(rows)
    complete = [
        d
        for d in range(first_day, last_day + 1)
        if d * 86400 >= start // 86400 * 86400 and (d + 1) * 86400 <= as_of and (d + 1) * 86400 > start + 3600
    ]
    activity = _activity(rows, total, start, as_of, complete) if rows else _empty_activity(start, as_of)
    observed = activity.observed_days
    plan = plan_of(subscriber, total.get("plan"), as_of)
    vectors = [by_day[d]["v"] if d in by_day else None for d in complete]
    daily_bytes = [float(dv[layout.BYTES_DOWN] + dv[layout.BYTES_UP]) if dv else 0.0 for dv in vectors]
    engaged = [float(dv[layout.ENGAGED]) if dv else 0.0 for dv in vectors]
    preferences = _preferences(total, by_day, complete, observed)
    return Profile(
        gateway_id=gateway_id,
        window=window,
        as_of=as_of,
        reports=int(total["v"][layout.N]) if rows else 0,
        activity=activity,
        terminals=terminals_of(total, observed, config),
        traffic=_traffic(total, daily_bytes, observed, plan, config),
        quality=network_quality(total, config),
        plan=plan,
        preferences=preferences,
        competitor=_competitor(total, engaged, complete, config),
    )


def _empty_activity(start: int, as_of: int) -> Activity:
    observed = max((as_of - start) / 86400, 1 / SLOTS_PER_DAY)
    return Activity(start, round(observed, 3), 0, 0.0, math.floor(observed * 24 * 4) / 4, 0.0)
