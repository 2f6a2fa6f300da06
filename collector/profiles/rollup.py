"""Fold each 15-minute report into a per-home per-UTC-day summary (``home_days.data``).

Profiles must never re-read raw reports (100,000 homes x 7 days x 96 reports), so at
ingest every NEW report's body becomes a *contribution* (what this window adds), and
contributions are merged into the day with :func:`merge_day`. The merge is associative
and commutative (sums, minima, maxima, bitmap unions, "latest wins" by window end), so
the order reports arrive in does not matter; idempotency is guaranteed upstream because
only new reports are folded. Contributions and days share one JSON-serialisable format
(documented in ``docs/profiles.md``); keys are short because there is one row per home
and day.

Only what one body can tell is used: WAN counters are cumulative, so traffic comes from
the ``apps`` section (bytes per station and category within the window). Wi-Fi parts
are scored per station-window with fixed curves (below) so the score's weights can stay
in configuration.
"""

from __future__ import annotations

import math
from typing import Any

from collector.profiles.merge import merge_day, merge_many, slot_hex

#: Categories that need a person at the screen; "engaged" time counts only these
#: (app stores, cloud sync, operator and unclassified traffic run unattended).
FOREGROUND = frozenset(
    {
        "video",
        "short_video",
        "live_streaming",
        "game",
        "social",
        "messaging",
        "shopping",
        "reading",
        "music",
        "work",
        "web",
    }
)
WIFI_BANDS = ("2.4GHz", "5GHz", "6GHz")
#: PHY rate that scores 100 on each band (a good 2x2 link); lower rates scale linearly.
FULL_PHY_KBPS = {"2.4GHz": 144_000, "5GHz": 433_000, "6GHz": 600_000}
#: Wi-Fi parts, in this order in ``ws`` (sums) and ``wn`` (counts).
WIFI_PARTS = ("signal", "phy_rate", "retries", "airtime", "interference")
SLOTS_PER_DAY = 96
SLOT_S = 900

# indices of a category vector ``cat[name]``
CAT_ENGAGED, CAT_STATION_MIN, CAT_DOWN, CAT_UP, CAT_FLOWS, CAT_UP_MIN, CAT_UP_BYTES = range(7)
# indices of a station vector ``st[mac]["x"]``
(ST_WINDOWS, ST_SIG_N, ST_SIG_SUM, ST_PHY_SUM, ST_Q_N, ST_DELAY, ST_JITTER, ST_LOSS, ST_BW_N, ST_BW_SUM) = (
    range(10)
)
_ST_LEN = 10
#: Fixed-point scales: sums stay integers, so merging is exact and the JSON stays short.
PART_SCALE = 10  # Wi-Fi part points
PCT_SCALE = 10  # radio interference and utilisation, %
MS_SCALE = 10  # delay and jitter, ms
LOSS_SCALE = 100  # loss, %


def _clamp(value: float) -> float:
    return 0.0 if value < 0 else 1.0 if value > 1 else value


def signal_part(signal_dbm: float) -> float:
    """-55 dBm or better scores 100, -85 dBm or worse 0."""
    return 100 * _clamp((signal_dbm + 85) / 30)


def phy_part(rate_kbps: float, band: str) -> float:
    """Downlink PHY rate against a good link on the band."""
    return 100 * _clamp(rate_kbps / FULL_PHY_KBPS.get(band, 433_000))


def retry_part(retransmissions: int, packets: int) -> float:
    """Share of retransmitted frames (cumulative counters): none scores 100, 30% or more 0."""
    return 100 * _clamp(1 - retransmissions / max(1, packets) / 0.3)


def airtime_part(utilization_pct: float) -> float:
    """Channel airtime in use: up to 30% is free air (100), 90% or more is saturated (0)."""
    return 100 * _clamp(1 - max(0.0, utilization_pct - 30) / 60)


def interference_part(interference_pct: float) -> float:
    """Airtime lost to other networks and noise: none scores 100, 50% or more 0."""
    return 100 * _clamp(1 - interference_pct / 50)


def rate_bucket(kbps: float) -> str:
    """Quarter-octave bucket of a rate (``4*log2(kbps)``): bucket ``b`` starts at ``2**(b/4)`` kbps."""
    return str(int(4 * math.log2(kbps))) if kbps >= 1 else "0"


def bucket_kbps(bucket: str) -> float:
    """The lower edge of a :func:`rate_bucket`."""
    return float(2 ** (int(bucket) / 4))


