"""Terminals and network quality of a merged rollup: the Wi-Fi experience score and its parts,
coverage holes per band, and each terminal's service-bearing capability (what its path
delivers against what its applications need).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.profiles import layout
from collector.profiles.config import ProfilesConfig
from collector.profiles.terminals import SMART_TYPES, WORK_TYPES, terminal_type
from collector.profiles.window import (
    LOSS_SCALE,
    MS_SCALE,
    PART_SCALE,
    PCT_SCALE,
    ST_BW_N,
    ST_BW_SUM,
    ST_DELAY,
    ST_JITTER,
    ST_LOSS,
    ST_PHY_SUM,
    ST_Q_N,
    ST_SIG_N,
    ST_SIG_SUM,
)


@dataclass(slots=True)
class Terminal:
    """One terminal seen often enough in the window."""

    mac: str
    type: str
    medium: str
    hostname: str
    vendor: str
    hours_per_day: float
    signal_dbm: float | None = None
    phy_mbps: float | None = None
    delay_ms: float | None = None  # to the internet through this terminal's link
    jitter_ms: float | None = None
    loss_pct: float | None = None
    reachable_mbps: float | None = None
    apps: list[str] = field(default_factory=list)  # categories it uses
    need_mbps: float | None = None
    served: bool | None = None  # None: nothing to judge (no needs, or no figures)
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Terminals:
    """How many terminals, of which kinds, on which bands."""

    count: int
    by_type: dict[str, int]
    by_band: dict[str, int]
    smart: int
    work: int
    premium: int
    unserved: int  # terminals whose path does not carry what their applications need
    items: list[Terminal]


@dataclass(slots=True)
class NetworkQuality:
    """Wi-Fi experience (0-100, with its parts), coverage holes, interference, the internet path."""

    wifi_score: float | None
    parts: dict[str, float]
    station_hours: float  # Wi-Fi station-time in the window, hours
    band_share: dict[str, float]
    weak_signal_dbm: int
    weak_share: dict[str, float]  # station-time at or below weak_signal_dbm, per band
    weak_share_all: float
    worst_band: str | None
    interference_pct: dict[str, float]
    utilisation_pct: dict[str, float]
    internet: dict[str, float] | None
    wan_gateway: dict[str, float] | None
    mesh_nodes: int


@dataclass(frozen=True, slots=True)
class _Settings:
    """The figures every home's quality and terminals read, resolved once per configuration."""

    weak_signal_dbm: int
    holes: tuple[int, ...]  # signal buckets at or below weak_signal_dbm
    wifi_weights: dict[str, float]
    presence_min_windows: int
    premium_vendors: frozenset[str]
    # (hostname, vendor) -> type, smart, work, premium: a fleet has few distinct names
    classes: dict[tuple[str, str, str, str], tuple[str, bool, bool, bool]]


def _settings_of(config: ProfilesConfig) -> _Settings:
    prof = config.profile
    weak_dbm = int(prof["weak_signal_dbm"])
    return _Settings(
        weak_signal_dbm=weak_dbm,
        # a bucket is a hole when all of it is at or below the threshold
        holes=tuple(i for i in range(layout.SIG_BUCKETS) if layout.sig_bucket_top(i) <= weak_dbm),
        wifi_weights=dict(config.wifi_score),
        presence_min_windows=int(prof["presence_min_windows"]),
        premium_vendors=frozenset(v.lower() for v in prof["premium_vendors"]),
        classes={},
    )


def _settings(config: ProfilesConfig) -> _Settings:
    return config.derived("quality", _settings_of)


#: Bound of the (hostname, vendor, DHCP vendor class, request list) classes kept per configuration.
_MAX_CLASSES = 65536


def _path(total: dict[str, Any], target: str) -> dict[str, float] | None:
    v = total.get("v")
    at = layout.QUALITY + 4 * layout.QUALITY_TARGETS.index(target)
    if not v or not v[at]:
        return None
    n = v[at]
    return {
        "delay_ms": round(v[at + 1] / n / MS_SCALE, 1),
        "jitter_ms": round(v[at + 2] / n / MS_SCALE, 1),
        "loss_pct": round(v[at + 3] / n / LOSS_SCALE, 2),
        "max_delay_ms": round((total.get("qmax") or {}).get(target, 0) / MS_SCALE, 1),
        "windows": n,
    }


def network_quality(total: dict[str, Any], config: ProfilesConfig) -> NetworkQuality:
    """The network-quality dimension of a merged rollup."""
    st = _settings(config)
    v = total.get("v") or layout.zeros()
    parts = {
        name: round(v[layout.WS + i] / v[layout.WN + i] / PART_SCALE, 1)
        for i, name in enumerate(layout.WIFI_PARTS)
        if v[layout.WN + i]
    }
    weights = {k: st.wifi_weights.get(k, 0.0) for k in parts}
    weight = sum(weights.values())
    score = round(sum(parts[k] * w for k, w in weights.items()) / weight, 1) if weight else None
    weak_dbm = st.weak_signal_dbm
    holes = st.holes
    counts: dict[str, int] = {}
    weak: dict[str, int] = {}
    for b, band in enumerate(layout.BANDS):
        at = layout.SIG + b * layout.SIG_BUCKETS
        n = sum(v[at : at + layout.SIG_BUCKETS])
        if n:
            counts[band] = n
            weak[band] = sum(v[at : at + len(holes)])  # holes are the lowest buckets
    all_n = sum(counts.values())
    weak_share = {band: round(weak[band] / n, 3) for band, n in counts.items()}
    # the worst band among those carrying a real share of the station-time
    worst = max(
        (band for band in weak_share if counts[band] >= 0.1 * all_n),
        key=lambda band: (weak_share[band], band),
        default=None,
    )
    interference: dict[str, float] = {}
    utilisation: dict[str, float] = {}
    for b, band in enumerate(layout.BANDS):
        at = layout.RADIO + 3 * b
        if v[at]:
            interference[band] = round(v[at + 1] / v[at] / PCT_SCALE, 1)
            utilisation[band] = round(v[at + 2] / v[at] / PCT_SCALE, 1)
    return NetworkQuality(
        wifi_score=score,
        parts=parts,
        station_hours=round(all_n / 4, 2),
        band_share={band: round(n / all_n, 3) for band, n in counts.items()} if all_n else {},
        weak_signal_dbm=weak_dbm,
        weak_share=weak_share,
        weak_share_all=round(sum(weak.values()) / all_n, 3) if all_n else 0.0,
        worst_band=worst,
        interference_pct=interference,
        utilisation_pct=utilisation,
        internet=_path(total, "internet"),
        wan_gateway=_path(total, "wan_gateway"),
        mesh_nodes=int(total.get("mesh", 0)),
    )


