"""The dense vector ``v`` of a day rollup: every additive figure at a fixed position.

A profile evaluation reads 7 to 30 day rows for each of 100,000 homes; a JSON array of
integers parses several times faster than nested objects, and N days merge with one
``zip`` (element-wise sums). Positions are part of the stored format, so they are declared
once, here, as an append-only list of named blocks (:data:`BLOCKS`), and pinned by
``tests/collector/profiles/test_layout.py``: a new figure is a new block at the end; a
stored vector of an older, shorter shape reads as zeros past its end (:func:`fit`).

DPI categories come from :mod:`protocol.categories` (append-only). The first
:data:`FIRST_CATEGORIES` of them share the ``cat`` block, as they were stored from the
start; every category appended after those gets a ``cat:<name>`` block of its own at the
end of the vector, so appending one never moves a stored position.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from protocol.categories import CATEGORIES, OTHER

#: Categories that need a person at the screen; "engaged" time counts only these.
FOREGROUND = frozenset(
    ("video", "short_video", "live_streaming", "game", "social", "messaging", "shopping", "reading", "music",
     "work", "web")
)  # fmt: skip
#: Categories of devices' and systems' own traffic: counted apart, never engaged.
DEVICE_CATEGORIES = frozenset(("iot", "background"))
BANDS = ("2.4GHz", "5GHz", "6GHz")
#: Per category: engaged minutes (max over terminals per window), bytes down, bytes up,
#: minutes and bytes of windows where the category sent more than it received.
CAT_FIELDS = ("engaged_min", "down", "up", "up_min", "up_bytes")
CAT_ENGAGED, CAT_DOWN, CAT_UP, CAT_UP_MIN, CAT_UP_BYTES = range(5)
WIFI_PARTS = ("signal", "phy_rate", "retries", "airtime", "interference")
QUALITY_TARGETS = ("internet", "wan_gateway")
#: Signal buckets of 5 dB: bucket i holds -100+5i .. -96+5i dBm (the first and last are open).
SIG_BUCKETS = 15
SIG_FLOOR = -100
#: Rate buckets of a quarter octave from 1 Mbit/s: bucket i starts at 1000 * 2**(i/4) kbps.
RATE_BUCKETS = 80
RATE_FLOOR_KBPS = 1000
#: How many categories the ``cat`` block holds: the categories of the first stored format.
#: Never change it; categories past it get blocks of their own (see the module docstring).
FIRST_CATEGORIES = 15


class Block(NamedTuple):
    """A named run of positions in the vector."""

    name: str
    start: int
    size: int


#: (name, size) of every block, in stored order. APPEND ONLY: never insert, remove, resize or
#: reorder (the golden test fails if you do); a new figure is a new entry at the end.
DECLARED: tuple[tuple[str, int], ...] = (
    ("scalars", 7),  # N, ONLINE_S, OFFLINE_S, BYTES_DOWN, BYTES_UP, ENGAGED, SCANS
    ("wifi_sums", len(WIFI_PARTS)),  # Wi-Fi part sums (fixed point, tenths of a point)
    ("wifi_counts", len(WIFI_PARTS)),  # station-windows each part was scored on
    ("cat", FIRST_CATEGORIES * len(CAT_FIELDS)),  # CAT_FIELDS of each of the first categories
    ("radio", 3 * len(BANDS)),  # per band: windows, interference, utilisation (tenths of %)
    ("quality", 4 * len(QUALITY_TARGETS)),  # per target: windows, delay, jitter (tenths of ms), loss (0.01 %)
    ("signal", SIG_BUCKETS * len(BANDS)),  # per band: station-windows per signal bucket
    ("rate_windows", RATE_BUCKETS),  # windows per download-rate bucket
    ("rate_bytes", RATE_BUCKETS),  # download bytes per (terminal, category) rate bucket
    # -- appended after the first release (each line a later stored format) --
    ("cat:iot", len(CAT_FIELDS)),  # the categories appended to protocol.categories, in order
    ("cat:background", len(CAT_FIELDS)),
    # traffic not counted as people's use: background terminals (plugs, cameras...) and the
    # iot/background categories: active minutes (max over terminals per window), bytes
    ("background", 2),
)
#: Where ``background`` keeps its figures.
BG_MIN, BG_BYTES = 0, 1


def blocks(
    categories: tuple[str, ...] = CATEGORIES, declared: tuple[tuple[str, int], ...] = DECLARED
) -> tuple[Block, ...]:
    """The vector's blocks, in stored order.

    One append-only list: a category appended to :mod:`protocol.categories` must be
    declared as ``cat:<name>`` at the end of :data:`DECLARED` in the same change (later
    figures then append after it), so neither ever moves a stored position.
    """
    if categories[:FIRST_CATEGORIES] != CATEGORIES[:FIRST_CATEGORIES] or len(categories) < FIRST_CATEGORIES:
        raise ValueError("categories are append-only: the first ones must stay as they are")
    names = [n for n, _ in declared]
    wanted = [f"cat:{c}" for c in categories[FIRST_CATEGORIES:]]
    missing = [w for w in wanted if w not in names]
    if missing:
        raise ValueError(f"declare {', '.join(missing)} at the end of layout.DECLARED (append-only)")
    if [n for n in names if n.startswith("cat:")] != wanted:
        raise ValueError("category blocks must be declared in protocol.categories' order")
    out: list[Block] = []
    start = 0
    for name, size in declared:
        out.append(Block(name, start, size))
        start += size
    return tuple(out)


BLOCKS = blocks()
_AT = {b.name: b.start for b in BLOCKS}


def at(block: str) -> int:
    """The first position of a declared block (``at("radio")``)."""
    return _AT[block]


# scalar sums
N, ONLINE_S, OFFLINE_S, BYTES_DOWN, BYTES_UP, ENGAGED, SCANS = range(_AT["scalars"], _AT["scalars"] + 7)
WS = _AT["wifi_sums"]
WN = _AT["wifi_counts"]
CAT = _AT["cat"]
RADIO = _AT["radio"]
QUALITY = _AT["quality"]
SIG = _AT["signal"]
RATE_WINDOWS = _AT["rate_windows"]
RATE_BYTES = _AT["rate_bytes"]
BACKGROUND = _AT["background"]
SIZE = BLOCKS[-1].start + BLOCKS[-1].size

#: Where each category's first field is.
_CAT_START = {
    c: (CAT + i * len(CAT_FIELDS) if i < FIRST_CATEGORIES else _AT[f"cat:{c}"])
    for i, c in enumerate(CATEGORIES)
}
_OTHER_START = _CAT_START[OTHER]
_BAND_INDEX = {b: i for i, b in enumerate(BANDS)}


def cat_at(category: str, field: int) -> int:
    """Position of a category's field (unknown categories count as "other")."""
    return _CAT_START.get(category, _OTHER_START) + field


