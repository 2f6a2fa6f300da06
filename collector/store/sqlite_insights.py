"""SQLite side of home profiles: day rollups (read), CRM rows, evaluation runs.

A mixin for :class:`collector.store.sqlite.SqliteStore`; folding is ``sqlite_folds.py``.
Tables: migration ``010_insights.sql``, described in ``docs/profiles.md``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from collector.profiles.rollup import join_day
from collector.store.sqlite_results import ResultsMixin, chunks, marks

T = TypeVar("T")

SUBSCRIBER_COLUMNS = (
    "gateway_id", "subscriber_id", "plan_down_mbps", "plan_up_mbps", "price", "contract_end", "area", "community",
)  # fmt: skip


def day_texts(
    db: sqlite3.Connection,
    first_id: str,
    last_id: str,
    since_day: int,
    until_day: int,
    only: list[str] | None,
) -> list[tuple[str, int, str]]:
    """(gateway, day, core JSON) of a range of gateways (or ``only`` those), ordered."""
    sql = "SELECT gateway_id, day, data FROM home_days WHERE day >= ? AND day <= ?"
    if only is None:
        rows = db.execute(
            sql + " AND gateway_id >= ? AND gateway_id <= ? ORDER BY gateway_id, day",
            (since_day, until_day, first_id, last_id),
        ).fetchall()
    else:
        rows = [
            r
            for ids in chunks(only)
            for r in db.execute(sql + f" AND gateway_id IN ({marks(len(ids))})", (since_day, until_day, *ids))
        ]
        rows.sort(key=lambda r: (r[0], r[1]))
    if db.row_factory is not None:  # the store's own connections make rows of another type
        return [(str(g), int(d), str(t)) for g, d, t in rows]
    # an evaluation reader's rows are already (str, int, str) tuples: no copy of ~14,000 rows
    return cast(list[tuple[str, int, str]], rows)


_local = threading.local()
#: Memory-mapped reads for evaluation readers (SQLite caps it at its compile-time maximum, 2 GB).
READER_MMAP_BYTES = 1 << 31


@dataclass(frozen=True)
class SqliteDayReader:
    """Reads raw core rollups straight from the database file (one connection per thread).

    Picklable: an evaluation worker process reads its own chunks, so gigabytes of JSON text
    never travel through the parent.
    """

    path: str

    def __call__(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        connections: dict[str, sqlite3.Connection] = getattr(_local, "connections", {})
        _local.connections = connections
        db = connections.get(self.path)
        if db is None:
            db = connections[self.path] = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0)
            # rows straight from the mapped file instead of copied through the page cache: a
            # quarter off reading a full evaluation's gigabytes of rollups
            db.execute(f"PRAGMA mmap_size = {READER_MMAP_BYTES}")
        return day_texts(db, first_id, last_id, since_day, until_day, only)


class InsightsMixin(ResultsMixin):
    """Home-profile storage for :class:`~collector.store.sqlite.SqliteStore`."""

    if TYPE_CHECKING:
        path: str  # the database file (SqliteStore's)

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    # -- day rollups -------------------------------------------------------------------
    async def home_days(
        self,
        since_day: int,
        until_day: int | None = None,
        gateway_ids: list[str] | None = None,
        detail: bool = False,
    ) -> list[tuple[str, int, dict[str, Any]]]:
        """(gateway, day, rollup) rows from ``since_day`` (inclusive), ordered by gateway and day."""

        def q(db: sqlite3.Connection) -> list[tuple[str, int, dict[str, Any]]]:
            cols = "gateway_id, day, data, detail" if detail else "gateway_id, day, data, NULL"
            sql = f"SELECT {cols} FROM home_days WHERE day >= ? AND day <= ?"
            bounds = (since_day, until_day if until_day is not None else 2**40)
            out: list[tuple[str, int, dict[str, Any]]] = []
            parts = list(chunks(gateway_ids)) if gateway_ids else [[]]
            for ids in parts:
                where = f" AND gateway_id IN ({marks(len(ids))})" if ids else ""
                for g, d, data, extra in db.execute(
                    sql + where + " ORDER BY gateway_id, day", (*bounds, *ids)
                ):
                    out.append(
                        (str(g), int(d), join_day(json.loads(data), json.loads(extra) if extra else None))
                    )
            out.sort(key=lambda r: (r[0], r[1]))
            return out

        return await self._read(q)

    async def home_ids(self, since_day: int) -> list[str]:
        """Gateways with a day rollup since ``since_day`` or a current result, sorted."""

        def q(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT DISTINCT gateway_id FROM home_days WHERE day >= ?"
                " UNION SELECT DISTINCT gateway_id FROM home_results",
                (since_day,),
            )
            return sorted(str(r[0]) for r in rows)

        return await self._read(q)

    async def home_day_texts(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        """Raw core rollups (JSON text) of gateways ``first_id..last_id`` (or just ``only``), ordered."""
        return await self._read(lambda db: day_texts(db, first_id, last_id, since_day, until_day, only))

    def day_reader(self) -> SqliteDayReader:
        """A picklable reader of raw core rollups, so evaluation workers read for themselves."""
        return SqliteDayReader(self.path)

    async def updated_homes(self, since: float) -> list[str]:
        """Gateways whose rollups changed after ``since`` (wall time)."""

        def q(db: sqlite3.Connection) -> list[str]:
            rows = db.execute("SELECT DISTINCT gateway_id FROM home_days WHERE updated_at > ?", (since,))
            return sorted(str(r[0]) for r in rows)

        return await self._read(q)

    # -- CRM ---------------------------------------------------------------------------
    async def upsert_subscribers(self, rows: list[dict[str, Any]], imported_at: float | None = None) -> int:
        """Insert or replace CRM rows (keyed by gateway); return how many were written."""
        at = imported_at if imported_at is not None else time.time()

        def tx(db: sqlite3.Connection) -> int:
            cols = ", ".join(SUBSCRIBER_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in (*SUBSCRIBER_COLUMNS[1:], "imported_at"))
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    f"INSERT INTO subscribers ({cols}, imported_at) VALUES ({marks(len(SUBSCRIBER_COLUMNS) + 1)})"
                    f" ON CONFLICT (gateway_id) DO UPDATE SET {updates}",
                    [(*(r.get(c) for c in SUBSCRIBER_COLUMNS), at) for r in rows],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return len(rows)

        return await self._write(tx)

    async def subscribers(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """CRM rows by gateway (all, or those of ``gateway_ids``)."""

        def q(db: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            sql = f"SELECT {', '.join(SUBSCRIBER_COLUMNS)} FROM subscribers"
            out: dict[str, dict[str, Any]] = {}
            batches = list(chunks(gateway_ids)) if gateway_ids is not None else [None]
            for ids in batches:
                rows = (
                    db.execute(sql + f" WHERE gateway_id IN ({marks(len(ids))})", ids)
                    if ids is not None
                    else db.execute(sql)
                )
                for row in rows:
                    out[str(row[0])] = dict(zip(SUBSCRIBER_COLUMNS, row, strict=True))
            return out

        return await self._read(q)

    # -- evaluation runs -----------------------------------------------------------------
    async def record_run(self, run: dict[str, Any]) -> None:
        """Remember an evaluation run (kind, started_at, finished_at, as_of, homes, results, seconds)."""

        def tx(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO evaluation_runs (kind, started_at, finished_at, as_of, homes, results, seconds)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                tuple(
                    run[k]
                    for k in ("kind", "started_at", "finished_at", "as_of", "homes", "results", "seconds")
                ),
            )

        await self._write(tx)

    async def last_run(self) -> dict[str, Any] | None:
        """The latest evaluation run, or ``None``."""

        def q(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute(
                "SELECT kind, started_at, finished_at, as_of, homes, results, seconds FROM evaluation_runs"
                " ORDER BY id DESC LIMIT 1"
            ).fetchone()
            keys = ("kind", "started_at", "finished_at", "as_of", "homes", "results", "seconds")
            return None if row is None else dict(zip(keys, row, strict=True))

        return await self._read(q)
