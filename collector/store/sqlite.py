"""SQLite store: WAL, one writer thread fed by a queue, reads on a small pool.

``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's form).
Commits use ``synchronous=FULL`` because the collector acknowledges a report to the
gateway only after the commit, and the gateway then deletes it. Checkpoints (copying the
WAL into the database file) run on a thread of their own, not inside a commit: done by
the writer they doubled what a batch of reports cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from collector.store import queries as q
from collector.store.base import Batch, BatchResult, SpooledMessage, StoreError
from collector.store.facets import Facets
from collector.store.folding import Folds
from collector.store.migrations import migrations
from collector.store.plan import BatchPlan, GatewayState, KnownStates, plan_batch, stored_now
from collector.store.rows import DAILY, EVENTS, FACTS, HOURLY, QUARANTINE, REPORTS
from collector.store.sqlite_days import SqliteDayReader
from collector.store.sqlite_db import SqliteDatabase
from collector.store.sqlite_folds import SqliteFolds
from collector.store.sqlite_results import save_results

T = TypeVar("T")
log = logging.getLogger(__name__)

#: How often the checkpoint thread copies committed WAL frames into the database file.
CHECKPOINT_EVERY_S = 1.0
#: The writer's page cache: the B-tree pages a batch touches (gateways, rollups, index
#: leaves) stay in it instead of being read back through a system call each batch.
WRITER_CACHE_KIB = 64 * 1024
#: The largest rowid: past it SQLite numbers new rows at random (see _insert_reports).
LAST_ROWID = 2**63 - 1
#: A WAL that grew past this (a long reader held it) is cut back to it once checkpointed.
WAL_KEEP_BYTES = 64 * 1024 * 1024


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///`` URL."""
    if not url.startswith("sqlite:///"):
        raise StoreError(f"SQLite URL must start with sqlite:///, got {url!r}", transient=False)
    return url[len("sqlite:///") :]


def _transient(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in text for word in ("locked", "busy", "full", "disk i/o", "unable to open")
    )


