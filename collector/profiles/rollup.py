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
scored per station-window with fixed curves (:mod:`collector.profiles.window`) so the score's weights stay in
configuration. Fractional figures are stored as fixed-point integers, so sums are exact.
"""

from __future__ import annotations

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
)
from collector.profiles.window import compiled_layout
from collector.profiles.window import core as window_core

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


def _window(
    body: dict[str, Any], window_start: int, window_end: int
) -> tuple[dict[str, Any], dict[int, int]]:
    # everything a window adds but its vector, and the vector's non-zero positions (the reference)
    c, v = window_core(body, window_start, window_end)
    _extras(body, c, v)
    return c, v


def _extras(body: Mapping[str, Any], c: dict[str, Any], v: dict[int, int]) -> None:
    """Figures added to the fold after its core went to C: Python, on both ways.

    The core (:func:`collector.profiles.window.core`, and ``_window.c`` which computes the same)
    folds the fields it was written for and stays as it is; a new figure is added here, in this one file. ``v`` is a
    plain dict of the vector's set positions: add with ``v[i] = v.get(i, 0) + x``. On the packed
    way (:func:`packed_window_parts`) ``body`` is decoded when first read: a figure read here costs
    that decode until the C reader reads its field too.
    """


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
