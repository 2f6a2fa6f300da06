"""SQLite side of home profiles: day rollups folded at ingest, CRM rows, results with history.

A mixin for :class:`collector.store.sqlite.SqliteStore`: ``_fold_report`` runs inside
the batch transaction for every NEW report (so a report is folded exactly once), and the
async methods run on the store's writer thread or reader pool. Tables: migration
``010_insights.sql``, described in ``docs/profiles.md``. SQL stays portable (no
SQLite-only functions; JSON as TEXT) so the PostgreSQL store can reuse it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec

from collector.profiles.merge import fold_into
from collector.profiles.rollup import day_of, join_day, split_day, window_contribution
from collector.store.base import SpooledMessage, StoreError
from collector.store.sqlite_results import ResultsMixin, chunks, marks
from protocol.codec import decode_stored
from protocol.errors import ProtocolError

T = TypeVar("T")
log = logging.getLogger(__name__)
# the fold's JSON (a day rollup is ~30 KB): the same text as json.dumps, several times faster
_dumps_bytes = msgspec.json.Encoder().encode
_loads = msgspec.json.Decoder().decode


def _dumps(value: Any) -> str:
    return _dumps_bytes(value).decode()

#: Decoded reports kept in memory for folding; past this the queue table is the backlog.
FOLD_BACKLOG = 2000
SUBSCRIBER_COLUMNS = (
    "gateway_id", "subscriber_id", "plan_down_mbps", "plan_up_mbps", "price", "contract_end", "area", "community",
)  # fmt: skip
#: Parsed day rollups kept between folds (a day is ~30 KB of Python objects): one per home
#: of a 1,000-home back-fill; a larger fleet simply parses more often.
DAY_CACHE = 1200


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


@dataclass
class FoldState:
    """Reports committed and not yet folded, as decoded bodies (or: read them from the table)."""

    backlog: deque[SpooledMessage]
    from_table: bool


def _queued_reports(db: sqlite3.Connection, limit: int) -> list[SpooledMessage]:
    """Up to ``limit`` queued reports, decoded again from their stored payloads."""
    rows = db.execute(
        "SELECT r.gateway_id, r.epoch, r.seq, r.window_start, r.window_end, r.uptime_s, r.sent_at,"
        " r.received_at, r.payload FROM home_fold_queue q JOIN reports r"
        " ON r.gateway_id = q.gateway_id AND r.epoch = q.epoch AND r.seq = q.seq LIMIT ?",
        (limit,),
    ).fetchall()
    out = []
    for gid, epoch, seq, start, end, uptime, sent, received, payload in rows:
        try:
            body = decode_stored(bytes(payload))["body"]  # stored only after validation
        except (ProtocolError, KeyError) as exc:
            # cannot happen to a payload this code validated; never let one block the queue
            log.error("cannot fold %s/%s/%s: %s; dropped from the fold queue", gid, epoch, seq, exc)
            db.execute(
                "DELETE FROM home_fold_queue WHERE gateway_id = ? AND epoch = ? AND seq = ?",
                (gid, epoch, seq),
            )
            continue
        out.append(
            SpooledMessage(gid, epoch, seq, "report", start, end, uptime, sent, received, body, payload)
        )
    if len(rows) < limit:
        # a key whose raw report the retention already deleted can never be folded
        db.execute(
            "DELETE FROM home_fold_queue WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE"
            " r.gateway_id = home_fold_queue.gateway_id AND r.epoch = home_fold_queue.epoch"
            " AND r.seq = home_fold_queue.seq)"
        )
    return out


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

    #: Keep this process's committed reports decoded for folding (off when another process
    #: writes the batches, or when this one only writes them: the queue table is the backlog).
    keep_folds_in_memory = True

    # -- folding (after ingest, exactly once) ---------------------------------------------
    def _queue_folds(self, db: sqlite3.Connection, reports: list[SpooledMessage]) -> None:
        """In the batch transaction: remember which new reports still need folding."""
        if reports:
            db.executemany(
                "INSERT INTO home_fold_queue VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(m.gateway_id, m.epoch, m.seq) for m in reports],
            )
        self._uncommitted = reports

    def _folds_committed(self) -> None:
        # The bodies are already decoded: keep them so folding need not decode them again,
        # up to a bound; past it the queue table is the backlog (decoded from the raw payloads).
        state = self._fold_state()
        reports, self._uncommitted = getattr(self, "_uncommitted", []), []
        if state.from_table or not self.keep_folds_in_memory:
            return
        state.backlog.extend(reports)
        if len(state.backlog) > FOLD_BACKLOG:
            state.backlog.clear()
            state.from_table = True

    def _folds_rolled_back(self) -> None:
        self._uncommitted = []

    def _fold_state(self) -> FoldState:
        found: FoldState | None = getattr(self, "_folds", None)
        if found is None:
            found = self._folds = FoldState(deque(), from_table=True)
        return found

    def _open_folds(self, db: sqlite3.Connection) -> None:
        """At open: a queue left by an earlier process is folded from the table first."""
        left = db.execute("SELECT 1 FROM home_fold_queue LIMIT 1").fetchone() is not None
        self._folds = FoldState(deque(), from_table=left or not self.keep_folds_in_memory)

    async def fold_pending(self, limit: int = 500) -> int:
        """Fold up to ``limit`` stored reports into their homes' day rollups; return how many.

        Each fold and the removal of its queue row commit together, so a report is folded
        exactly once whatever dies when. 0 means nothing is waiting.
        """

        def tx(db: sqlite3.Connection) -> int:
            state = self._fold_state()
            taken: list[SpooledMessage] = []
            try:
                # Claim first, inside the transaction: a key is folded by whoever deletes it,
                # so two processes on one file never fold a report twice.
                db.execute("BEGIN IMMEDIATE")
                if state.from_table:
                    taken = _queued_reports(db, limit)
                    drained = len(taken) < limit
                else:
                    taken = [state.backlog.popleft() for _ in range(min(limit, len(state.backlog)))]
                    drained = False
                folded = 0
                for m in taken:
                    claim = db.execute(
                        "DELETE FROM home_fold_queue WHERE gateway_id = ? AND epoch = ? AND seq = ?",
                        (m.gateway_id, m.epoch, m.seq),
                    )
                    if claim.rowcount == 1:
                        self._fold_report(db, m)
                        folded += 1
                db.execute("COMMIT")
            except BaseException:
                # what was taken from memory is still queued in the table: fold from there
                state.backlog.clear()
                state.from_table = True
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if drained and self.keep_folds_in_memory:
                state.from_table = False  # newer reports are in memory from now on
            return len(taken)

        try:
            return await self._write(tx)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}", transient=True) from exc

    async def pending_folds(self) -> int:
        """Reports stored and not yet folded."""
        return await self._read(
            lambda db: int(db.execute("SELECT count(*) FROM home_fold_queue").fetchone()[0])
        )

    def _fold_report(self, db: sqlite3.Connection, m: SpooledMessage) -> None:
        """Fold one new report into its home's day rollup."""
        contribution = window_contribution(m.body, m.window_start, m.window_end)
        key = (m.gateway_id, day_of(m.window_start))
        row = db.execute(
            "SELECT data, detail FROM home_days WHERE gateway_id = ? AND day = ?", key
        ).fetchone()
        cache = self._day_cache()
        cached = cache.pop(key, None)
        if row is None:
            day: dict[str, Any] = fold_into({}, contribution)
        elif cached is not None and cached[0] == row[0] and cached[1] == row[1]:
            # the parsed day of the last fold, still what is stored (a rolled-back batch would differ)
            day = fold_into(cached[2], contribution)
        else:
            day = fold_into(join_day(_loads(row[0]), _loads(row[1])), contribution)
        core, detail = split_day(day)
        texts = (_dumps(core), _dumps(detail))
        db.execute(
            "INSERT INTO home_days (gateway_id, day, data, detail, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (gateway_id, day) DO UPDATE SET data = excluded.data, detail = excluded.detail,"
            " updated_at = excluded.updated_at",
            (*key, *texts, time.time()),
        )
        cache[key] = (*texts, day)
        if len(cache) > DAY_CACHE:
            del cache[next(iter(cache))]

    def _day_cache(self) -> dict[tuple[str, int], tuple[str, str, dict[str, Any]]]:
        # parsed days by (gateway, day), oldest use first: JSON parsing was a fifth of a fold
        found: dict[tuple[str, int], tuple[str, str, dict[str, Any]]] | None = getattr(self, "_days", None)
        if found is None:
            found = {}
            self._days = found
        return found

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