def band_index(band: str) -> int | None:
    """0, 1, 2 for 2.4, 5, 6 GHz; None for anything else."""
    return _BAND_INDEX.get(band)


def sig_bucket(signal_dbm: float) -> int:
    """The 5 dB bucket of a signal level."""
    return min(SIG_BUCKETS - 1, max(0, int((signal_dbm - SIG_FLOOR) // 5)))


def sig_bucket_top(bucket: int) -> int:
    """The strongest level (dBm) a signal bucket holds (-96 for bucket 0)."""
    return SIG_FLOOR + 5 * bucket + 4


def rate_bucket(kbps: float) -> int | None:
    """The quarter-octave bucket of a rate, or None below 1 Mbit/s."""
    if kbps < RATE_FLOOR_KBPS:
        return None
    return min(RATE_BUCKETS - 1, int(4 * math.log2(kbps / RATE_FLOOR_KBPS)))


def rate_bucket_mid(bucket: int) -> float:
    """The geometric middle of a rate bucket, kbps."""
    return float(RATE_FLOOR_KBPS * 2 ** ((bucket + 0.5) / 4))


#: :func:`rate_bucket_mid` of every bucket.
RATE_MIDS = tuple(rate_bucket_mid(i) for i in range(RATE_BUCKETS))
#: Position of each category's first field.
CAT_OFFSETS = tuple((c, cat_at(c, 0)) for c in CATEGORIES)


def first_bucket_from(kbps: float) -> int:
    """The first rate bucket whose middle is at or above ``kbps`` (RATE_BUCKETS if none)."""
    return next((i for i, mid in enumerate(RATE_MIDS) if mid >= kbps), RATE_BUCKETS)


def zeros() -> list[int]:
    """An empty vector."""
    return [0] * SIZE


def fit(v: list[int]) -> list[int]:
    """``v`` at this layout's length: a stored vector of an older, shorter layout reads as zeros past its end."""
    return v if len(v) >= SIZE else v + [0] * (SIZE - len(v))
