"""A synthetic fleet with known figures, written straight into a store (either backend).

Every figure a report reads is set by a rule of the home's index ``i``, so tests can say
what the report must show and check it against the store; ``bench/report.py`` uses the
same fleet at 1,000 homes x 35 days.

- area ``area-{i % areas}``; plan 100 Mbit/s; every day 96 windows reported;
- WAN (1 + i % 3) GB down and 0.1 GB up a day; mean CPU 90 % when ``i % 10 == 0`` (an
  outlier), else 20 %; memory 95 % when ``i % 20 == 1`` (an outlier), else 50 %;
- Wi-Fi parts 90 everywhere, falling to 30 from ``worse_from`` (a day number) for ``i % 5 == 0``;
- 5 GHz channel busy 30 %, rising to 70 % from ``worse_from`` in ``area-0``;
- video 120 min a day (YouTube); game 150 min a day (Steam, a heavy gamer) for ``i % 8 == 0``,
  and from ``worse_from`` for ``i % 8 == 4`` (the label appears); a strong
  competitor for ``i % 7 == 0``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from collector.profiles.rollup import split_day
from collector.store.sql import Statement
from tests.collector.profiles.builders import DAY, Day

GB = 1_000_000_000


@dataclass(frozen=True)
class FleetSpec:
    homes: int
    first_day: int  # UTC day number of the first day
    days: int
    worse_from: int  # UTC day number from which the i % 5 == 0 homes' Wi-Fi is poor
    areas: int = 4
    prefix: str = "rep"

    def gid(self, i: int) -> str:
        return f"{self.prefix}-{i:05d}"


def home_day(spec: FleetSpec, i: int, day: int) -> Day:
    d = Day(day)
    d.minutes("video", 120, down=(1 + i % 3) * GB - 200_000_000, up=100_000_000)
    d.extra["apps"] = {"video": {"YouTube": 120}}
    if i % 8 == 0 or (i % 8 == 4 and day >= spec.worse_from):
        d.minutes("game", 150, down=200_000_000)
        d.extra["apps"]["game"] = {"Steam": 150}
    d.engaged(150 if i % 4 == 0 else 120)
    poor = i % 5 == 0 and day >= spec.worse_from
    part = 30.0 if poor else 90.0
    d.wifi_parts(part, part, part, part, part)
    busy = 70.0 if (i % spec.areas == 0 and day >= spec.worse_from) else 30.0
    d.radio("5GHz", 10.0, busy)
    d.rate_windows(20_000 + 1000 * (i % 3), 96)
    d.terminals(("iphone", "Apple", "5GHz"), ("tv", "Samsung", "wired"))
    if i % 7 == 0:
        d.competitor("Orange", "Livebox-1", -45, 20)
    return d


def statements(spec: FleetSpec, i: int) -> list[Statement]:
    """Everything one home writes: gateway, subscriber, day rollups, daily rollups, facts."""
    gid = spec.gid(i)
    last = (spec.first_day + spec.days - 1) * DAY + 21 * 3600  # the last facts' window
    days, daily, facts = [], [], []
    cpu = 90.0 if i % 10 == 0 else 20.0
    mem = 95.0 if i % 20 == 1 else 50.0
    for day in range(spec.first_day, spec.first_day + spec.days):
        core, detail = split_day(home_day(spec, i, day).data())
        days.append((gid, day, json.dumps(core), json.dumps(detail), 1.0))
        daily.append((gid, day * DAY, 96, (1 + i % 3) * GB, 100_000_000, cpu * 96, 96, 2, 0, 96))
        facts += [(gid, day * DAY + h * 3600, 900, cpu, mem, 5, 2, "[]", "{}", "[]") for h in (3, 9, 15, 21)]
    return [
        Statement(
            "INSERT INTO gateways (gateway_id, first_seen, last_seen, last_window_end, reports, events, status,"
            " agent_version) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            (gid, spec.first_day * DAY, last, last, spec.days * 96, "online" if i % 9 else "offline",
             "0.9.0" if i % 6 == 0 else "1.0.0"),
        ),
        Statement(
            "INSERT INTO subscribers (gateway_id, subscriber_id, plan_down_mbps, plan_up_mbps, price, contract_end,"
            " area, community, imported_at) VALUES (?, ?, 100, 20, 40, '2027-06-30', ?, ?, 0)",
            (gid, f"sub-{i}", f"area-{i % spec.areas}", f"community-{i % (2 * spec.areas)}"),
        ),
        Statement("INSERT INTO home_days (gateway_id, day, data, detail, updated_at) VALUES (?, ?, ?, ?, ?)",
                  days, many=True),
        Statement(
            "INSERT INTO gateway_daily (gateway_id, start, windows, wan_rx_bytes, wan_tx_bytes, cpu_sum, cpu_n,"
            " stations_max, weak_station_windows, wifi_station_windows) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            daily, many=True,
        ),
        Statement(
            "INSERT INTO gateway_facts (gateway_id, window_end, window_s, cpu_pct, mem_used_pct, stations,"
            " wifi_stations, weak_stations, interfaces, station_deltas, apps) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
            [(g, w, s, c, m, st, it, sd, ap) for g, w, s, c, m, st, _, it, sd, ap in facts], many=True,
        ),
    ]  # fmt: skip


async def fill(store: Any, spec: FleetSpec, chunk: int = 50) -> None:
    """Write the fleet into ``store`` (``chunk`` homes a transaction)."""
    for start in range(0, spec.homes, chunk):
        batch: list[Statement] = []
        for i in range(start, min(spec.homes, start + chunk)):
            batch += statements(spec, i)
        await store.db.transaction(batch)
