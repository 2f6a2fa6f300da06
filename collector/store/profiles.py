"""Home profiles' reads and small writes, written once for both stores: day rollups, CRM rows,
evaluation runs, current results, history, the homes list and the area view.

Plain statements over :class:`~collector.store.sql.Database` (``store.db``). What is not here,
and why: folding (``folding.py``, claims per backend), saving results (``*_results.py``: a
read-diff-write in one transaction, in each backend's bulk idiom) and the evaluation workers'
day readers (one connection of their own each). Tables: migration ``010_insights.sql`` per
backend, described in ``docs/profiles.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from collector.profiles.rollup import join_day
from collector.store.queries import ACTIVE_HOMES, AREA_COUNTS, GROUP_LEVELS, area_view, segment_where
from collector.store.sql import Database, Statement, in_list

#: ids per ``IN (...)`` list, well under every backend's parameter limit
CHUNK = 500
SUBSCRIBER_COLUMNS = (
    "gateway_id", "subscriber_id", "plan_down_mbps", "plan_up_mbps", "price", "contract_end", "area", "community",
    "tenure_months", "complaints", "arrears",
)  # fmt: skip
RUN_KEYS = ("kind", "started_at", "finished_at", "as_of", "homes", "results", "seconds")
RESULT_KEYS = ("rule", "kind", "version", "time_window", "state", "score", "sentence", "evidence", "since",
               "changed_at", "evaluated_at")  # fmt: skip
#: The latest install with a score per gateway (the ``installs`` table is the installer's:
#: ``collector/installer/records.py`` writes it). Later rows win; ties by id.
INSTALL_BASELINES = (
    "SELECT i.gateway_id, i.wifi_score, i.recorded_at FROM installs i WHERE i.wifi_score IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM installs n WHERE n.gateway_id = i.gateway_id AND n.wifi_score IS NOT NULL"
    " AND (n.recorded_at > i.recorded_at OR (n.recorded_at = i.recorded_at AND n.install_id > i.install_id)))"
)
HISTORY_KEYS = ("rule", "change", "at", "version", "state", "score", "sentence")
HOME_KEYS = ("gateway_id", "subscriber_id", "area", "community", "wifi_score", "devices", "gb_per_day",
             "online_hours", "evaluated_at")  # fmt: skip
DAY_TEXTS = "SELECT gateway_id, day, data FROM home_days WHERE day >= ? AND day <= ?"


def chunks(items: list[str], size: int = CHUNK) -> Iterable[list[str]]:
    """``items`` in slices short enough for an ``IN (...)`` list."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Profiles:
    """Home profiles' tables, read (and CRM rows and runs written) through ``store.db``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- day rollups -------------------------------------------------------------------
    async def home_days(
        self,
        since_day: int,
        until_day: int | None = None,
        gateway_ids: list[str] | None = None,
        detail: bool = False,
    ) -> list[tuple[str, int, dict[str, Any]]]:
        """(gateway, day, rollup) rows from ``since_day`` (inclusive), ordered by gateway and day."""
        cols = "gateway_id, day, data, detail" if detail else "gateway_id, day, data, NULL AS detail"
        sql = f"SELECT {cols} FROM home_days WHERE day >= ? AND day <= ?"
        bounds = (since_day, until_day if until_day is not None else 2**40)
        rows: list[dict[str, Any]] = []
        for ids in list(chunks(gateway_ids)) if gateway_ids else [[]]:
            where = f" AND gateway_id IN {in_list(ids)}" if ids else ""
            rows += await self._db.fetch(sql + where, (*bounds, *ids))
        out = [
            (
                str(r["gateway_id"]),
                int(r["day"]),
                join_day(json.loads(r["data"]), json.loads(r["detail"]) if r["detail"] else None),
            )
            for r in rows
        ]
        out.sort(key=lambda r: (r[0], r[1]))
        return out

    async def home_ids(self, since_day: int) -> list[str]:
        """Gateways with a day rollup since ``since_day`` or a current result, sorted."""
        rows = await self._db.fetch(
            "SELECT DISTINCT gateway_id FROM home_days WHERE day >= ? UNION SELECT DISTINCT gateway_id FROM home_results",
            (since_day,),
        )
        return sorted(str(r["gateway_id"]) for r in rows)

    async def home_day_texts(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        """Raw core rollups (JSON text) of gateways ``first_id..last_id`` (or just ``only``), ordered."""
        if only is None:
            rows = await self._db.fetch(
                DAY_TEXTS + " AND gateway_id >= ? AND gateway_id <= ?",
                (since_day, until_day, first_id, last_id),
            )
        else:
            rows = []
            for ids in chunks(only):
                rows += await self._db.fetch(
                    DAY_TEXTS + f" AND gateway_id IN {in_list(ids)}", (since_day, until_day, *ids)
                )
        out = [(str(r["gateway_id"]), int(r["day"]), str(r["data"])) for r in rows]
        out.sort(key=lambda r: (r[0], r[1]))
        return out

    async def updated_homes(self, since: float) -> list[str]:
        """Gateways whose rollups changed after ``since`` (wall time)."""
        rows = await self._db.fetch(
            "SELECT DISTINCT gateway_id FROM home_days WHERE updated_at > ?", (since,)
        )
        return sorted(str(r["gateway_id"]) for r in rows)

    # -- CRM ---------------------------------------------------------------------------
    async def upsert_subscribers(self, rows: list[dict[str, Any]], imported_at: float | None = None) -> int:
        """Insert or replace CRM rows (keyed by gateway; a later row for a gateway wins); how many."""
        at = imported_at if imported_at is not None else time.time()
        cols = ", ".join(SUBSCRIBER_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*SUBSCRIBER_COLUMNS[1:], "imported_at"))
        latest = list({r["gateway_id"]: r for r in rows}.values())
        if latest:
            await self._db.execute(
                Statement(
                    f"INSERT INTO subscribers ({cols}, imported_at) VALUES ({', '.join('?' * (len(SUBSCRIBER_COLUMNS) + 1))})"
                    f" ON CONFLICT (gateway_id) DO UPDATE SET {updates}",
                    [(*(_subscriber_value(c, r.get(c)) for c in SUBSCRIBER_COLUMNS), at) for r in latest],
                    many=True,
                )
            )
        return len(rows)

    async def subscribers(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """CRM rows by gateway (all, or those of ``gateway_ids``)."""
        sql = f"SELECT {', '.join(SUBSCRIBER_COLUMNS)} FROM subscribers"
        if gateway_ids is None:
            rows = await self._db.fetch(sql)
        else:
            rows = []
            for ids in chunks(gateway_ids):
                rows += await self._db.fetch(sql + f" WHERE gateway_id IN {in_list(ids)}", ids)
        return {str(r["gateway_id"]): {c: r[c] for c in SUBSCRIBER_COLUMNS} for r in rows}

    async def install_baselines(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Each home's latest recorded install with a Wi-Fi score (the installer's baseline):
        ``{"wifi_score", "recorded_at"}`` by gateway (all, or those of ``gateway_ids``)."""
        sql = INSTALL_BASELINES
        rows: list[dict[str, Any]] = []
        if gateway_ids is None:
            rows = await self._db.fetch(sql)
        else:
            for ids in chunks(gateway_ids):
                rows += await self._db.fetch(sql + f" AND i.gateway_id IN {in_list(ids)}", ids)
        return {
            str(r["gateway_id"]): {
                "wifi_score": float(r["wifi_score"]),
                "recorded_at": float(r["recorded_at"]),
            }
            for r in rows
        }

    # -- evaluation runs -------------------------------------------------------------------
    async def record_run(self, run: dict[str, Any]) -> None:
        """Remember an evaluation run (kind, started_at, finished_at, as_of, homes, results, seconds)."""
        await self._db.execute(
            Statement(
                f"INSERT INTO evaluation_runs ({', '.join(RUN_KEYS)}) VALUES ({', '.join('?' * len(RUN_KEYS))})",
                tuple(run[k] for k in RUN_KEYS),
            )
        )

    async def last_run(self) -> dict[str, Any] | None:
        """The latest evaluation run, or ``None``."""
        return await self._db.fetch_one(
            f"SELECT {', '.join(RUN_KEYS)} FROM evaluation_runs ORDER BY id DESC LIMIT 1"
        )

    # -- results -----------------------------------------------------------------------
    async def home_results(self, gateway_id: str) -> list[dict[str, Any]]:
        """The current results of one home, with their evidence."""
        rows = await self._db.fetch(
            f"SELECT {', '.join(RESULT_KEYS)} FROM home_results WHERE gateway_id = ? ORDER BY kind, rule",
            (gateway_id,),
        )
        out = []
        for r in rows:
            r["window"], r["evidence"] = r.pop("time_window"), json.loads(r["evidence"])
            out.append(
                {
                    ("window" if k == "time_window" else k): r["window" if k == "time_window" else k]
                    for k in RESULT_KEYS
                }
            )
        return out

    async def result_history(self, gateway_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A home's result changes, newest first."""
        return await self._db.fetch(
            f"SELECT {', '.join(HISTORY_KEYS)} FROM result_history WHERE gateway_id = ? ORDER BY at DESC, id DESC LIMIT ?",
            (gateway_id, limit),
        )

    async def home_summary(self, gateway_id: str) -> dict[str, Any] | None:
        """The home's last evaluation figures, or ``None`` if never evaluated."""
        row = await self._db.fetch_one(
            "SELECT evaluated_at, summary FROM home_profiles WHERE gateway_id = ?", (gateway_id,)
        )
        return None if row is None else {"evaluated_at": row["evaluated_at"], **json.loads(row["summary"])}

    async def homes(
        self,
        label: str | None = None,
        flag: str | None = None,
        warning: str | None = None,
        area: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Evaluated homes matching every filter given, with their result names; and the total."""
        clause, args = segment_where(label, flag, warning, area)
        base = " FROM home_profiles p LEFT JOIN subscribers s ON s.gateway_id = p.gateway_id" + clause
        total = await self._db.fetch_one("SELECT count(*) AS n" + base, args)
        rows = await self._db.fetch(
            "SELECT p.gateway_id, s.subscriber_id, s.area, s.community, p.wifi_score, p.devices, p.gb_per_day,"
            " p.online_hours, p.evaluated_at" + base + " ORDER BY p.gateway_id LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        homes = [{**{k: r[k] for k in HOME_KEYS}, "label": [], "flag": [], "warning": []} for r in rows]
        by_id = {h["gateway_id"]: h for h in homes}
        for ids in chunks(list(by_id)):
            for r in await self._db.fetch(
                f"SELECT gateway_id, rule, kind FROM home_results WHERE gateway_id IN {in_list(ids)} ORDER BY rule",
                ids,
            ):
                by_id[r["gateway_id"]][r["kind"]].append(r["rule"])
        return {"total": int(total["n"]) if total else 0, "homes": homes}

    async def area_summary(
        self, min_group: int, level: str = "area", days: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        """Per area (or community): homes, result counts, Wi-Fi quality, competitor density.

        Groups with fewer than ``min_group`` evaluated homes are left out (only counted), so
        no single home can be singled out. ``days`` (first, last day number): only homes that
        reported in those days, and the minimum group holds for that smaller count too.
        """
        column = GROUP_LEVELS[level]
        active, args = (f" AND {ACTIVE_HOMES}", list(days)) if days is not None else ("", [])
        # avg() of an integer column is numeric (Decimal) on PostgreSQL: averaged as a double
        groups = await self._db.fetch(
            f"SELECT {column} AS name, count(*) AS homes, avg(p.wifi_score) AS wifi,"
            " avg(CAST(p.competitor AS DOUBLE PRECISION)) AS competitor, avg(p.gb_per_day) AS gb,"
            " avg(CAST(p.devices AS DOUBLE PRECISION)) AS devices FROM subscribers s JOIN home_profiles p"
            f" ON p.gateway_id = s.gateway_id WHERE {column} IS NOT NULL{active} GROUP BY {column} ORDER BY {column}",
            args,
        )
        counts = await self._db.fetch(
            AREA_COUNTS.format(column=column, active=f" WHERE {ACTIVE_HOMES}" if days is not None else ""),
            args,
        )
        return area_view(
            level, min_group, [tuple(g.values()) for g in groups], [tuple(c.values()) for c in counts]
        )

    async def area_names(self) -> dict[str, list[str]]:
        """Every area and community named by the CRM import, sorted (for the pages' filter choices).

        Names only, no counts: the homes list they filter is per home anyway, so no minimum
        group applies (the area view's counts keep theirs).
        """
        out: dict[str, list[str]] = {}
        for level in ("area", "community"):
            rows = await self._db.fetch(
                f"SELECT DISTINCT {level} AS name FROM subscribers WHERE {level} IS NOT NULL ORDER BY {level}"
            )
            out[level] = [str(r["name"]) for r in rows]
        return out


def _subscriber_value(column: str, value: Any) -> Any:
    # PostgreSQL binds parameters by their Python type: numbers go to the float columns as floats
    if value is None or column in ("gateway_id", "subscriber_id", "contract_end", "area", "community"):
        return value if value is None else str(value)
    return float(value)
