"""The fold queue on PostgreSQL: how a report is queued, claimed and folded (``store/folding.py`` says what).

Several collectors share one queue, so what SQLite gets from its single writer is explicit:

- a folder *claims* queue rows with ``DELETE ... RETURNING`` over ``FOR UPDATE SKIP LOCKED``
  rows, in the transaction that folds them: each report is folded by exactly one folder,
  folders never wait for each other's claims, and a failed fold puts its rows back;
- the home-day rows a fold writes are locked in (gateway, day) order first (a missing row is
  inserted first, so there is one to lock), so two folders updating one home's day
  serialise instead of losing an update, and cannot deadlock;
- this process's own committed reports are claimed by key first (no read-back); with none
  left it claims any queued rows (other collectors', a dead process's, what memory dropped).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from collector.store.base import SpooledMessage
from collector.store.folding import DayKey, Folds, Key, Prepared, stored_report
from collector.store.postgres_arrays import Column, column

Conn = psycopg.AsyncConnection[TupleRow]
UNCLASSIFIED = (
    "INSERT INTO dpi_unclassified (week, domain, home, bytes) SELECT * FROM unnest(%s::int[], %s::text[],"
    " %s::text[], %s::bigint[]) AS u(week, domain, home, bytes) ORDER BY week, domain, home"
    " ON CONFLICT (week, domain, home) DO UPDATE SET bytes = dpi_unclassified.bytes + excluded.bytes"
)
#: This folder's share of the queue (``folding.share_of``): (of, mine) are the parameters.
SHARE = "WHERE ascii(right(gateway_id, 1)) %% %s = %s"
#: The store's runner: one transaction on a pooled connection.
Run = Callable[[Callable[[Conn], Awaitable[Any]]], Awaitable[Any]]
KEYS = "%b::text[], %b::bigint[], %b::bigint[]"
# In key order (from the end for the store writer process): a chunk holds whole gateways, so each
# home-day is written once for all its reports, and two folders of one collector start apart.
CLAIM_ANY = (
    "WITH claimed AS (DELETE FROM home_fold_queue q USING (SELECT gateway_id, epoch, seq FROM home_fold_queue"
    " {share} ORDER BY gateway_id {order}, epoch {order}, seq {order} LIMIT %s FOR UPDATE SKIP LOCKED) c WHERE q.gateway_id = c.gateway_id AND q.epoch = c.epoch"
    " AND q.seq = c.seq RETURNING q.gateway_id, q.epoch, q.seq)"
    " SELECT c.gateway_id, c.epoch, c.seq, r.window_start, r.window_end, r.uptime_s, r.sent_at, r.received_at,"
    " r.payload FROM claimed c LEFT JOIN reports r"
    " ON r.gateway_id = c.gateway_id AND r.epoch = c.epoch AND r.seq = c.seq"
)
CLAIM_KEYS = (
    "DELETE FROM home_fold_queue q USING (SELECT f.gateway_id, f.epoch, f.seq FROM home_fold_queue f"
    f" JOIN unnest({KEYS}) AS k(g, e, s) ON f.gateway_id = k.g AND f.epoch = k.e AND f.seq = k.s"
    " FOR UPDATE OF f SKIP LOCKED) c WHERE q.gateway_id = c.gateway_id AND q.epoch = c.epoch AND q.seq = c.seq"
    " RETURNING q.gateway_id, q.epoch, q.seq"
)
# A row for every day first (an empty placeholder, overwritten before the commit, so never
# seen), then all of them locked in key order.
PLACEHOLDERS = (
    "INSERT INTO home_days (gateway_id, day, data, detail, updated_at) SELECT g, d, '', '', 0"
    ' FROM unnest(%b::text[], %b::int[]) AS k(g, d) ORDER BY g COLLATE "C", d ON CONFLICT DO NOTHING'
)
LOCK_DAYS = (
    "SELECT h.gateway_id, h.day, h.data, h.detail FROM home_days h JOIN unnest(%b::text[], %b::int[])"
    " AS k(g, d) ON h.gateway_id = k.g AND h.day = k.d ORDER BY h.gateway_id, h.day FOR UPDATE OF h"
)
WRITE_DAYS = (
    "UPDATE home_days h SET data = u.data, detail = u.detail, updated_at = %s"
    " FROM unnest(%b::text[], %b::int[], %b::text[], %b::text[]) AS u(g, d, data, detail)"
    " WHERE h.gateway_id = u.g AND h.day = u.d"
)


def key_arrays(keys: list[Key]) -> tuple[Column, Column, Column]:
    """Keys as the three array parameters of :data:`KEYS`."""
    ids, epochs, seqs = zip(*keys, strict=True) if keys else ((), (), ())
    return column("text", ids), column("bigint", epochs), column("bigint", seqs)


class PostgresFolds:
    """Folding for :class:`~collector.store.postgres.PostgresStore`."""

    def __init__(self, tx: Run, state: Folds) -> None:
        self._tx = tx
        self.state = state

    @staticmethod
    async def queue(conn: Conn, reports: list[SpooledMessage]) -> None:
        """In the batch transaction: remember which new reports still need folding."""
        if reports:
            await conn.execute(
                f"INSERT INTO home_fold_queue SELECT * FROM unnest({KEYS}) ON CONFLICT DO NOTHING",
                key_arrays([(m.gateway_id, m.epoch, m.seq) for m in reports]),
            )

    async def fold_pending(self, limit: int = 500, everyone: bool = False) -> int:
        """Fold up to ``limit`` queued reports: this process's kept ones, else its share of the
        table (``folding.share_of``), else (``everyone``) anyone's; how many were taken. 0: none wait."""
        if limit <= 0:
            return 0
        mine = self.state.take(limit)
        prepared = self.state.prepare(mine)  # before the transaction: no lock is held meanwhile
        folded = 0  # set inside, counted once committed

        async def tx(conn: Conn) -> int:
            nonlocal folded
            if mine:
                cur = await conn.execute(
                    CLAIM_KEYS, key_arrays([(m.gateway_id, m.epoch, m.seq) for m in mine])
                )
                claimed = {(str(g), int(e), int(s)) for g, e, s in await cur.fetchall()}
                # the others were folded (or are being folded) by another process
                ours = [p for p in prepared if (p.report.gateway_id, p.report.epoch, p.report.seq) in claimed]
                await self._fold(conn, ours)
                folded = len(ours)
                return len(mine)
            how = self.state.read_back(own=True)
            while how is not None:
                claim = CLAIM_ANY.format(share=SHARE if how.share else "", order=how.order)
                rows = await (await conn.execute(claim, (*(how.share or ()), limit))).fetchall()
                if not rows and how.share and everyone:
                    how = self.state.read_back(own=False)  # none of this folder's share is left: anyone's
                    continue
                found = self.state.prepare([m for m in map(stored_report, rows) if m is not None])
                await self._fold(conn, found)
                folded = len(found)
                if found or len(rows) < limit:
                    return len(
                        found
                    )  # else every claimed row was unfoldable (and is dropped): claim the next ones
            return 0

        try:
            taken = int(await self._tx(tx))
        except BaseException:
            self.state.forget()
            raise
        self.state.folded += folded
        return taken

    async def _fold(self, conn: Conn, claimed: list[Prepared]) -> None:
        keys = Folds.day_keys(claimed)
        if not keys:
            return
        ids, days = [g for g, _ in keys], [d for _, d in keys]
        await conn.execute(PLACEHOLDERS, (ids, days))
        cur = await conn.execute(LOCK_DAYS, (ids, days))
        stored: dict[DayKey, tuple[str, str]] = {
            (str(g), int(d)): (str(data), str(detail)) for g, d, data, detail in await cur.fetchall()
        }
        writes = self.state.fold(claimed, stored)
        await conn.execute(
            WRITE_DAYS,
            (
                time.time(),
                [w.gateway_id for w in writes],
                [w.day for w in writes],
                [w.data for w in writes],
                [w.detail for w in writes],
            ),
        )
        seen = self.state.memberships(claimed)
        if seen:
            # sorted by key: two folders upserting at once lock rows in one order (no deadlock)
            weeks, domains, homes, sizes = zip(*seen, strict=True)
            await conn.execute(UNCLASSIFIED, (list(weeks), list(domains), list(homes), list(sizes)))

    async def pending(self) -> int:
        """Reports stored and not yet folded (by any collector)."""

        async def count(conn: Conn) -> int:
            row = await (await conn.execute("SELECT count(*) FROM home_fold_queue")).fetchone()
            return int(row[0]) if row else 0

        return int(await self._tx(count))
