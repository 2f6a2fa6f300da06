"""The dense vector ``v`` of a day rollup: every additive figure at a fixed position.

A profile evaluation reads 7 to 30 day rows for each of 100,000 homes; a JSON array of
integers parses several times faster than nested objects, and N days merge with one
``zip`` (element-wise sums). Positions are part of the stored format: new figures are
only ever appended (shorter stored vectors read as zeros there), never reordered.
"""

from __future__ import annotations

import math

#: DPI categories (``agent.dpi.classifier.CATEGORIES``); anything else counts as "other".
CATEGORIES = (
    "video", "short_video", "live_streaming", "game", "social", "messaging", "shopping", "app_store",
    "operator", "reading", "music", "work", "cloud", "web", "other",
)  # fmt: skip
#: Categories that need a person at the screen; "engaged" time counts only these.
FOREGROUND = frozenset(
    ("video", "short_video", "live_streaming", "game", "social", "messaging", "shopping", "reading", "music",
     "work", "web")
)  # fmt: skip
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

# scalar sums
N, ONLINE_S, OFFLINE_S, BYTES_DOWN, BYTES_UP, ENGAGED, SCANS = range(7)
WS = 7  # Wi-Fi part sums (fixed point, tenths of a point), one per WIFI_PARTS
WN = WS + len(WIFI_PARTS)  # station-windows each part was scored on
CAT = WN + len(WIFI_PARTS)
RADIO = CAT + len(CATEGORIES) * len(CAT_FIELDS)  # per band: windows, interference, utilisation (tenths of %)
QUALITY = RADIO + 3 * len(BANDS)  # per target: windows, delay, jitter (tenths of ms), loss (hundredths of %)
SIG = QUALITY + 4 * len(QUALITY_TARGETS)  # per band: station-windows per signal bucket
RATE_WINDOWS = SIG + SIG_BUCKETS * len(BANDS)  # windows per download-rate bucket
RATE_BYTES = RATE_WINDOWS + RATE_BUCKETS  # download bytes per (terminal, category) rate bucket
SIZE = RATE_BYTES + RATE_BUCKETS

_CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
_BAND_INDEX = {b: i for i, b in enumerate(BANDS)}


def cat_at(category: str, field: int) -> int:
    """Position of a category's field (unknown categories count as "other")."""
    return CAT + _CAT_INDEX.get(category, len(CATEGORIES) - 1) * len(CAT_FIELDS) + field


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