def _judge(t: Terminal, needs: dict[str, dict[str, float]]) -> None:
    wanted = [needs[a] for a in t.apps if a in needs]
    if not wanted:
        return
    need_kbps = max(w.get("kbps", 0) for w in wanted)
    t.need_mbps = round(need_kbps / 1000, 1)
    problems: list[str] = []
    if t.reachable_mbps is not None and t.reachable_mbps * 1000 < need_kbps:
        problems.append(f"bandwidth {t.reachable_mbps:.1f} of {t.need_mbps:.1f} Mbit/s")
    for key, label, unit in (
        ("delay_ms", "delay", "ms"),
        ("jitter_ms", "jitter", "ms"),
        ("loss_pct", "loss", "%"),
    ):
        value = getattr(t, key)
        limit = min((w[key] for w in wanted if key in w), default=None)
        if value is not None and limit is not None and value > limit:
            problems.append(f"{label} {value:g} {unit} > {limit:g}")
    t.problems = problems
    t.served = not problems


def terminals_of(total: dict[str, Any], observed_days: float, config: ProfilesConfig) -> Terminals:
    """The terminals dimension: terminals seen in at least ``presence_min_windows`` windows.

    When the rollup carries the detail part (``sx``), each terminal also gets its link
    figures and its service-bearing judgement; evaluations skip it for speed.
    """
    st = _settings(config)
    min_windows = st.presence_min_windows
    classes = st.classes
    detail: dict[str, dict[str, Any]] | None = total.get("sx")
    internet = _path(total, "internet") if detail is not None else None
    items: list[Terminal] = []
    by_type: dict[str, int] = {}
    by_band: dict[str, int] = {}
    smart = work = premium = unserved = 0
    for mac, entry in sorted((total.get("tm") or {}).items()):
        _, host, vendor, medium, windows = entry[:5]
        if windows < min_windows:
            continue
        dhcp = (entry[5], entry[6]) if len(entry) > 6 else ("", "")  # since protocol 1.2
        found = classes.get((host, vendor, *dhcp))
        if found is None:
            kind = terminal_type(host, vendor, *dhcp)
            found = (kind, kind in SMART_TYPES, kind in WORK_TYPES, vendor.lower() in st.premium_vendors)
            if len(classes) < _MAX_CLASSES:
                classes[host, vendor, *dhcp] = found
        kind, is_smart, is_work, is_premium = found
        t = Terminal(mac, kind, medium, host, vendor, round(windows / 4 / observed_days, 2))
        if detail is not None and mac in detail:
            _link(t, detail[mac], internet, observed_days, config)
            unserved += t.served is False
        items.append(t)
        by_type[kind] = by_type.get(kind, 0) + 1
        band = medium or "unknown"
        by_band[band] = by_band.get(band, 0) + 1
        smart += is_smart
        work += is_work
        premium += is_premium
    return Terminals(len(items), by_type, by_band, smart, work, premium, unserved, items)


def _link(
    t: Terminal,
    st: dict[str, Any],
    internet: dict[str, float] | None,
    observed_days: float,
    config: ProfilesConfig,
) -> None:
    x = st["x"]
    if x[ST_SIG_N]:
        t.signal_dbm = round(x[ST_SIG_SUM] / x[ST_SIG_N], 1)
        t.phy_mbps = round(x[ST_PHY_SUM] / x[ST_SIG_N] / 1000, 1)
    if x[ST_BW_N]:
        t.reachable_mbps = round(x[ST_BW_SUM] / x[ST_BW_N] / 1000, 1)
    elif t.phy_mbps is not None:
        t.reachable_mbps = round(t.phy_mbps * float(config.profile["phy_efficiency"]), 1)
    n = x[ST_Q_N]
    lan = (
        [x[ST_DELAY] / n / MS_SCALE, x[ST_JITTER] / n / MS_SCALE, x[ST_LOSS] / n / LOSS_SCALE] if n else None
    )
    if lan or internet:
        wan = (
            [internet["delay_ms"], internet["jitter_ms"], internet["loss_pct"]]
            if internet
            else [0.0, 0.0, 0.0]
        )
        lan = lan or [0.0, 0.0, 0.0]
        t.delay_ms = round(lan[0] + wan[0], 1)
        t.jitter_ms = round(lan[1] + wan[1], 1)
        t.loss_pct = round(lan[2] + wan[2], 2)
    min_minutes = float(config.profile["terminal_app_min_minutes"]) * observed_days
    t.apps = sorted(c for c, m in st["c"].items() if m >= min_minutes)
    _judge(t, config.needs)


__all__ = ["NetworkQuality", "Terminal", "Terminals", "network_quality", "terminals_of"]
