"""PostgreSQL side of home profiles: day rollups (read), CRM rows, evaluation runs.

A mixin for :class:`collector.store.postgres.PostgresStore`, with the semantics of
``sqlite_insights.py`` (tables: migrations ``postgresql/010_insights.sql`` and
``011_fold_queue.sql``; ``docs/profiles.md``). Folding is ``postgres_folds.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from collector.profiles.rollup import join_day
from collector.store.base import StoreError
from collector.store.postgres_results import Conn, PostgresResultsMixin, pg_error

SUBSCRIBER_COLUMNS = (
    "gateway_id", "subscriber_id", "plan_down_mbps", "plan_up_mbps", "price", "contract_end", "area", "community",
)  # fmt: skip
RUN_KEYS = ("kind", "started_at", "finished_at", "as_of", "homes", "results", "seconds")
DAY_TEXTS = "SELECT gateway_id, day, data FROM home_days WHERE day >= %s AND day <= %s"
DAY_RANGE = DAY_TEXTS + " AND gateway_id >= %s AND gateway_id <= %s ORDER BY gateway_id, day"
DAY_ONLY = DAY_TEXTS + " AND gateway_id = ANY(%b::text[]) ORDER BY gateway_id, day"


def _day_texts_query(
    first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None
) -> tuple[str, tuple[Any, ...]]:
    if only is None:
        return DAY_RANGE, (since_day, until_day, first_id, last_id)
    return DAY_ONLY, (since_day, until_day, list(only))


class DayReadError(StoreError):
    """A :class:`StoreError` that survives the trip back from an evaluation worker process
    (``StoreError`` itself cannot be unpickled: ``transient`` is keyword-only)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _day_read_error, (str(self), self.transient)


def _day_read_error(message: str, transient: bool) -> DayReadError:
    return DayReadError(message, transient=transient)


@dataclass(frozen=True)
class PostgresDayReader:
    """Reads raw core rollups with a connection of its own, opened per call.

    Picklable: an evaluation worker process reads its own chunks, so gigabytes of JSON text
    never travel through the parent. A connection per chunk (thousands of homes) costs a
    few milliseconds and never outlives a database restart.
    """

    dsn: str = field(repr=False)  # may hold a password

    def __call__(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        sql, params = _day_texts_query(first_id, last_id, since_day, until_day, only)
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                rows = conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            error = pg_error(exc)
            raise DayReadError(str(error), transient=error.transient) from exc
        return [(str(g), int(d), str(t)) for g, d, t in rows]


class PostgresInsightsMixin(PostgresResultsMixin):
    """Home-profile storage for :class:`~collector.store.postgres.PostgresStore`."""

    url: str

    # -- day rollups -------------------------------------------------------------------
    async def home_days(
        self,
        since_day: int,
        until_day: int | None = None,
        gateway_ids: list[str] | None = None,
        detail: bool = False,
    ) -> list[tuple[str, int, dict[str, Any]]]:
        """(gateway, day, rollup) rows from ``since_day`` (inclusive), ordered by gateway and day."""
        cols = "gateway_id, day, data, detail" if detail else "gateway_id, day, data, NULL"
        sql = f"SELECT {cols} FROM home_days WHERE day >= %s AND day <= %s"
        args: tuple[Any, ...] = (since_day, until_day if until_day is not None else 2**40)
        if gateway_ids:
            sql, args = sql + " AND gateway_id = ANY(%b::text[])", (*args, list(gateway_ids))
        rows = await self._fetch(sql + " ORDER BY gateway_id, day", args)
        return [
            (str(g), int(d), join_day(json.loads(data), json.loads(extra) if extra else None))
            for g, d, data, extra in rows
        ]

    async def home_ids(self, since_day: int) -> list[str]:
        """Gateways with a day rollup since ``since_day`` or a current result, sorted."""
        rows = await self._fetch(
            "SELECT DISTINCT gateway_id FROM home_days WHERE day >= %s"
            " UNION SELECT DISTINCT gateway_id FROM home_results",
            (since_day,),
        )
        return sorted(str(r[0]) for r in rows)

    async def home_day_texts(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        """Raw core rollups (JSON text) of gateways ``first_id..last_id`` (or just ``only``), ordered."""
        rows = await self._fetch(*_day_texts_query(first_id, last_id, since_day, until_day, only))
        return [(str(g), int(d), str(t)) for g, d, t in rows]

    def day_reader(self) -> PostgresDayReader:
        """A picklable reader of raw core rollups, so evaluation workers read for themselves."""
        return PostgresDayReader(self.url)

    async def updated_homes(self, since: float) -> list[str]:
        """Gateways whose rollups changed after ``since`` (wall time)."""
        rows = await self._fetch("SELECT DISTINCT gateway_id FROM home_days WHERE updated_at > %s", (since,))
        return sorted(str(r[0]) for r in rows)

    # -- CRM ---------------------------------------------------------------------------
    async def upsert_subscribers(self, rows: list[dict[str, Any]], imported_at: float | None = None) -> int:
        """Insert or replace CRM rows (keyed by gateway); return how many were written."""
        at = imported_at if imported_at is not None else time.time()
        latest = list({r["gateway_id"]: r for r in rows}.values())  # a later row for a gateway wins
        cols = ", ".join(SUBSCRIBER_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*SUBSCRIBER_COLUMNS[1:], "imported_at"))
        texts = {"gateway_id", "subscriber_id", "contract_end", "area", "community"}
        types = ", ".join("%b::text[]" if c in texts else "%b::float8[]" for c in SUBSCRIBER_COLUMNS)

        def column(name: str) -> list[Any]:
            values = [r.get(name) for r in latest]
            convert = str if name in texts else float
            return [None if v is None else convert(v) for v in values]

        async def tx(conn: Conn) -> None:
            if latest:
                await conn.execute(
                    f"INSERT INTO subscribers ({cols}, imported_at) SELECT u.*, %s FROM unnest({types}) AS u"
                    f" ON CONFLICT (gateway_id) DO UPDATE SET {updates}",
                    (at, *(column(c) for c in SUBSCRIBER_COLUMNS)),
                )

        await self._tx(tx)
        return len(rows)

    async def subscribers(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """CRM rows by gateway (all, or those of ``gateway_ids``)."""
        sql = f"SELECT {', '.join(SUBSCRIBER_COLUMNS)} FROM subscribers"
        if gateway_ids is None:
            rows = await self._fetch(sql)
        else:
            rows = await self._fetch(sql + " WHERE gateway_id = ANY(%b::text[])", (list(gateway_ids),))
        return {str(row[0]): dict(zip(SUBSCRIBER_COLUMNS, row, strict=True)) for row in rows}

    # -- evaluation runs -----------------------------------------------------------------
    async def record_run(self, run: dict[str, Any]) -> None:
        """Remember an evaluation run (kind, started_at, finished_at, as_of, homes, results, seconds)."""

        async def tx(conn: Conn) -> None:
            await conn.execute(
                f"INSERT INTO evaluation_runs ({', '.join(RUN_KEYS)}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                tuple(run[k] for k in RUN_KEYS),
            )

        await self._tx(tx)

    async def last_run(self) -> dict[str, Any] | None:
        """The latest evaluation run, or ``None``."""
        rows = await self._fetch(
            f"SELECT {', '.join(RUN_KEYS)} FROM evaluation_runs ORDER BY id DESC LIMIT 1"
        )
        return dict(zip(RUN_KEYS, rows[0], strict=True)) if rows else None
