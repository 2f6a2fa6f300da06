"""Fold each 15-minute report into a per-home per-UTC-day summary (``home_days``).

Profiles must never re-read raw reports (100,000 homes x 7 days x 96 reports), so at
ingest every NEW report's body becomes a *contribution* (what this window adds), and
contributions are merged into the day with :func:`merge_day` (``collector.profiles.merge``):
associative and commutative, so the order reports arrive in does not matter; idempotency
is guaranteed upstream because only new reports are folded. Contributions and days share
one JSON-serialisable format (``docs/profiles.md``):

- ``v``: every additive figure at a fixed position (:mod:`collector.profiles.layout`);
- ``first``/``last`` window bounds, ``slots``/``off`` 96-slot bitmaps (reported / WAN down),
  ``mesh`` nodes and reported ``plan`` speed (maxima), ``qmax`` worst delays;
- ``tm``: terminals ``mac -> [newest window end, hostname, vendor, medium, windows]``;
- ``comp``: competitor operators ``op -> [strongest dBm, its SSID, scans per signal bucket]``;
- detail (kept in ``home_days.detail``, read for a home's page only): ``sx`` per-terminal
  link sums and application minutes, ``apps`` minutes per application, ``hb`` bytes per hour.

Only what one body can tell is used: WAN counters are cumulative, so traffic comes from
the ``apps`` section (bytes per terminal and category within the window). Wi-Fi parts are
scored per station-window with fixed curves (below) so the score's weights stay in
configuration. Fractional figures are stored as fixed-point integers, so sums are exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, TypedDict

import msgspec

from collector.profiles import layout
from collector.profiles.merge import (
    MAX_APPS,
    fold_into,
    merge_day,
    merge_many,
    merge_two,
    most_used,
    slot_hex,
)
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
#: Keys kept in ``home_days.detail``: evaluations, which run over every home, never parse them.
DETAIL_KEYS = ("sx", "apps", "hb")


# What _window reads of a report body, and nothing else (the fold decodes only this). Values are Any: the body
# was validated on arrival, this only skips what the fold never reads.
# tests/collector/store/test_fold.py checks that every key _window reads is declared here (a key
# missing here would silently fold as absent). A new field: declare it here and read it in _window.
class _Station(TypedDict, total=False):
    mac: Any
    hostname: Any
    vendor: Any
    medium: Any
    signal_dbm: Any
    tx_rate_kbps: Any
    packets_sent: Any
    retransmissions: Any
    delay_ms: Any
    loss_pct: Any
    reachable_kbps: Any
    dhcp_vc: Any
    dhcp_prl: Any


class _App(TypedDict, total=False):
    station: Any
    category: Any
    bytes_down: Any
    bytes_up: Any
    active_minutes: Any
    top_apps: Any


class _Unclassified(TypedDict, total=False):  # read by collector/dpi (store/folding.py's prepare)
    domain: Any
    category: Any
    bytes_down: Any
    bytes_up: Any
    active_minutes: Any


class _Radio(TypedDict, total=False):
    band: Any
    interference_pct: Any
    utilization_pct: Any


class _Quality(TypedDict, total=False):
    target: Any
    delay_ms: Any
    delay_max_ms: Any
    jitter_ms: Any
    loss_pct: Any
    bandwidth_kbps: Any


class _Neighbour(TypedDict, total=False):
    operator: Any
    ssid: Any
    signal_dbm: Any


class _Wan(TypedDict, total=False):
    online_s: Any
    offline_s: Any
    plan_down_kbps: Any


class WindowBody(TypedDict, total=False):
    wan: _Wan | None
    stations: list[_Station] | None
    apps: list[_App] | None
    radios: list[_Radio] | None
    quality: list[_Quality] | None
    neighbours: list[_Neighbour] | None
    topology: list[msgspec.Raw] | None  # only counted
    unclassified: list[_Unclassified] | None


class _Report(TypedDict):
    body: WindowBody


class _UnclassifiedBody(TypedDict, total=False):
    unclassified: list[_Unclassified] | None


class _UnclassifiedReport(TypedDict):
    body: _UnclassifiedBody


_decode_report = msgspec.msgpack.Decoder(_Report).decode
_decode_unclassified = msgspec.msgpack.Decoder(_UnclassifiedReport).decode


def decode_window_body(packed: bytes) -> dict[str, Any]:
    """The fields :func:`window_parts` reads of a validated report, from its unframed msgpack.

    Raises ``msgspec.DecodeError`` on anything that does not decode.
    """
    return _decode_report(packed)["body"]  # type: ignore[return-value]  # a TypedDict is a dict


class PackedWindow(NamedTuple):
    """What a window adds (:func:`window_parts`), read from the report's msgpack, and the body's
    ``unclassified`` rows (for ``dpi/recount.py`` and ``dpi/unclassified.py``), if it has any."""

    parts: dict[str, Any]
    sparse: dict[int, int]
    unclassified: list[dict[str, Any]] | None


def packed_window_parts(packed: bytes, window_start: int, window_end: int) -> PackedWindow:
    """:func:`window_parts` of a validated report's unframed msgpack, without decoding its body.

    The C extension reads the bytes themselves (``_window.window_packed``: the fold's fields, no
    Python objects but the strings it keeps); where it is not built, or for anything it does not
    promise to read exactly as :func:`decode_window_body` decodes it, this decodes the body and
    runs :func:`window_parts` (the same result: tests/collector/profiles/test_window_packed.py).
    Raises ``msgspec.DecodeError`` when the body does not decode.
    """
    if _compiled is not None:
        try:
            c, v, has_unclassified = _compiled.window_packed(packed, window_start, window_end)
        except _compiled.Unsupported:
            pass
        else:
            _extras(_LazyBody(packed), c, v)
            rows = _decode_unclassified(packed)["body"].get("unclassified") if has_unclassified else None
            return PackedWindow(c, v, rows or None)  # type: ignore[arg-type]  # TypedDicts are dicts
    body = decode_window_body(packed)
    c, v = window_parts(body, window_start, window_end)
    return PackedWindow(c, v, body.get("unclassified") or None)


class _LazyBody(Mapping[str, Any]):
    """A report's body for :func:`_extras` on the packed way, decoded only if it is read: a
    figure added in Python costs the decode again, until the C core reads it too."""

    __slots__ = ("_body", "_packed")  # one per report folded: no instance dict

    def __init__(self, packed: bytes) -> None:
        self._packed = packed
        self._body: dict[str, Any] | None = None

    def _decoded(self) -> dict[str, Any]:
        if self._body is None:
            self._body = decode_window_body(self._packed)
        return self._body

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


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


def day_of(window_start: int) -> int:
    """The UTC day number (days since 1970-01-01) a window belongs to."""
    return window_start // 86400


def window_contribution(body: dict[str, Any], window_start: int, window_end: int) -> dict[str, Any]:
    """What one report window adds to its home's day (JSON-serialisable)."""
    c, sparse = _window(body, window_start, window_end)
    v = layout.zeros()
    for i, x in sparse.items():
        v[i] = x
    return {"v": v, **c}


