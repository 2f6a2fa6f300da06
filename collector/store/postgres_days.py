"""PostgreSQL's day reader for evaluation workers: raw core rollups on a connection of its own.

Picklable: an evaluation worker process reads its own chunks, so gigabytes of JSON text
never travel through the parent. A connection per chunk (thousands of homes) costs a few
milliseconds and never outlives a database restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from collector.store.postgres_db import store_error

DAY_TEXTS = "SELECT gateway_id, day, data FROM home_days WHERE day >= %s AND day <= %s"
DAY_RANGE = DAY_TEXTS + " AND gateway_id >= %s AND gateway_id <= %s ORDER BY gateway_id, day"
DAY_ONLY = DAY_TEXTS + " AND gateway_id = ANY(%b::text[]) ORDER BY gateway_id, day"


@dataclass(frozen=True)
class PostgresDayReader:
    """Reads raw core rollups, ordered by gateway and day (``COLLATE "C"``: as Python sorts)."""

    dsn: str = field(repr=False)  # may hold a password

    def __call__(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        params: tuple[object, ...]
        if only is None:
            sql, params = DAY_RANGE, (since_day, until_day, first_id, last_id)
        else:
            sql, params = DAY_ONLY, (since_day, until_day, list(only))
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                rows = conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise store_error(exc) from exc  # picklable: it crosses back from the worker
        return [(str(g), int(d), str(t)) for g, d, t in rows]