def signal_bucket(signal_dbm: int) -> str:
    """5 dB bucket: ``"-80"`` holds -80..-76 dBm."""
    return str((int(signal_dbm) // 5) * 5)


def day_of(window_start: int) -> int:
    """The UTC day number (days since 1970-01-01) a window belongs to."""
    return window_start // 86400


def _add_vec(acc: list[int], vec: list[int]) -> None:
    for i, v in enumerate(vec):
        acc[i] += v


def window_contribution(body: dict[str, Any], window_start: int, window_end: int) -> dict[str, Any]:
    """What one report window adds to its home's day (JSON-serialisable)."""
    length = max(1, window_end - window_start)
    cap_min = max(1, round(length / 60))
    hour = (window_start // 3600) % 24
    slot = (window_start // SLOT_S) % SLOTS_PER_DAY
    c: dict[str, Any] = {"n": 1, "first": window_start, "last": window_end, "slots": slot_hex(1 << slot)}
    wan = body.get("wan") or {}
    online, offline = int(wan.get("online_s") or 0), int(wan.get("offline_s") or 0)
    c["online_s"], c["offline_s"] = online, offline
    c["off"] = slot_hex(1 << slot if offline * 2 > length else 0)
    if wan.get("plan_down_kbps"):
        c["plan"] = int(wan["plan_down_kbps"])
    stations: dict[str, dict[str, Any]] = {}
    for s in body.get("stations") or []:
        mac = s.get("mac")
        if not mac:
            continue
        stations[mac] = {
            "t": window_end,
            "h": s.get("hostname") or "",
            "v": s.get("vendor") or "",
            "m": s.get("medium") or "",
            "x": [1] + [0] * (_ST_LEN - 1),
            "c": {},
        }
        x = stations[mac]["x"]
        # the agent's quality sampler writes its station probes onto the station rows
        if s.get("delay_ms") is not None:
            x[ST_Q_N] += 1
            x[ST_DELAY] += round(float(s["delay_ms"]) * MS_SCALE)
            x[ST_LOSS] += round(float(s.get("loss_pct") or 0) * LOSS_SCALE)
        if s.get("reachable_kbps"):
            x[ST_BW_N] += 1
            x[ST_BW_SUM] += int(s["reachable_kbps"])
    _fold_apps(c, body.get("apps") or [], stations, cap_min, hour, length)
    _fold_wifi(c, body, stations)
    _fold_quality(c, body.get("quality") or [], stations)
    if "neighbours" in body:
        _fold_neighbours(c, body.get("neighbours") or [])
    if body.get("topology"):
        c["mesh"] = len(body["topology"])
    c["st"] = stations
    return c


def _fold_apps(
    c: dict[str, Any],
    apps: list[dict[str, Any]],
    stations: dict[str, dict[str, Any]],
    cap_min: int,
    hour: int,
    length: int,
) -> None:
    cats: dict[str, list[int]] = {}
    names: dict[str, dict[str, int]] = {}
    by_rate: dict[str, int] = {}
    down_total = up_total = 0
    engaged = 0
    for row in apps:
        cat = str(row.get("category") or "other")
        down, up = int(row.get("bytes_down") or 0), int(row.get("bytes_up") or 0)
        minutes = min(int(row.get("active_minutes") or 0), cap_min)
        vec = cats.setdefault(cat, [0] * 7)
        vec[CAT_ENGAGED] = max(vec[CAT_ENGAGED], minutes)
        vec[CAT_STATION_MIN] += minutes
        vec[CAT_DOWN] += down
        vec[CAT_UP] += up
        vec[CAT_FLOWS] += int(row.get("flows") or 0)
        if up > down and minutes:
            vec[CAT_UP_MIN] += minutes
            vec[CAT_UP_BYTES] += up
        if cat in FOREGROUND:
            engaged = max(engaged, minutes)
        down_total += down
        up_total += up
        seconds = minutes * 60 if minutes else length
        bucket = rate_bucket(down * 8 / seconds / 1000)
        by_rate[bucket] = by_rate.get(bucket, 0) + down
        top = [str(a) for a in row.get("top_apps") or []]
        for app in top:
            per_cat = names.setdefault(cat, {})
            per_cat[app] = per_cat.get(app, 0) + max(minutes, 1)
        st = stations.get(str(row.get("station")))
        if st is not None and minutes:
            st["c"][cat] = st["c"].get(cat, 0) + minutes
    hb = [0] * 24
    hm = [0] * 24
    hb[hour] = down_total + up_total
    hm[hour] = engaged
    c.update(bd=down_total, bu=up_total, eng=engaged, hb=hb, hm=hm, cat=cats, apps=names, rb=by_rate)
    c["rw"] = {rate_bucket(down_total * 8 / length / 1000): 1} if down_total else {}


def _fold_wifi(c: dict[str, Any], body: dict[str, Any], stations: dict[str, dict[str, Any]]) -> None:
    radio: dict[str, list[int]] = {}
    for r in body.get("radios") or []:
        band = r.get("band")
        if band in WIFI_BANDS:
            vec = radio.setdefault(band, [0, 0, 0])
            intf, util = float(r.get("interference_pct") or 0), float(r.get("utilization_pct") or 0)
            _add_vec(vec, [1, round(intf * PCT_SCALE), round(util * PCT_SCALE)])
    ws = [0] * 5
    wn = [0] * 5
    sig: dict[str, dict[str, int]] = {}
    for s in body.get("stations") or []:
        band = s.get("medium")
        signal = s.get("signal_dbm")
        if band not in WIFI_BANDS or signal is None or not s.get("mac"):
            continue
        x = stations[s["mac"]]["x"]
        x[ST_SIG_N] += 1
        x[ST_SIG_SUM] += signal
        buckets = sig.setdefault(band, {})
        key = signal_bucket(signal)
        buckets[key] = buckets.get(key, 0) + 1
        parts: list[float | None] = [signal_part(signal), None, None, None, None]
        rate = s.get("tx_rate_kbps")
        if rate is not None:
            x[ST_PHY_SUM] += rate
            parts[1] = phy_part(rate, band)
        if s.get("packets_sent") and s.get("retransmissions") is not None:
            parts[2] = retry_part(int(s["retransmissions"]), int(s["packets_sent"]))
        if band in radio:
            n, intf, util = radio[band]
            parts[3] = airtime_part(util / n / PCT_SCALE)
            parts[4] = interference_part(intf / n / PCT_SCALE)
        for i, part in enumerate(parts):
            if part is not None:
                ws[i] += round(part * PART_SCALE)
                wn[i] += 1
    c.update(ws=ws, wn=wn, sig=sig, radio=radio)


def _fold_quality(
    c: dict[str, Any], quality: list[dict[str, Any]], stations: dict[str, dict[str, Any]]
) -> None:
    q: dict[str, list[int]] = {}
    qmax: dict[str, int] = {}
    for row in quality:
        target = str(row.get("target") or "")
        delay = row.get("delay_ms")
        if delay is None:
            continue
        vec = [
            1,
            round(float(delay) * MS_SCALE),
            round(float(row.get("jitter_ms") or 0) * MS_SCALE),
            round(float(row.get("loss_pct") or 0) * LOSS_SCALE),
        ]
        if target in stations:
            x = stations[target]["x"]
            x[ST_Q_N] += 1
            x[ST_DELAY] += vec[1]
            x[ST_JITTER] += vec[2]
            x[ST_LOSS] += vec[3]
        elif target in ("internet", "wan_gateway"):
            _add_vec(q.setdefault(target, [0, 0, 0, 0]), vec)
            qmax[target] = max(qmax.get(target, 0), round(float(row.get("delay_max_ms") or delay) * MS_SCALE))
        if row.get("bandwidth_kbps") and target in stations:
            x = stations[target]["x"]
            x[ST_BW_N] += 1
            x[ST_BW_SUM] += int(row["bandwidth_kbps"])
    c.update(q=q, qmax=qmax)


def _fold_neighbours(c: dict[str, Any], neighbours: list[dict[str, Any]]) -> None:
    comp: dict[str, dict[str, Any]] = {}
    for nb in neighbours:
        op, signal = nb.get("operator"), nb.get("signal_dbm")
        if not op or signal is None:
            continue
        entry = comp.get(op)
        if entry is None or signal > entry["max"]:
            comp[op] = {"max": int(signal), "ssid": str(nb.get("ssid") or ""), "h": {}}
    for entry in comp.values():
        # one count per scan and operator, at the strongest of its networks
        entry["h"] = {signal_bucket(entry["max"]): 1}
    c["scans"] = 1
    c["comp"] = comp


__all__ = ["merge_day", "merge_many", "window_contribution"]
