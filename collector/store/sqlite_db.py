"""SQLite's :class:`~collector.store.sql.Database`: statements on the store's writer thread.

Writes run on the store's single writer (the same thread and lock file as ingest
batches), inside ``BEGIN IMMEDIATE`` so a concern's statements see and change one
snapshot; reads run on the reader pool.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from collector.store.base import StoreError
from collector.store.sql import Dialect, Outcome, Statement, check_expect

T = TypeVar("T")
Runner = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]


def transient(exc: sqlite3.Error) -> bool:
    """Whether retrying later may succeed (locked, busy, disk full, I/O)."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in text for word in ("locked", "busy", "full", "disk i/o", "unable to open")
    )


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    if cursor.description is None:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _run(db: sqlite3.Connection, statement: Statement) -> Outcome:
    if statement.many:
        cursor = db.executemany(statement.sql, statement.params)
        outcome = Outcome(cursor.rowcount)
    else:
        cursor = db.execute(statement.sql, tuple(statement.params))
        rows = _rows(cursor)  # RETURNING rows must be read before rowcount is final
        outcome = Outcome(cursor.rowcount if cursor.rowcount >= 0 else len(rows), rows)
    check_expect(statement, outcome.rowcount)
    return outcome


class SqliteDatabase:
    """Statements for one SQLite store, given its writer and reader runners."""

    dialect = Dialect("sqlite")

    def __init__(self, write: Runner, read: Runner) -> None:
        self._write = write
        self._read = read

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        def q(db: sqlite3.Connection) -> list[dict[str, Any]]:
            return _rows(db.execute(sql, tuple(params)))

        try:
            result: list[dict[str, Any]] = await self._read(q)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}", transient=transient(exc)) from exc
        return result

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def transaction(self, statements: Sequence[Statement], snapshot: bool = False) -> list[Outcome]:
        # snapshot: BEGIN IMMEDIATE holds the database's one write lock from the first statement,
        # so no other connection (or process) commits until this one ends
        def tx(db: sqlite3.Connection) -> list[Outcome]:
            db.execute("BEGIN IMMEDIATE")
            try:
                outcomes = [_run(db, s) for s in statements]
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may already have rolled back (SQLITE_FULL/IOERR)
                    db.execute("ROLLBACK")
                raise
            return outcomes

        try:
            result: list[Outcome] = await self._write(tx)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}", transient=transient(exc)) from exc
        return result

    async def execute(self, statement: Statement) -> Outcome:
        return (await self.transaction([statement]))[0]
