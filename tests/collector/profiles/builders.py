"""Hand-made day rollups: every figure a rule reads, set directly, so sentences can be exact."""

from __future__ import annotations

from typing import Any

from collector.profiles import layout
from collector.profiles.merge import slot_hex
from collector.profiles.window import MS_SCALE, PART_SCALE, PCT_SCALE

#: 2025-06-02 00:00 UTC, a Monday
MONDAY = 20241
DAY = 86400


class Day:
    """One full day of a home (96 windows reported) whose figures tests set."""

    def __init__(self, day: int) -> None:
        self.day = day
        self.v = layout.zeros()
        self.v[layout.N] = 96
        self.tm: dict[str, list[Any]] = {}
        self.comp: dict[str, list[Any]] = {}
        self.slots = (1 << 96) - 1
        self.extra: dict[str, Any] = {}

    def minutes(self, category: str, minutes: int, down: int = 0, up: int = 0) -> Day:
        at = layout.cat_at(category, 0)
        self.v[at + layout.CAT_ENGAGED] += minutes
        self.v[at + layout.CAT_DOWN] += down
        self.v[at + layout.CAT_UP] += up
        self.v[layout.BYTES_DOWN] += down
        self.v[layout.BYTES_UP] += up
        self.v[layout.ENGAGED] = max(self.v[layout.ENGAGED], minutes)
        return self

    def engaged(self, minutes: int) -> Day:
        self.v[layout.ENGAGED] = minutes
        return self

    def upload(self, category: str, minutes: int, kbps: int) -> Day:
        at = layout.cat_at(category, 0)
        self.v[at + layout.CAT_UP_MIN] += minutes
        self.v[at + layout.CAT_UP_BYTES] += kbps * 1000 // 8 * 60 * minutes
        return self

    def terminals(self, *kinds: tuple[str, str, str], windows: int = 96) -> Day:
        for host, vendor, medium in kinds:
            mac = f"02:00:00:00:{len(self.tm):02x}:01"
            self.tm[mac] = [self.day * DAY + DAY, host, vendor, medium, windows]
        return self

    def signal(self, band: str, dbm: int, station_windows: int) -> Day:
        b = layout.band_index(band)
        assert b is not None
        self.v[layout.SIG + b * layout.SIG_BUCKETS + layout.sig_bucket(dbm)] += station_windows
        return self

    def wifi_parts(self, *points: float, n: int = 100) -> Day:
        for i, p in enumerate(points):
            self.v[layout.WS + i] += round(p * PART_SCALE) * n
            self.v[layout.WN + i] += n
        return self

    def radio(self, band: str, interference: float, utilisation: float, windows: int = 96) -> Day:
        b = layout.band_index(band)
        assert b is not None
        at = layout.RADIO + 3 * b
        self.v[at] += windows
        self.v[at + 1] += round(interference * PCT_SCALE) * windows
        self.v[at + 2] += round(utilisation * PCT_SCALE) * windows
        return self

    def internet(self, delay: float, jitter: float, loss: float, windows: int = 96) -> Day:
        at = layout.QUALITY
        self.v[at] += windows
        self.v[at + 1] += round(delay * MS_SCALE) * windows
        self.v[at + 2] += round(jitter * MS_SCALE) * windows
        self.v[at + 3] += round(loss * 100) * windows
        return self

    def rate_windows(self, kbps: float, windows: int) -> Day:
        bucket = layout.rate_bucket(kbps)
        assert bucket is not None
        self.v[layout.RATE_WINDOWS + bucket] += windows
        return self

    def rate_bytes(self, kbps: float, nbytes: int) -> Day:
        bucket = layout.rate_bucket(kbps)
        assert bucket is not None
        self.v[layout.RATE_BYTES + bucket] += nbytes
        return self

    def competitor(self, operator: str, ssid: str, dbm: int, scans: int, total_scans: int = 24) -> Day:
        counts = [0] * layout.SIG_BUCKETS
        counts[layout.sig_bucket(dbm)] = scans
        self.comp[operator] = [dbm, ssid, counts]
        self.v[layout.SCANS] = total_scans
        return self

    def offline(self, first_slot: int, last_slot: int) -> Day:
        for slot in range(first_slot, last_slot + 1):
            self.slots &= ~(1 << slot)
        return self

    def data(self) -> dict[str, Any]:
        return {
            "v": list(self.v),
            "first": self.day * DAY,
            "last": self.day * DAY + DAY,
            "slots": slot_hex(self.slots),
            "off": slot_hex(0),
            "tm": dict(self.tm),
            "comp": dict(self.comp),
            **self.extra,
        }


def week(first: int = MONDAY, days: int = 7) -> list[Day]:
    """``days`` empty days from ``first``."""
    return [Day(first + i) for i in range(days)]


def rows(days: list[Day]) -> list[tuple[int, dict[str, Any]]]:
    """The (day, rollup) rows ``build_profile`` takes."""
    return [(d.day, d.data()) for d in days]


def as_of(days: list[Day]) -> int:
    """Midnight after the last day."""
    return (days[-1].day + 1) * DAY
