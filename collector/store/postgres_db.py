"""PostgreSQL's :class:`~collector.store.sql.Database`: statements on the store's pool.

Placeholders are translated once per SQL text (``sql.to_pyformat``); a transaction
runs its statements in order on one pooled connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from collector.store.base import StoreError
from collector.store.sql import Dialect, Outcome, Statement, check_expect, to_pyformat

#: SQLSTATEs worth retrying: serialization failure and deadlock, insufficient resources,
#: a server shutting down or starting, lost connections.
TRANSIENT = ("40001", "40P01", "53100", "53200", "53300", "57P01", "57P03", "08000", "08003", "08006")


def store_error(exc: psycopg.Error) -> StoreError:
    """A psycopg error as a :class:`StoreError`, transient where a retry may succeed."""
    code = getattr(exc, "sqlstate", None) or ""
    transient = isinstance(exc, psycopg.OperationalError) or code in TRANSIENT
    return StoreError(f"postgresql: {exc}".strip()[:500], transient=transient)


class PostgresDatabase:
    """Statements for one PostgreSQL store, on its connection pool."""

    dialect = Dialect("postgresql")

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(to_pyformat(sql), tuple(params))
                rows: list[dict[str, Any]] = await cur.fetchall()
                await conn.rollback()  # read only: end the implicit transaction
                return rows
        except psycopg.Error as exc:
            raise store_error(exc) from exc

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def transaction(self, statements: Sequence[Statement], snapshot: bool = False) -> list[Outcome]:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                outcomes: list[Outcome] = []
                async with conn.cursor(row_factory=dict_row) as cur:
                    if snapshot:  # one snapshot for every statement (READ COMMITTED takes one per statement)
                        await cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    for s in statements:
                        if s.many:
                            await cur.executemany(to_pyformat(s.sql), [tuple(p) for p in s.params])
                            outcome = Outcome(cur.rowcount)
                        else:
                            await cur.execute(to_pyformat(s.sql), tuple(s.params))
                            rows = await cur.fetchall() if cur.description is not None else []
                            outcome = Outcome(cur.rowcount, rows)
                        check_expect(s, outcome.rowcount)
                        outcomes.append(outcome)
                return outcomes
        except psycopg.Error as exc:
            raise store_error(exc) from exc

    async def execute(self, statement: Statement) -> Outcome:
        return (await self.transaction([statement]))[0]
