"""PostgreSQL store (psycopg 3): the shared store when one machine is not enough.

``postgresql://user:pass@host:5432/db``. Several collectors may write at once (MQTT
shared subscriptions): raw rows are inserted with ``ON CONFLICT DO NOTHING``, and the
gateway rows a batch touches are locked (in a fixed order, so two collectors cannot
deadlock) while their deltas and latest state are computed. Facts are partitioned by
month of ``window_end``; retention drops whole partitions.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from collector.store import queries as q
from collector.store.base import Batch, BatchResult, SpooledMessage, StoreError
from collector.store.durability import Durability, check_and_pin
from collector.store.facets import Facets
from collector.store.folding import Folds
from collector.store.migrations import migrations
from collector.store.plan import BatchPlan, GatewayState, KnownStates, plan_batch, stored_now
from collector.store.postgres_arrays import Column, column
from collector.store.postgres_days import PostgresDayReader
from collector.store.postgres_db import PostgresDatabase, store_error
from collector.store.postgres_folds import KEYS, PostgresFolds, key_arrays
from collector.store.postgres_results import Conn, save_results
from collector.store.rows import DAILY, EVENTS, FACTS, GATEWAY_CHANGES, HOURLY, QUARANTINE, REPORTS, Table

T = TypeVar("T")
#: Lock id for migrations, so two collectors starting together do not both migrate.
MIGRATION_LOCK = 0x6873_0001


def _arrays(rows: Sequence[tuple[Any, ...]], table: Table) -> list[Column]:
    """Rows as one binary array parameter per column, for ``unnest`` (``table.pg_arrays``)."""
    columns = zip(*rows, strict=True) if rows else ([] for _ in table.columns)
    return [column(t, c) for t, c in zip(table.pg_types, columns, strict=True)]


async def _copy_reports(conn: psycopg.AsyncConnection[Any], messages: list[SpooledMessage]) -> None:
    async with conn.cursor() as cur, cur.copy("COPY reports FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(REPORTS.pg_types))
        for m in messages:
            await copy.write_row(m.row())


def _month_start(ts: int, shift: int = 0) -> int:
    d = datetime.fromtimestamp(ts, UTC)
    month = d.year * 12 + d.month - 1 + shift
    return int(datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC).timestamp())


def _error(exc: psycopg.Error) -> StoreError:
    return store_error(exc)


class PostgresStore(Facets):
    """The shared store; one connection pool per collector process."""

    #: Two transactions at once: one plans in this process while the server executes the
    #: other's statements (alone, each waited for the other: ~40% of the time idle on each
    #: side). Where they share gateways, the later one copies its raw rows meanwhile and takes
    #: the gateways' row locks after the earlier one took its own (``Batch.turn``), so it plans
    #: once that one committed, as for two collectors.
    concurrent_writes = 2

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        self._pool = AsyncConnectionPool(
            url, min_size=1, max_size=pool_size, open=False, kwargs={"autocommit": False}
        )
        self._partitions: set[int] = set()
        self._known = KnownStates()  # the gateways' counters, decoded once
        super().__init__(
            PostgresDatabase(self._pool),
            PostgresFolds(self._tx, Folds()),
            functools.partial(save_results, self._tx),
            PostgresDayReader(url),
        )
        #: The server's fsync and synchronous_commit as found by :meth:`open` (store/durability.py).
        self.durability: Durability | None = None

    async def open(self) -> None:
        self.durability = await check_and_pin(self._pool)  # fsync off: refused; sync commit off: pinned on
        try:
            await self._pool.open(wait=True, timeout=15)
            async with self._pool.connection() as conn:
                await self._migrate(conn)
            await self.ensure_partitions(int(time.time()))
        except psycopg.Error as exc:
            raise _error(exc) from exc

    @staticmethod
    async def _migrate(conn: psycopg.AsyncConnection[Any]) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
            done = {
                row[0]
                for row in await (await conn.execute("SELECT version FROM schema_migrations")).fetchall()
            }
            for version, sql in migrations("postgresql"):
                if version in done:
                    continue
                await conn.execute(sql.encode())
                await conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, time.time()))

    async def ensure_partitions(self, now: int, months_ahead: int = 2) -> None:
        """Create the monthly facts partitions around ``now`` (before rows for them arrive)."""
        async with self._pool.connection() as conn:
            for shift in range(-1, months_ahead + 1):
                start = _month_start(now, shift)
                if start in self._partitions:
                    continue
                end = _month_start(now, shift + 1)
                name = "gateway_facts_" + datetime.fromtimestamp(start, UTC).strftime("%Y%m")
                try:
                    async with conn.transaction():
                        await conn.execute(
                            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF gateway_facts FOR VALUES FROM ({start}) TO ({end})"
                        )
                except psycopg.errors.CheckViolation:
                    pass  # rows for that month already sit in the default partition; they stay there
                self._partitions.add(start)

    async def _tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` in one transaction on a pooled connection; psycopg errors become StoreError."""
        try:
            async with self._pool.connection() as conn, conn.transaction():
                return await fn(conn)
        except psycopg.Error as exc:
            raise _error(exc) from exc

    async def close(self) -> None:
        await self._pool.close()

    # -- writes ------------------------------------------------------------------------
    async def write_batch(self, batch: Batch) -> BatchResult:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                result = await self._apply(conn, batch)
        except psycopg.Error as exc:
            raise _error(exc) from exc
        except OverflowError as exc:
            # U64 on the wire, BIGINT here: a seq or a counter delta past 2**63 cannot be stored.
            # Refused for good, so ingest tries the batch record by record and quarantines it.
            raise StoreError(
                f"postgresql: a value does not fit its 64-bit column: {exc}", transient=False
            ) from exc
        finally:
            if batch.turn is not None:
                batch.turn.taken()  # ended (committed or not): the next batch may lock
        self.folds.state.committed(batch.messages, result.inserted)  # committed: keep them for folding
        return result

    async def _apply(self, conn: psycopg.AsyncConnection[Any], batch: Batch) -> BatchResult:
        messages, quarantined, statuses = batch.messages, batch.quarantined, batch.statuses
        result = BatchResult()
        inserted: set[tuple[str, int, int]] = set()
        if messages:
            inserted = await self._insert_reports(conn, messages)
        new = stored_now(messages, inserted, result)
        turn = batch.turn
        if turn is not None:
            await turn.wait()  # the batch before this one holds its locks: lock after it
        if new:
            await self._apply_plan(conn, new)
        if turn is not None and not statuses:
            turn.taken()  # every gateway this batch writes is locked (a status may name another)
        if quarantined:
            async with conn.cursor() as cur:
                await cur.executemany(q.for_format(QUARANTINE.insert()), [x.row() for x in quarantined])
        result.quarantined = len(quarantined)
        if statuses:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO gateways (gateway_id, first_seen, last_seen, status, status_at, agent_version)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (gateway_id) DO UPDATE SET"
                    " last_seen = GREATEST(gateways.last_seen, excluded.last_seen),"
                    " status = CASE WHEN gateways.status_at IS NULL OR gateways.status_at <= excluded.status_at"
                    "   THEN excluded.status ELSE gateways.status END,"
                    " agent_version = coalesce(excluded.agent_version, gateways.agent_version),"
                    " status_at = GREATEST(gateways.status_at, excluded.status_at)",
                    [(s.gateway_id, s.at, s.at, s.state, s.at, s.agent_version) for s in statuses],
                )
        return result

    @staticmethod
    async def _insert_reports(
        conn: psycopg.AsyncConnection[Any], messages: list[SpooledMessage]
    ) -> set[tuple[str, int, int]]:
        """Store the raw rows not stored yet; return their keys.

        Copied in with binary ``COPY`` (about half the server's work of an ``INSERT ... ON
        CONFLICT`` of ~2 KB rows), which stops at a stored key. So all of them are copied first,
        in a savepoint: the usual batch has no stored key, and needs no lookup (it cost a
        twentieth of this process's work per batch). A batch with one (a resend) is rolled back
        to the savepoint, and which keys exist is looked up and only the others are copied.
        Another collector may store one of them in between (a gateway's resend delivered to
        two collectors at once): the copy then fails on the key, the transaction rolls back,
        and the batch is retried as a transient failure, which finds the key stored.
        """
        keys = [(m.gateway_id, m.epoch, m.seq) for m in messages]
        if len(set(keys)) == len(keys):  # a key repeated within the batch would stop the copy
            with contextlib.suppress(psycopg.errors.UniqueViolation):
                async with conn.transaction():  # the savepoint
                    await _copy_reports(conn, messages)
                return set(keys)
        cur = await conn.execute(
            f"SELECT r.gateway_id, r.epoch, r.seq FROM reports r JOIN unnest({KEYS}) AS k(gateway_id, epoch, seq)"
            " ON r.gateway_id = k.gateway_id AND r.epoch = k.epoch AND r.seq = k.seq",
            key_arrays(keys),
        )
        stored = {(str(g), int(e), int(s)) for g, e, s in await cur.fetchall()}
        fresh: dict[tuple[str, int, int], SpooledMessage] = {}
        for key, m in zip(keys, messages, strict=True):
            if key not in stored:
                fresh.setdefault(key, m)  # a key repeated within the batch is stored once
        if fresh:
            try:
                await _copy_reports(conn, list(fresh.values()))
            except psycopg.errors.UniqueViolation as exc:
                raise StoreError(
                    "postgresql: another collector stored some of these reports meanwhile; retrying",
                    transient=True,
                ) from exc
        return set(fresh)

    async def _apply_plan(self, conn: psycopg.AsyncConnection[Any], new: list[SpooledMessage]) -> None:
        ids = sorted({m.gateway_id for m in new})
        first = {m.gateway_id: m.received_at for m in new}
        known = self._known
        # Create missing gateway rows, then lock all of them in id order: two collectors
        # holding the same gateway's reports serialise here instead of racing on its deltas.
        # One statement per table per batch (arrays, unnest): per-row statements cost the
        # server and the driver several times more. Gateways this process has read or written
        # exist: the creation is skipped when all do, and made after all if the lock finds
        # one gone (erased meanwhile).
        create = not all(map(known.__contains__, ids))
        while True:
            if create:
                await conn.execute(
                    "INSERT INTO gateways (gateway_id, first_seen, last_seen)"
                    " SELECT * FROM unnest(%b::text[], %b::float8[], %b::float8[]) ON CONFLICT DO NOTHING",
                    (column("text", ids), *[column("float8", [first[g] for g in ids])] * 2),
                )
            cur2 = await conn.execute(
                "SELECT gateway_id, last_window_end, last_uptime_s, counters FROM gateways"
                " WHERE gateway_id = ANY(%b::text[]) ORDER BY gateway_id FOR UPDATE",
                (column("text", ids),),
            )
            rows = await cur2.fetchall()
            if len(rows) == len(ids) or create:
                break
            create = True
        states: dict[str, GatewayState | None] = {
            gid: known.load(gid, end, up, counters) for gid, end, up, counters in rows
        }
        plan = plan_batch(new, states)
        known.planned(plan, states)
        # Pipelined: the statements below go out without waiting for each other's results, so
        # the server executes one while this process builds the next one's arrays.
        async with conn.pipeline():
            await self._write_plan(conn, plan, new)

    async def _write_plan(
        self, conn: psycopg.AsyncConnection[Any], plan: BatchPlan, new: list[SpooledMessage]
    ) -> None:
        # counts always; the latest state only where a newer report came (NULLs keep the old one)
        await conn.execute(
            "UPDATE gateways g SET first_seen = LEAST(g.first_seen, u.first_seen),"
            " last_seen = GREATEST(g.last_seen, u.last_seen), reports = g.reports + u.reports,"
            " events = g.events + u.events, last_window_end = coalesce(u.window_end, g.last_window_end),"
            " last_uptime_s = coalesce(u.uptime_s, g.last_uptime_s),"
            " latest_epoch = coalesce(u.epoch, g.latest_epoch), latest_seq = coalesce(u.seq, g.latest_seq),"
            " latest_payload = CASE WHEN u.epoch IS NULL THEN g.latest_payload END,"
            " latest_rates = coalesce(u.rates, g.latest_rates), counters = coalesce(u.counters, g.counters)"
            f" FROM unnest({GATEWAY_CHANGES.pg_arrays}) AS u({GATEWAY_CHANGES.names})"
            " WHERE g.gateway_id = u.gateway_id",
            _arrays(plan.gateway_rows(), GATEWAY_CHANGES),
        )
        if plan.facts:
            await conn.execute(
                f"INSERT INTO {FACTS.name} ({FACTS.names}) SELECT * FROM unnest({FACTS.pg_arrays})"
                " ON CONFLICT DO NOTHING",
                _arrays(plan.facts, FACTS),
            )
        for table, rollups in ((HOURLY, plan.hourly), (DAILY, plan.daily)):
            if rollups:
                await conn.execute(
                    f"INSERT INTO {table.name} ({table.names}) SELECT * FROM unnest({table.pg_arrays})"
                    " ON CONFLICT (gateway_id, start) DO UPDATE SET"
                    + q.ROLLUP_SET.format(t=table.name, greatest="GREATEST"),
                    _arrays(BatchPlan.rollup_rows(rollups), table),
                )
        async with conn.cursor() as cur:
            if plan.events:
                await cur.executemany(
                    q.for_format(EVENTS.insert()) + " ON CONFLICT DO NOTHING",
                    plan.events,
                )
        # Home-profile day rollups are folded after the commit, off the ingest path; the
        # queue row written here makes that happen exactly once (postgres_folds.py).
        await PostgresFolds.queue(conn, [m for m in new if m.kind == "report"])

    async def retain(
        self, now: float, raw_days: int = 35, facts_days: int = 90, hourly_days: int = 400
    ) -> dict[str, int]:
        limits = {"raw_days": raw_days, "facts_days": facts_days, "hourly_days": hourly_days}
        deleted: dict[str, int] = {}
        try:
            async with self._pool.connection() as conn, conn.transaction():
                for table, expired, key in q.RETENTION:
                    cur = await conn.execute(
                        f"DELETE FROM {table} WHERE {q.for_format(expired)}", (now - limits[key] * 86400,)
                    )
                    deleted[table] = cur.rowcount
        except psycopg.Error as exc:
            raise _error(exc) from exc
        await self.ensure_partitions(int(now))
        return deleted

    # -- reads -------------------------------------------------------------------------