class SqliteStore(Facets):
    """The embedded default store."""

    concurrent_writes = 1  # one writer per file

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._wdb: sqlite3.Connection | None = None
        self._turns: int | None = None  # the writers' lock file (see _write)
        self._stop_checkpoints = threading.Event()
        self._checkpoints: threading.Thread | None = None
        self._known = KnownStates()  # the gateways' counters, decoded once (used on the writer thread)
        super().__init__(
            SqliteDatabase(self._write, self._read),
            SqliteFolds(self._write, self._read, Folds()),
            functools.partial(save_results, self._write),
            SqliteDayReader(self.path),
        )

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True, timeout=5.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        return db

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            assert self._wdb is not None, "store is not open"
            if self._turns is None:
                return fn(self._wdb)
            # Collectors sharing the file queue here, in the kernel, for their turn to
            # write: SQLite's own busy wait sleeps and polls (up to 100 ms a try), which
            # left the file idle between two processes' batches.
            fcntl.flock(self._turns, fcntl.LOCK_EX)
            try:
                return fn(self._wdb)
            finally:
                fcntl.flock(self._turns, fcntl.LOCK_UN)

        return await asyncio.get_running_loop().run_in_executor(self._writer, run)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, lambda: fn(self._reader()))

    # -- lifecycle ---------------------------------------------------------------------
    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

        def setup() -> None:
            self._wdb = self._connect()
            self._migrate(self._wdb)
            if self.path != ":memory:":
                self._turns = os.open(f"{self.path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
                self._wdb.execute("PRAGMA wal_autocheckpoint=0")
                self._wdb.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
                self._wdb.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")

        try:
            await asyncio.get_running_loop().run_in_executor(self._writer, setup)
        except sqlite3.Error as exc:  # not a database, a directory, no permission...
            raise StoreError(f"sqlite: cannot open {self.path}: {exc}", transient=_transient(exc)) from exc
        if self.path != ":memory:":
            self._stop_checkpoints.clear()
            self._checkpoints = threading.Thread(
                target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
            )
            self._checkpoints.start()

    def _checkpoint_loop(self) -> None:
        # PASSIVE: copy what is committed without waiting for readers or blocking the
        # writer; the writer starts the WAL over once all of it is copied and unread.
        failing = ""
        db: sqlite3.Connection | None = None
        while not self._stop_checkpoints.wait(CHECKPOINT_EVERY_S):
            try:
                db = db or self._connect()
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if failing:
                    log.warning("sqlite: checkpoints work again")
                failing = ""
            except sqlite3.Error as exc:
                if str(exc) != failing:
                    log.error("sqlite: checkpoint failed, will retry: %s", exc)
                failing = str(exc)
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            db.close()

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for version, sql in migrations("sqlite"):
            if version in done:
                continue
            started = time.monotonic()
            if done:  # an upgrade: some rewrite a table (090: ~5 s per million facts rows)
                log.info("sqlite: applying migration %03d to an existing store", version)
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in sql.split(";\n"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may already have rolled back (SQLITE_FULL/IOERR)
                    db.execute("ROLLBACK")
                raise
            if done:
                log.info("sqlite: migration %03d applied in %.1f s", version, time.monotonic() - started)

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._stop_checkpoints.set()
            await asyncio.get_running_loop().run_in_executor(None, self._checkpoints.join)
            self._checkpoints = None

        def shutdown() -> None:
            if self._wdb is not None:
                self._wdb.close()
                self._wdb = None
            if self._turns is not None:
                os.close(self._turns)
                self._turns = None

        await asyncio.get_running_loop().run_in_executor(self._writer, shutdown)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)

    # -- writes ------------------------------------------------------------------------
    async def write_batch(self, batch: Batch) -> BatchResult:
        def tx(db: sqlite3.Connection) -> BatchResult:
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = self._apply(db, batch)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:  # SQLite may already have rolled back (SQLITE_FULL/IOERR)
                        db.execute("ROLLBACK")
                    raise
                self.folds.state.committed(
                    batch.messages, result.inserted
                )  # committed: keep them for folding
                return result
            except sqlite3.Error as exc:
                raise StoreError(f"sqlite: {exc}", transient=_transient(exc)) from exc
            except OverflowError as exc:  # U64 on the wire, INTEGER is 64-bit signed (see postgres.py)
                raise StoreError(
                    f"sqlite: a value does not fit its 64-bit column: {exc}", transient=False
                ) from exc

        return await self._write(tx)

    def _apply(self, db: sqlite3.Connection, batch: Batch) -> BatchResult:
        messages, quarantined, statuses = batch.messages, batch.quarantined, batch.statuses
        result = BatchResult()
        new = stored_now(messages, self._insert_reports(db, messages), result)
        if new:
            self._apply_plan(db, new)
        db.executemany(QUARANTINE.insert(), [x.row() for x in quarantined])
        result.quarantined = len(quarantined)
        for s in statuses:
            db.execute(
                "INSERT INTO gateways (gateway_id, first_seen, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT (gateway_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                (s.gateway_id, s.at, s.at),
            )
            db.execute(
                "UPDATE gateways SET status = ?, status_at = ?, agent_version = coalesce(?, agent_version)"
                " WHERE gateway_id = ? AND (status_at IS NULL OR status_at <= ?)",
                (s.state, s.at, s.agent_version, s.gateway_id, s.at),
            )
        return result

    @staticmethod
    def _insert_reports(db: sqlite3.Connection, messages: list[SpooledMessage]) -> set[tuple[str, int, int]]:
        """Store the raw rows not stored yet; return their keys.

        All are inserted at once (``ON CONFLICT DO NOTHING``), and which were new is known
        without looking every key up first (a tenth of what a batch's statements cost): all of
        them when the insert counted every row, the usual case; else the rows past the highest
        rowid before it. This connection holds the write lock meanwhile, and SQLite numbers a
        rowid table's new rows upward from its highest rowid (unless that is the largest
        integer: then it picks them at random, and the rows are inserted one by one instead).
        """
        if not messages:
            return set()
        (top,) = db.execute("SELECT coalesce(max(rowid), 0) FROM reports").fetchone()
        insert = REPORTS.insert() + " ON CONFLICT DO NOTHING"
        rows = [m.row() for m in messages]
        if top > LAST_ROWID - len(rows):
            return {row[:3] for row in rows if db.execute(insert, row).rowcount}
        if db.executemany(insert, rows).rowcount == len(rows):
            return {row[:3] for row in rows}
        return set(db.execute("SELECT gateway_id, epoch, seq FROM reports WHERE rowid > ?", (top,)))

    def _apply_plan(self, db: sqlite3.Connection, new: list[SpooledMessage]) -> None:
        ids = sorted({m.gateway_id for m in new})
        states: dict[str, GatewayState | None] = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            for gid, end, uptime, counters in db.execute(
                f"SELECT gateway_id, last_window_end, last_uptime_s, counters FROM gateways WHERE gateway_id IN ({marks})",
                chunk,
            ):
                states[gid] = self._known.load(gid, end, uptime, counters)
        plan = plan_batch(new, states)
        self._known.planned(plan, states)
        # one statement per gateway: counts always, the latest state when a newer report came
        db.executemany(
            "INSERT INTO gateways (gateway_id, first_seen, last_seen, reports, events, last_window_end,"
            " last_uptime_s, latest_epoch, latest_seq, latest_rates, counters)"
            " VALUES (?, ?, ?, ?, ?, coalesce(?, 0), coalesce(?, 0), ?, ?, ?, ?)"
            " ON CONFLICT (gateway_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),"
            " reports = reports + excluded.reports, events = events + excluded.events,"
            " last_window_end = iif(excluded.latest_epoch IS NULL, last_window_end, excluded.last_window_end),"
            " last_uptime_s = iif(excluded.latest_epoch IS NULL, last_uptime_s, excluded.last_uptime_s),"
            " latest_rates = iif(excluded.latest_epoch IS NULL, latest_rates, excluded.latest_rates),"
            " counters = iif(excluded.latest_epoch IS NULL, counters, excluded.counters),"
            " latest_payload = iif(excluded.latest_epoch IS NULL, latest_payload, NULL),"
            " latest_epoch = coalesce(excluded.latest_epoch, latest_epoch),"
            " latest_seq = coalesce(excluded.latest_seq, latest_seq)",
            plan.gateway_rows(),
        )
        db.executemany(FACTS.insert() + " ON CONFLICT DO NOTHING", plan.facts)
        for table, rollups in ((HOURLY, plan.hourly), (DAILY, plan.daily)):
            db.executemany(
                table.insert()
                + " ON CONFLICT (gateway_id, start) DO UPDATE SET"
                + q.ROLLUP_SET.format(t=table.name, greatest="max"),
                BatchPlan.rollup_rows(rollups),
            )
        db.executemany(EVENTS.insert() + " ON CONFLICT DO NOTHING", plan.events)
        # Home-profile day rollups are folded after the commit, off the ingest path; the
        # queue row written here makes that happen exactly once (sqlite_folds.py).
        SqliteFolds.queue(db, [m for m in new if m.kind == "report"])

    async def retain(
        self, now: float, raw_days: int = 35, facts_days: int = 90, hourly_days: int = 400
    ) -> dict[str, int]:
        """Delete what is past its retention; return rows deleted per table."""

        def tx(db: sqlite3.Connection) -> dict[str, int]:
            deleted: dict[str, int] = {}
            db.execute("BEGIN IMMEDIATE")
            try:
                limits = {"raw_days": raw_days, "facts_days": facts_days, "hourly_days": hourly_days}
                for table, expired, key in q.RETENTION:
                    cur = db.execute(f"DELETE FROM {table} WHERE {expired}", (now - limits[key] * 86400,))
                    deleted[table] = cur.rowcount
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may already have rolled back (SQLITE_FULL/IOERR)
                    db.execute("ROLLBACK")
                raise
            return deleted

        return await self._write(tx)
