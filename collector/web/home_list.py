"""The homes list over a date range, and every matching home one chunk at a time (exports).

The same filters as ``InsightsStore.homes`` (label, flag, warning, area: ``segment_where``)
plus a range of days: homes that reported in it (a day rollup in ``home_days``). Written
once for both backends through ``store.db``. Exports walk the list by key (gateway id) in
chunks, so memory stays bounded by a chunk whatever the fleet's size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from collector.store.queries import segment_where
from collector.store.sql import Database
from collector.web.ranges import DateRange

COLUMNS = (
    "p.gateway_id, s.subscriber_id, s.area, s.community, p.wifi_score, p.devices, p.gb_per_day, p.online_hours,"
    " p.evaluated_at"
)
BASE = " FROM home_profiles p LEFT JOIN subscribers s ON s.gateway_id = p.gateway_id"


@dataclass(frozen=True, slots=True)
class HomeQuery:
    """What the homes list is filtered by."""

    label: str | None = None
    flag: str | None = None
    warning: str | None = None
    area: str | None = None
    span: DateRange | None = None

    def where(self) -> tuple[str, list[Any]]:
        clause, args = segment_where(self.label, self.flag, self.warning, self.area)
        if self.span is not None:
            days = (self.span.start // 86400, self.span.end // 86400 - 1)
            active = "p.gateway_id IN (SELECT gateway_id FROM home_days WHERE day >= ? AND day <= ?)"
            clause = f"{clause} AND {active}" if clause else f" WHERE {active}"
            args = [*args, *days]
        return clause, args


async def _with_results(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    homes = [{**r, "label": [], "flag": [], "warning": []} for r in rows]
    if homes:
        by_id = {h["gateway_id"]: h for h in homes}
        marks = ", ".join("?" * len(by_id))
        for r in await db.fetch(
            f"SELECT gateway_id, rule, kind FROM home_results WHERE gateway_id IN ({marks}) ORDER BY rule",
            list(by_id),
        ):
            by_id[r["gateway_id"]][r["kind"]].append(r["rule"])
    return homes


async def page(db: Database, query: HomeQuery, limit: int, offset: int) -> dict[str, Any]:
    """One page of the list and the total, shaped as ``InsightsStore.homes`` returns it."""
    clause, args = query.where()
    total = await db.fetch_one("SELECT count(*) AS n" + BASE + clause, args)
    rows = await db.fetch(
        f"SELECT {COLUMNS}{BASE}{clause} ORDER BY p.gateway_id LIMIT ? OFFSET ?", [*args, limit, offset]
    )
    return {"total": int(total["n"]) if total else 0, "homes": await _with_results(db, rows)}


async def every(db: Database, query: HomeQuery, chunk: int = 500) -> AsyncIterator[dict[str, Any]]:
    """Every matching home in gateway order, read ``chunk`` at a time by key."""
    clause, args = query.where()
    after = ""
    while True:
        keyset = f"{clause} AND p.gateway_id > ?" if clause else " WHERE p.gateway_id > ?"
        rows = await db.fetch(
            f"SELECT {COLUMNS}{BASE}{keyset} ORDER BY p.gateway_id LIMIT ?", [*args, after, chunk]
        )
        for home in await _with_results(db, rows):
            yield home
        if len(rows) < chunk:
            return
        after = str(rows[-1]["gateway_id"])
