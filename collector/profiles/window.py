"""What one report window adds to its home's day, in Python: the fold's core as the reference of
``_window.c`` (which computes the same, tests/collector/profiles/test_window_c.py), the part-score
curves and fixed-point scales both use, and the table ``_window.c`` is configured with.

:mod:`collector.profiles.rollup` decides which way runs (C where it is built, this otherwise) and adds
the result to a day; a new figure goes there (``rollup._extras``), not here: this core and its C twin
stay as they are.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from collector.profiles import layout
from collector.profiles.merge import slot_hex
from collector.profiles.terminals import BACKGROUND_TYPES, terminal_type

SLOTS_PER_DAY = 96
SLOT_S = 900
#: PHY rate that scores 100 on each band (a good 2x2 link); lower rates scale linearly.
FULL_PHY_KBPS = {"2.4GHz": 144_000, "5GHz": 433_000, "6GHz": 600_000}
PART_SCALE = 10  # Wi-Fi part points
PCT_SCALE = 10  # radio interference and utilisation, %
MS_SCALE = 10  # delay and jitter, ms
LOSS_SCALE = 100  # loss, %
# a terminal ``tm[mac]``: its names as of the newest window (compared as a list, so ties break on the
# names and the merge commutes), and the windows it was seen in
TM_T, TM_HOST, TM_VENDOR, TM_MEDIUM, TM_WINDOWS = range(5)
#: Where a terminal's DHCP vendor class and request list follow (then the window they are from), when
#: its reports carried them (protocol 1.2).
TM_DHCP = 5
# a terminal's link sums ``sx[mac]["x"]``: windows, signal samples and sum, PHY sum, probes,
# delay, jitter, loss sums, reachable-bandwidth samples and sum
ST_WINDOWS, ST_SIG_N, ST_SIG_SUM, ST_PHY_SUM, ST_Q_N, ST_DELAY, ST_JITTER, ST_LOSS, ST_BW_N, ST_BW_SUM = (
    range(10)
)


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


# Per (band index, signal dBm): the signal bucket's position and the rounded signal part. A
# validated signal is an int in -150..50, so this stays small; it is bounded all the same.
_SIGNAL: dict[tuple[int, Any], tuple[int, int]] = {}


def _signal(b: int, signal: Any) -> tuple[int, int]:
    found = _SIGNAL.get((b, signal))
    if found is None:
        if len(_SIGNAL) > 4096:
            _SIGNAL.clear()
        pos = layout.SIG + b * layout.SIG_BUCKETS + layout.sig_bucket(signal)
        found = _SIGNAL[(b, signal)] = (pos, round(signal_part(signal) * PART_SCALE))
    return found


def core(body: dict[str, Any], window_start: int, window_end: int) -> tuple[dict[str, Any], dict[int, int]]:
    # what the C core computes too (tests/collector/profiles/test_window_c.py). The fold's
    # hottest code (per station of every report): one pass over the stations, the part scores
    # inlined (the same expressions as signal_part ... interference_part, so the same floats)
    length = max(1, window_end - window_start)
    slot = (window_start // SLOT_S) % SLOTS_PER_DAY
    v: defaultdict[int, int] = defaultdict(int)
    v[layout.N] = 1
    wan = body.get("wan") or {}
    offline = int(wan.get("offline_s") or 0)
    v[layout.ONLINE_S], v[layout.OFFLINE_S] = int(wan.get("online_s") or 0), offline
    c: dict[str, Any] = {
        "first": window_start,
        "last": window_end,
        "slots": slot_hex(1 << slot),
        "off": slot_hex(1 << slot if offline * 2 > length else 0),
    }
    if wan.get("plan_down_kbps"):
        c["plan"] = int(wan["plan_down_kbps"])
    # radios first: a band's airtime and interference parts, once per band (not per station)
    radio: dict[str, tuple[int, int]] = {}
    for r in body.get("radios") or ():
        b = _BAND_INDEX.get(r.get("band") or "")
        if b is None:
            continue
        intf, util = float(r.get("interference_pct") or 0), float(r.get("utilization_pct") or 0)
        at = layout.RADIO + 3 * b
        v[at] += 1
        v[at + 1] += round(intf * PCT_SCALE)
        v[at + 2] += round(util * PCT_SCALE)
        radio[r["band"]] = (
            round(airtime_part(util) * PART_SCALE),
            round(interference_part(intf) * PART_SCALE),
        )
    terminals: dict[str, list[Any]] = {}
    links: dict[str, dict[str, Any]] = {}
    ws, wn = layout.WS, layout.WN
    for s in body.get("stations") or ():
        mac = s.get("mac")
        if not mac:
            continue
        medium = s.get("medium") or ""
        terminals[mac] = [window_end, s.get("hostname") or "", s.get("vendor") or "", medium, 1]
        if s.get("dhcp_vc") or s.get("dhcp_prl"):  # since protocol 1.2: what its DHCP client says
            terminals[mac] += [s.get("dhcp_vc") or "", s.get("dhcp_prl") or "", window_end]
        x = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        twice = links.get(mac)
        if twice is not None:  # a MAC listed twice: the last row's probes, every row's Wi-Fi sums
            tx = twice["x"]
            x[ST_SIG_N], x[ST_SIG_SUM], x[ST_PHY_SUM] = tx[ST_SIG_N], tx[ST_SIG_SUM], tx[ST_PHY_SUM]
        links[mac] = {"x": x, "c": {}}
        # the agent's quality sampler writes its station probes onto the station rows
        delay = s.get("delay_ms")
        if delay is not None:
            x[ST_Q_N] = 1
            x[ST_DELAY] = round(float(delay) * MS_SCALE)
            x[ST_LOSS] = round(float(s.get("loss_pct") or 0) * LOSS_SCALE)
        reachable = s.get("reachable_kbps")
        if reachable:
            x[ST_BW_N] = 1
            x[ST_BW_SUM] = int(reachable)
        b = _BAND_INDEX.get(medium)
        signal = s.get("signal_dbm")
        if b is None or signal is None:
            continue
        x[ST_SIG_N] += 1
        x[ST_SIG_SUM] += signal
        at, part = _signal(b, signal)
        v[at] += 1
        v[ws] += part
        v[wn] += 1
        rate = s.get("tx_rate_kbps")
        if rate is not None:
            x[ST_PHY_SUM] += rate
            q = rate / FULL_PHY_KBPS.get(medium, 433_000)  # phy_part
            v[ws + 1] += round(100 * (0.0 if q < 0 else 1.0 if q > 1 else q) * PART_SCALE)
            v[wn + 1] += 1
        packets = s.get("packets_sent")
        if packets and s.get("retransmissions") is not None:
            q = 1 - int(s["retransmissions"]) / max(1, int(packets)) / 0.3  # retry_part
            v[ws + 2] += round(100 * (0.0 if q < 0 else 1.0 if q > 1 else q) * PART_SCALE)
            v[wn + 2] += 1
        air = radio.get(medium)
        if air is not None:
            v[ws + 3] += air[0]
            v[ws + 4] += air[1]
            v[wn + 3] += 1
            v[wn + 4] += 1
    _fold_apps(c, v, body.get("apps") or [], links, terminals, window_start, length)
    _fold_quality(c, v, body.get("quality") or [], links)
    if "neighbours" in body:
        v[layout.SCANS] = 1
        c["comp"] = _competitors(body.get("neighbours") or [])
    if body.get("topology"):
        c["mesh"] = len(body["topology"])
    c["tm"] = terminals
    c["sx"] = links
    return c, v


_BAND_INDEX = {band: i for i, band in enumerate(layout.BANDS)}  # layout.band_index, without the call
#: layout.cat_at(category, 0) of the categories seen (unknown ones share "other"'s position)
_CAT_AT: dict[str, int] = {}


def _fold_apps(
    c: dict[str, Any],
    v: defaultdict[int, int],
    apps: list[dict[str, Any]],
    links: dict[str, dict[str, Any]],
    terminals: dict[str, list[Any]],
    start: int,
    length: int,
) -> None:
    cap_min = max(1, round(length / 60))
    names: dict[str, dict[str, int]] = {}
    down_total = up_total = engaged = 0
    background = layout.BACKGROUND
    foreground, device_categories = layout.FOREGROUND, layout.DEVICE_CATEGORIES
    cat_at = _CAT_AT
    for row in apps:
        cat = str(row.get("category") or "other")
        down, up = int(row.get("bytes_down") or 0), int(row.get("bytes_up") or 0)
        minutes = min(int(row.get("active_minutes") or 0), cap_min)
        at = cat_at.get(cat)
        if at is None:
            if len(cat_at) > 1024:
                cat_at.clear()
            at = cat_at[cat] = layout.cat_at(cat, 0)
        station = str(row.get("station"))
        tm = terminals.get(station)
        # people's use: an interactive category on a terminal a person uses (unknown
        # terminals count as personal: phones with random MACs often have no name)
        device = (
            tm is not None
            and terminal_type(tm[TM_HOST], tm[TM_VENDOR], *tm[TM_DHCP : TM_DHCP + 2]) in BACKGROUND_TYPES
        )
        if device or cat in device_categories:
            v[background + layout.BG_MIN] = max(v[background + layout.BG_MIN], minutes)
            v[background + layout.BG_BYTES] += down + up
        if not device:  # one window: max over terminals
            v[at + layout.CAT_ENGAGED] = max(v[at + layout.CAT_ENGAGED], minutes)
        v[at + layout.CAT_DOWN] += down
        v[at + layout.CAT_UP] += up
        if up > down and minutes:
            v[at + layout.CAT_UP_MIN] += minutes
            v[at + layout.CAT_UP_BYTES] += up
        if not device and minutes > engaged and cat in foreground:
            engaged = minutes
        down_total += down
        up_total += up
        bucket = layout.rate_bucket(down * 8 / (minutes * 60 if minutes else length) / 1000)
        if bucket is not None:
            v[layout.RATE_BYTES + bucket] += down
        top = row.get("top_apps")
        if top:
            per_cat = names.setdefault(cat, {})
            for app in map(str, top):
                per_cat[app] = per_cat.get(app, 0) + max(minutes, 1)
        link = links.get(station)
        if link is not None and minutes:
            link["c"][cat] = link["c"].get(cat, 0) + minutes
    v[layout.BYTES_DOWN], v[layout.BYTES_UP], v[layout.ENGAGED] = down_total, up_total, engaged
    bucket = layout.rate_bucket(down_total * 8 / length / 1000)
    if bucket is not None:
        v[layout.RATE_WINDOWS + bucket] += 1
    hb = [0] * 24
    hb[(start // 3600) % 24] = down_total + up_total
    c["apps"], c["hb"] = names, hb


def _fold_quality(
    c: dict[str, Any],
    v: defaultdict[int, int],
    quality: list[dict[str, Any]],
    links: dict[str, dict[str, Any]],
) -> None:
    worst: dict[str, int] = {}
    for row in quality:
        target = str(row.get("target") or "")
        delay = row.get("delay_ms")
        if delay is None:
            continue
        figures = (
            round(float(delay) * MS_SCALE),
            round(float(row.get("jitter_ms") or 0) * MS_SCALE),
            round(float(row.get("loss_pct") or 0) * LOSS_SCALE),
        )
        if target in links:
            x = links[target]["x"]
            x[ST_Q_N] += 1
            x[ST_DELAY] += figures[0]
            x[ST_JITTER] += figures[1]
            x[ST_LOSS] += figures[2]
            if row.get("bandwidth_kbps"):
                x[ST_BW_N] += 1
                x[ST_BW_SUM] += int(row["bandwidth_kbps"])
        elif target in layout.QUALITY_TARGETS:
            at = layout.QUALITY + 4 * layout.QUALITY_TARGETS.index(target)
            v[at] += 1
            v[at + 1] += figures[0]
            v[at + 2] += figures[1]
            v[at + 3] += figures[2]
            peak = round(float(row.get("delay_max_ms") or delay) * MS_SCALE)
            worst[target] = max(worst.get(target, 0), peak)
    if worst:
        c["qmax"] = worst


def _competitors(neighbours: list[dict[str, Any]]) -> dict[str, list[Any]]:
    strongest: dict[str, tuple[int, str]] = {}
    for nb in neighbours:
        op, signal = nb.get("operator"), nb.get("signal_dbm")
        if not op or signal is None:
            continue
        entry = (int(signal), str(nb.get("ssid") or ""))
        if op not in strongest or entry > strongest[op]:
            strongest[op] = entry
    out: dict[str, list[Any]] = {}
    for op, (signal, ssid) in strongest.items():
        # one count per scan and operator, at the strongest of its networks
        counts = [0] * layout.SIG_BUCKETS
        counts[layout.sig_bucket(signal)] = 1
        out[op] = [signal, ssid, counts]
    return out


def compiled_layout() -> dict[str, Any]:
    """What the C fold needs of the layout and the scores (nothing of the layout is written in C)."""
    return {
        "size": layout.SIZE, "n": layout.N, "online_s": layout.ONLINE_S, "offline_s": layout.OFFLINE_S,
        "bytes_down": layout.BYTES_DOWN, "bytes_up": layout.BYTES_UP, "engaged": layout.ENGAGED,
        "scans": layout.SCANS, "ws": layout.WS, "wn": layout.WN, "radio": layout.RADIO, "quality": layout.QUALITY,
        "sig": layout.SIG, "sig_buckets": layout.SIG_BUCKETS, "sig_floor": layout.SIG_FLOOR,
        "rate_windows": layout.RATE_WINDOWS, "rate_bytes": layout.RATE_BYTES, "rate_buckets": layout.RATE_BUCKETS,
        "rate_floor": layout.RATE_FLOOR_KBPS, "background": layout.BACKGROUND, "bg_min": layout.BG_MIN,
        "bg_bytes": layout.BG_BYTES, "cat_engaged": layout.CAT_ENGAGED, "cat_down": layout.CAT_DOWN,
        "cat_up": layout.CAT_UP, "cat_up_min": layout.CAT_UP_MIN, "cat_up_bytes": layout.CAT_UP_BYTES,
        "other_at": layout.cat_at("other", 0), "slot_s": SLOT_S, "slots_per_day": SLOTS_PER_DAY,
        "part_scale": PART_SCALE, "pct_scale": PCT_SCALE, "ms_scale": MS_SCALE, "loss_scale": LOSS_SCALE,
        "full_default": 433_000, "full_phy": dict(FULL_PHY_KBPS), "bands": dict(_BAND_INDEX),
        "cat_at": {c: at for c, at in layout.CAT_OFFSETS},
        "quality_targets": {t: i for i, t in enumerate(layout.QUALITY_TARGETS)},
        "terminal_type": terminal_type, "background_types": frozenset(BACKGROUND_TYPES),
        "foreground": frozenset(layout.FOREGROUND), "device_categories": frozenset(layout.DEVICE_CATEGORIES),
    }  # fmt: skip
