"""SQLite store: WAL, one writer thread fed by a queue, reads on a small pool.

``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's form).
Commits use ``synchronous=FULL`` because the collector acknowledges a report to the
gateway only after the commit, and the gateway then deletes it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from collector.facts import interface_rates, window_facts
from collector.store.base import BatchResult, QuarantinedMessage, SpooledMessage, StatusChange, StoreError
from collector.store.migrations import migrations

T = TypeVar("T")

#: Quarantined payloads are kept up to this size (the reason says if more was cut).
QUARANTINE_KEEP_BYTES = 64 * 1024


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


class SqliteStore:
    """The embedded default store."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._wdb: sqlite3.Connection | None = None

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
            return fn(self._wdb)

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

        await asyncio.get_running_loop().run_in_executor(self._writer, setup)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for version, sql in migrations("sqlite"):
            if version in done:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in sql.split(";\n"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        def shutdown() -> None:
            if self._wdb is not None:
                self._wdb.close()
                self._wdb = None

        await asyncio.get_running_loop().run_in_executor(self._writer, shutdown)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)

    # -- writes ------------------------------------------------------------------------
    async def write_batch(
        self,
        messages: list[SpooledMessage],
        quarantined: list[QuarantinedMessage],
        statuses: list[StatusChange],
    ) -> BatchResult:
        def tx(db: sqlite3.Connection) -> BatchResult:
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = self._apply(db, messages, quarantined, statuses)
                    db.execute("COMMIT")
                    return result
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"sqlite: {exc}", transient=_transient(exc)) from exc

        return await self._write(tx)

    def _apply(
        self,
        db: sqlite3.Connection,
        messages: list[SpooledMessage],
        quarantined: list[QuarantinedMessage],
        statuses: list[StatusChange],
    ) -> BatchResult:
        result = BatchResult()
        for m in messages:
            cur = db.execute(
                "INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    m.gateway_id,
                    m.epoch,
                    m.seq,
                    m.kind,
                    m.window_start,
                    m.window_end,
                    m.uptime_s,
                    m.sent_at,
                    m.received_at,
                    m.payload,
                ),
            )
            key = (m.gateway_id, m.epoch, m.seq)
            if cur.rowcount == 0:
                result.duplicates.append(key)
                continue
            result.inserted.append(key)
            self._touch_gateway(db, m.gateway_id, m.received_at)
            if m.kind == "report":
                self._apply_report(db, m)
            else:
                self._apply_events(db, m)
        for q in quarantined:
            db.execute(
                "INSERT INTO quarantine (received_at, topic, gateway_id, reason, detail, size, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    q.received_at,
                    q.topic,
                    q.gateway_id,
                    q.reason,
                    q.detail,
                    len(q.payload),
                    q.payload[:QUARANTINE_KEEP_BYTES],
                ),
            )
            result.quarantined += 1
        for s in statuses:
            self._touch_gateway(db, s.gateway_id, s.at)
            db.execute(
                "UPDATE gateways SET status = ?, status_at = ?, agent_version = coalesce(?, agent_version)"
                " WHERE gateway_id = ? AND (status_at IS NULL OR status_at <= ?)",
                (s.state, s.at, s.agent_version, s.gateway_id, s.at),
            )
        return result

    @staticmethod
    def _touch_gateway(db: sqlite3.Connection, gateway_id: str, at: float) -> None:
        db.execute(
            "INSERT INTO gateways (gateway_id, first_seen, last_seen) VALUES (?, ?, ?)"
            " ON CONFLICT (gateway_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
            (gateway_id, at, at),
        )

    @staticmethod
    def _apply_report(db: sqlite3.Connection, m: SpooledMessage) -> None:
        row = db.execute(
            "SELECT last_window_end, last_uptime_s, latest_body FROM gateways WHERE gateway_id = ?",
            (m.gateway_id,),
        ).fetchone()
        last_end, last_uptime, last_body = row
        previous = (
            {"window_end": last_end, "uptime_s": last_uptime, "body": json.loads(last_body)}
            if last_body
            else None
        )
        current = {"window_end": m.window_end, "uptime_s": m.uptime_s, "body": m.body}
        newer = m.window_end >= last_end
        # A late (replayed or reordered) report is stored raw but does not move the latest state.
        rates = interface_rates(previous, current) if newer else {}
        facts = window_facts(m.body, rates)
        db.execute(
            "INSERT INTO gateway_facts VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                m.gateway_id,
                m.window_end,
                facts["cpu_pct"],
                facts["mem_used_pct"],
                facts["wan_rx_bps"],
                facts["wan_tx_bps"],
                facts["stations"],
            ),
        )
        if newer:
            db.execute(
                "UPDATE gateways SET reports = reports + 1, last_window_end = ?, last_uptime_s = ?, latest_body = ?,"
                " latest_rates = ? WHERE gateway_id = ?",
                (
                    m.window_end,
                    m.uptime_s,
                    json.dumps(m.body, separators=(",", ":")),
                    json.dumps(rates),
                    m.gateway_id,
                ),
            )
        else:
            db.execute("UPDATE gateways SET reports = reports + 1 WHERE gateway_id = ?", (m.gateway_id,))

    @staticmethod
    def _apply_events(db: sqlite3.Connection, m: SpooledMessage) -> None:
        events = m.body.get("events", [])
        db.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (
                    m.gateway_id,
                    m.epoch,
                    m.seq,
                    i,
                    e.get("ts", 0),
                    e.get("type", ""),
                    e.get("mac"),
                    json.dumps(e, separators=(",", ":")),
                )
                for i, e in enumerate(events)
            ],
        )
        db.execute(
            "UPDATE gateways SET events = events + ? WHERE gateway_id = ?", (len(events), m.gateway_id)
        )

    # -- reads -------------------------------------------------------------------------
    async def list_gateways(self, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        def q(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT g.gateway_id, g.first_seen, g.last_seen, g.last_window_end, g.reports, g.events, g.status,"
                " g.agent_version, f.cpu_pct, f.mem_used_pct, f.wan_rx_bps, f.wan_tx_bps, f.stations"
                " FROM gateways g LEFT JOIN gateway_facts f"
                " ON f.gateway_id = g.gateway_id AND f.window_end = g.last_window_end"
                " ORDER BY g.last_seen DESC, g.gateway_id LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
            return [dict(r) for r in rows]

        return await self._read(q)

    async def gateway(self, gateway_id: str) -> dict[str, Any] | None:
        def q(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT * FROM gateways WHERE gateway_id = ?", (gateway_id,)).fetchone()
            if row is None:
                return None
            out = dict(row)
            out["latest"] = json.loads(out.pop("latest_body") or "null")
            out["rates"] = json.loads(out.pop("latest_rates") or "{}")
            return out

        return await self._read(q)

    async def history(self, gateway_id: str, limit: int = 96) -> list[dict[str, Any]]:
        def q(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT * FROM gateway_facts WHERE gateway_id = ? ORDER BY window_end DESC LIMIT ?",
                (gateway_id, limit),
            ).fetchall()
            return [dict(r) for r in reversed(rows)]

        return await self._read(q)

    async def quarantine(self, limit: int = 100) -> list[dict[str, Any]]:
        def q(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT id, received_at, topic, gateway_id, reason, detail, size FROM quarantine ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
            return [dict(r) for r in rows]

        return await self._read(q)

    async def counts(self) -> dict[str, int]:
        def q(db: sqlite3.Connection) -> dict[str, int]:
            def one(sql: str) -> int:
                return int(db.execute(sql).fetchone()[0])

            return {
                "gateways": one("SELECT count(*) FROM gateways"),
                "reports": one("SELECT count(*) FROM reports WHERE kind = 'report'"),
                "event_batches": one("SELECT count(*) FROM reports WHERE kind = 'event'"),
                "quarantined": one("SELECT count(*) FROM quarantine"),
            }

        return await self._read(q)

    async def stored_keys(self, kind: str | None = None) -> list[tuple[str, int, int]]:
        def q(db: sqlite3.Connection) -> list[tuple[str, int, int]]:
            sql = "SELECT gateway_id, epoch, seq FROM reports"
            rows = db.execute(sql + " WHERE kind = ?", (kind,)) if kind else db.execute(sql)
            return [(str(g), int(e), int(s)) for g, e, s in rows]

        return await self._read(q)
