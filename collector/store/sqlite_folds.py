"""The fold queue on SQLite: how a report is queued, claimed and folded (``store/folding.py`` says what).

One process writes the file at a time (the writers' lock), so a claim is simply deleting the
queue row inside the folding transaction: the one whose ``DELETE`` removed it folds it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from collector.dpi.unclassified import UPSERT as UNCLASSIFIED
from collector.store.base import SpooledMessage, StoreError
from collector.store.folding import DayKey, Folds, Prepared, stored_report

#: The store's writer-thread (or reader-pool) runner: runs a function of a connection.
Run = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]

# CROSS JOIN keeps the queue the outer loop: left to itself the planner scanned all of ``reports``
# (payloads included) for every chunk, a third of a collector's CPU while it caught up after a burst.
# In key order, so a chunk holds whole gateways (each home-day written once for all its reports).
QUEUED = (
    "SELECT r.gateway_id, r.epoch, r.seq, r.window_start, r.window_end, r.uptime_s, r.sent_at,"
    " r.received_at, r.payload FROM home_fold_queue q CROSS JOIN reports r"
    " ON r.gateway_id = q.gateway_id AND r.epoch = q.epoch AND r.seq = q.seq {share}"
    " ORDER BY q.gateway_id {order}, q.epoch {order}, q.seq {order} LIMIT ?"
)
CLAIM = "DELETE FROM home_fold_queue WHERE gateway_id = ? AND epoch = ? AND seq = ?"
#: This folder's share of the queue (``folding.share_of``): (of, mine) are the parameters.
SHARE = "WHERE unicode(substr(q.gateway_id, -1)) % ? = ?"
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


def _key(m: SpooledMessage) -> tuple[str, int, int]:
    return (m.gateway_id, m.epoch, m.seq)


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

    async def fold_pending(self, limit: int = 500, everyone: bool = False) -> int:
        """Fold up to ``limit`` queued reports: this process's kept ones, else its share of the
        table (``folding.share_of``), else (``everyone``) anyone's; how many were taken.

        What each window adds is computed before the write lock is taken (so another folder
        can write meanwhile); claims and folds then commit together, so a report is folded
        exactly once whatever dies when. 0 means nothing is waiting.
        """
        mine = self.state.take(limit)
        rows: list[tuple[Any, ...]] = []
        if not mine:
            rows = await self._queued(limit, own=True)
            if not rows and everyone:
                rows = await self._queued(limit, own=False)
        taken = mine or [m for m in map(stored_report, rows) if m is not None]
        prepared = self.state.prepare(taken)
        folded = 0  # set once committed

        def tx(db: sqlite3.Connection) -> int:
            nonlocal folded
            db.execute("BEGIN IMMEDIATE")
            try:
                # a key is folded by whoever deletes it; one that does not decode is claimed too
                # (dropped: it never blocks the queue)
                ours = {key for key in map(_key, taken) if db.execute(CLAIM, key).rowcount == 1}
                claimed = [p for p in prepared if _key(p.report) in ours]
                if not mine and len(rows) < limit:
                    db.execute(ORPHANS)
                self._fold(db, claimed)
                db.execute("COMMIT")
                folded = len(claimed)
            except BaseException:
                self.state.forget()
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return len(mine) if mine else len(claimed)

        try:
            taken_n = int(await self._write(tx))
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}", transient=True) from exc
        self.state.folded += folded
        return taken_n

    async def _queued(self, limit: int, own: bool) -> list[tuple[Any, ...]]:
        """Queued reports read back with their raw rows: this folder's share, or anyone's."""
        how = self.state.read_back(own)
        if how is None:
            return []
        query = QUEUED.format(share=SHARE if how.share else "", order=how.order)
        args = (*(how.share or ()), limit)
        return list(await self._read(lambda db: db.execute(query, args).fetchall()))

    def _fold(self, db: sqlite3.Connection, claimed: list[Prepared]) -> None:
        stored: dict[DayKey, tuple[str, str]] = {}
        for key in Folds.day_keys(claimed):
            row = db.execute(
                "SELECT data, detail FROM home_days WHERE gateway_id = ? AND day = ?", key
            ).fetchone()
            if row is not None:
                stored[key] = (str(row[0]), str(row[1] or ""))
        now = time.time()
        db.executemany(WRITE_DAY, [(*w, now) for w in self.state.fold(claimed, stored)])
        seen = self.state.memberships(claimed)
        if seen:
            db.executemany(UNCLASSIFIED, seen)

    async def pending(self) -> int:
        """Reports stored and not yet folded."""
        return int(
            await self._read(lambda db: db.execute("SELECT count(*) FROM home_fold_queue").fetchone()[0])
        )
