"""The fold queue on SQLite: how a report is queued, claimed and folded (``store/folding.py`` says what).

One process writes the file at a time (the writers' lock), so a claim is simply deleting the
queue row inside the folding transaction: the one whose ``DELETE`` removed it folds it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from collector.store.base import SpooledMessage, StoreError
from collector.store.folding import DayKey, Folds, stored_report

#: The store's writer-thread (or reader-pool) runner: runs a function of a connection.
Run = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]

QUEUED = (
    "SELECT r.gateway_id, r.epoch, r.seq, r.window_start, r.window_end, r.uptime_s, r.sent_at,"
    " r.received_at, r.payload FROM home_fold_queue q JOIN reports r"
    " ON r.gateway_id = q.gateway_id AND r.epoch = q.epoch AND r.seq = q.seq LIMIT ?"
)
CLAIM = "DELETE FROM home_fold_queue WHERE gateway_id = ? AND epoch = ? AND seq = ?"
#: A key whose raw report the retention deleted can never be folded.
ORPHANS = (
    "DELETE FROM home_fold_queue WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE"
    " r.gateway_id = home_fold_queue.gateway_id AND r.epoch = home_fold_queue.epoch"
    " AND r.seq = home_fold_queue.seq)"
)
WRITE_DAY = (
    "INSERT INTO home_days (gateway_id, day, data, detail, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (gateway_id, day) DO UPDATE SET data = excluded.data, detail = excluded.detail,"
    " updated_at = excluded.updated_at"
)


class SqliteFolds:
    """Folding for :class:`~collector.store.sqlite.SqliteStore`, on its writer thread."""

    def __init__(self, write: Run, read: Run, state: Folds) -> None:
        self._write = write
        self._read = read
        self.state = state

    @staticmethod
    def queue(db: sqlite3.Connection, reports: list[SpooledMessage]) -> None:
        """In the batch transaction: remember which new reports still need folding."""
        if reports:
            db.executemany(
                "INSERT INTO home_fold_queue VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(m.gateway_id, m.epoch, m.seq) for m in reports],
            )

    async def fold_pending(self, limit: int = 500) -> int:
        """Fold up to ``limit`` queued reports (this process's first); how many were taken.

        Claims and folds commit together, so a report is folded exactly once whatever dies
        when. 0 means nothing is waiting.
        """
        mine = self.state.take(limit)

        def tx(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            try:
                if mine:
                    taken = mine
                else:
                    rows = db.execute(QUEUED, (limit,)).fetchall()
                    taken = [m for m in map(stored_report, rows) if m is not None]
                    if len(rows) < limit:
                        db.execute(ORPHANS)
                claimed = [m for m in taken if db.execute(CLAIM, (m.gateway_id, m.epoch, m.seq)).rowcount == 1]
                folded = self._fold(db, claimed)
                db.execute("COMMIT")
            except BaseException:
                self.state.forget()
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return len(mine) if mine else folded

        try:
            return int(await self._write(tx))
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}", transient=True) from exc

    def _fold(self, db: sqlite3.Connection, claimed: list[SpooledMessage]) -> int:
        keys = Folds.day_keys(claimed)
        stored: dict[DayKey, tuple[str, str]] = {}
        for key in keys:
            row = db.execute("SELECT data, detail FROM home_days WHERE gateway_id = ? AND day = ?", key).fetchone()
            if row is not None:
                stored[key] = (str(row[0]), str(row[1] or ""))
        writes, folded = self.state.fold(claimed, stored)
        now = time.time()
        db.executemany(WRITE_DAY, [(*w, now) for w in writes])
        return folded

    async def pending(self) -> int:
        """Reports stored and not yet folded."""
        return int(await self._read(lambda db: db.execute("SELECT count(*) FROM home_fold_queue").fetchone()[0]))