def fold_window(
    day: dict[str, Any], body: dict[str, Any], window_start: int, window_end: int
) -> dict[str, Any]:
    """Add one report window to ``day`` in place; returns ``day``.

    The same day as ``fold_into(day, window_contribution(...))``, without building the dense
    window vector: a window sets ~30 of its ~300 positions, and this adds only those.
    """
    return add_window(day, *window_parts(body, window_start, window_end))


def window_parts(
    body: dict[str, Any], window_start: int, window_end: int
) -> tuple[dict[str, Any], dict[int, int]]:
    """What one window adds, as everything but the vector plus the vector's set positions.

    A pure function of the report: a folder computes it before taking any lock, then adds it
    with :func:`add_window` (each result is added once: its parts are taken, not copied).
    Computed by the C extension ``_window`` where it is built (~5x faster; the same result,
    tests/collector/profiles/test_window_c.py), else, and for anything it does not promise to
    reproduce exactly, by :func:`_window`, the reference.
    """
    if _compiled is not None:
        try:
            c, v = _compiled.window(body, window_start, window_end)
        except _compiled.Unsupported:
            pass
        else:
            _extras(body, c, v)
            return c, v
    return _window(body, window_start, window_end)


def add_window(day: dict[str, Any], c: dict[str, Any], sparse: dict[int, int]) -> dict[str, Any]:
    """Add :func:`window_parts`' result to ``day`` in place; returns ``day``.

    In C where ``_window`` is built (the same operations in the same order as :func:`_add`, its
    reference, on the same objects: tests/collector/profiles/test_window_c.py).
    """
    if _compiled is not None:
        try:
            return _compiled.add(day, c, sparse)
        except _compiled.Unsupported:  # raised before anything is changed
            pass
    return _add(day, c, sparse)


def _add(day: dict[str, Any], c: dict[str, Any], sparse: dict[int, int]) -> dict[str, Any]:
    v = day.get("v")
    if v is None:
        v = day["v"] = layout.zeros()
    elif len(v) < layout.SIZE:  # stored under an older, shorter layout: zeros past its end
        v.extend([0] * (layout.SIZE - len(v)))
    for i, x in sparse.items():
        v[i] += x
    return fold_into(day, c, owned=True)


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


def _window(
    body: dict[str, Any], window_start: int, window_end: int
) -> tuple[dict[str, Any], dict[int, int]]:
    # everything a window adds but its vector, and the vector's non-zero positions (the reference)
    c, v = _core(body, window_start, window_end)
    _extras(body, c, v)
    return c, v


def _extras(body: Mapping[str, Any], c: dict[str, Any], v: dict[int, int]) -> None:
    """Figures added to the fold after its core went to C: Python, on both ways.

    The core (:func:`_core`, and ``_window.c`` which computes the same) folds the fields it was
    written for and stays as it is; a new figure is added here, in this one file. ``v`` is a
    plain dict of the vector's set positions: add with ``v[i] = v.get(i, 0) + x``. On the packed
    way (:func:`packed_window_parts`) ``body`` is decoded when first read: a figure read here costs
    that decode until the C reader reads its field too.
    """


def _core(body: dict[str, Any], window_start: int, window_end: int) -> tuple[dict[str, Any], dict[int, int]]:
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


def split_day(day: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(core, detail) of a day: evaluations parse only the core."""
    core = {k: v for k, v in day.items() if k not in DETAIL_KEYS}
    return core, {k: day[k] for k in DETAIL_KEYS if k in day}


def join_day(core: dict[str, Any], detail: dict[str, Any] | None) -> dict[str, Any]:
    """The whole day again from :func:`split_day`'s parts."""
    return {**core, **detail} if detail else core


try:  # built by setup.py (`make` requires it: tests/collector/profiles/test_window_c.py)
    from collector.profiles import _window as _compiled
except ImportError:  # pragma: no cover - a collector installed without a compiler
    _compiled = None  # type: ignore[assignment]


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


if _compiled is not None:
    _compiled.configure(compiled_layout())
    _compiled.configure_merge(merge_two, most_used, MAX_APPS)

__all__ = [
    "add_window",
    "fold_window",
    "merge_day",
    "merge_many",
    "packed_window_parts",
    "split_day",
    "window_contribution",
    "window_parts",
]
