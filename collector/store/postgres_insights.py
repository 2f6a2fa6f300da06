"""PostgreSQL side of home profiles: the fold queue, day rollups, CRM rows, evaluation runs.

A mixin for :class:`collector.store.postgres.PostgresStore`, with the semantics of
``sqlite_insights.py`` (tables: migrations ``postgresql/010_insights.sql`` and
``011_fold_queue.sql``; ``docs/profiles.md``). What differs is who else is folding: on
PostgreSQL several collectors share one queue, so

- a folder *claims* queue rows with ``DELETE ... RETURNING`` over ``FOR UPDATE SKIP LOCKED``
  rows, in the transaction that folds them: each report is folded by exactly one folder,
  folders never wait for each other's claims, and a failed fold puts its rows back;
- the home-day rows a fold writes are locked in (gateway, day) order first (a missing row is
  inserted first, so there is one to lock), so two folders updating one home's day
  serialise instead of losing an update, and cannot deadlock;
- the decoded bodies this process committed are kept in memory (a bounded cache, not the
  backlog): its own reports are claimed from there first, anything else (other collectors',
  a dead process's, or what the cache dropped) is read back from the raw reports.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psycopg

from collector.profiles.merge import fold_into
from collector.profiles.rollup import day_of, join_day, split_day, window_contribution
from collector.store.base import BatchResult, SpooledMessage, StoreError
from collector.store.postgres_arrays import Column, column
from collector.store.postgres_results import Conn, PostgresResultsMixin, pg_error
from protocol.codec import decode_stored
from protocol.errors import ProtocolError

log = logging.getLogger(__name__)
# the fold's JSON: msgspec writes the same text as sqlite_insights (and json.dumps), faster
_dumps_bytes = msgspec.json.Encoder().encode
_loads = msgspec.json.Decoder().decode

Key = tuple[str, int, int]  # (gateway_id, epoch, seq)
#: Decoded reports kept in memory for folding; past this they are read back from the table.
FOLD_BACKLOG = 2000
#: Parsed day rollups kept between folds (as in sqlite_insights).
DAY_CACHE = 1200
SUBSCRIBER_COLUMNS = (
    "gateway_id", "subscriber_id", "plan_down_mbps", "plan_up_mbps", "price", "contract_end", "area", "community",
)  # fmt: skip
RUN_KEYS = ("kind", "started_at", "finished_at", "as_of", "homes", "results", "seconds")
KEYS = "%b::text[], %b::bigint[], %b::bigint[]"
CLAIM_ANY = (
    "WITH claimed AS (DELETE FROM home_fold_queue q USING (SELECT gateway_id, epoch, seq FROM home_fold_queue"
    " LIMIT %s FOR UPDATE SKIP LOCKED) c WHERE q.gateway_id = c.gateway_id AND q.epoch = c.epoch"
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
DAY_TEXTS = "SELECT gateway_id, day, data FROM home_days WHERE day >= %s AND day <= %s"
DAY_RANGE = DAY_TEXTS + " AND gateway_id >= %s AND gateway_id <= %s ORDER BY gateway_id, day"
DAY_ONLY = DAY_TEXTS + " AND gateway_id = ANY(%b::text[]) ORDER BY gateway_id, day"


def _dumps(value: Any) -> str:
    return _dumps_bytes(value).decode()


def _day_texts_query(
    first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None
) -> tuple[str, tuple[Any, ...]]:
    if only is None:
        return DAY_RANGE, (since_day, until_day, first_id, last_id)
    return DAY_ONLY, (since_day, until_day, list(only))


class DayReadError(StoreError):
    """A :class:`StoreError` that survives the trip back from an evaluation worker process
    (``StoreError`` itself cannot be unpickled: ``transient`` is keyword-only)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _day_read_error, (str(self), self.transient)


def _day_read_error(message: str, transient: bool) -> DayReadError:
    return DayReadError(message, transient=transient)


@dataclass(frozen=True)
class PostgresDayReader:
    """Reads raw core rollups with a connection of its own, opened per call.

    Picklable: an evaluation worker process reads its own chunks, so gigabytes of JSON text
    never travel through the parent. A connection per chunk (thousands of homes) costs a
    few milliseconds and never outlives a database restart.
    """

    dsn: str = field(repr=False)  # may hold a password

    def __call__(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        sql, params = _day_texts_query(first_id, last_id, since_day, until_day, only)
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                rows = conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            error = pg_error(exc)
            raise DayReadError(str(error), transient=error.transient) from exc
        return [(str(g), int(d), str(t)) for g, d, t in rows]


class PostgresInsightsMixin(PostgresResultsMixin):
    """Home-profile storage for :class:`~collector.store.postgres.PostgresStore`."""

    url: str
    #: Keep this process's committed reports decoded for folding (off when another process
    #: writes the batches, or when this one only writes them: the queue table is the backlog).
    keep_folds_in_memory = True

    # -- folding (after ingest, exactly once, shared by every collector) -------------------
    async def _queue_folds(self, conn: Conn, reports: list[SpooledMessage]) -> None:
        """In the batch transaction: remember which new reports still need folding."""
        if reports:
            await conn.execute(
                f"INSERT INTO home_fold_queue SELECT * FROM unnest({KEYS}) ON CONFLICT DO NOTHING",
                key_arrays([(m.gateway_id, m.epoch, m.seq) for m in reports]),
            )

    def _folds_committed(self, messages: list[SpooledMessage], result: BatchResult) -> None:
        """After the batch's commit: keep the new reports' decoded bodies, up to a bound."""
        if not self.keep_folds_in_memory:
            return
        memory = self._fold_memory()
        inserted = set(result.inserted)
        for m in messages:
            key = (m.gateway_id, m.epoch, m.seq)
            if m.kind == "report" and key in inserted and key not in memory and len(memory) < FOLD_BACKLOG:
                memory[key] = m

    def _fold_memory(self) -> OrderedDict[Key, SpooledMessage]:
        found: OrderedDict[Key, SpooledMessage] | None = getattr(self, "_folds", None)
        if found is None:
            found = OrderedDict()
            self._folds = found
        return found

    async def fold_pending(self, limit: int = 500) -> int:
        """Fold up to ``limit`` stored reports into their homes' day rollups; return how many were taken.

        This process's own reports (in memory) first, else any queued ones (read back from
        the raw reports). Claims and folds commit together, so a report is folded exactly
        once whatever dies when; a failed fold leaves its reports queued. 0: nothing waits.
        """
        if limit <= 0:
            return 0
        memory = self._fold_memory()
        mine = [memory.popitem(last=False)[1] for _ in range(min(limit, len(memory)))]

        async def tx(conn: Conn) -> int:
            if mine:
                cur = await conn.execute(
                    CLAIM_KEYS, key_arrays([(m.gateway_id, m.epoch, m.seq) for m in mine])
                )
                claimed = {(str(g), int(e), int(s)) for g, e, s in await cur.fetchall()}
                # the others were folded (or are being folded) by another process
                await self._fold_reports(conn, [m for m in mine if (m.gateway_id, m.epoch, m.seq) in claimed])
                return len(mine)
            while True:
                rows = await (await conn.execute(CLAIM_ANY, (limit,))).fetchall()
                # a report committed here meanwhile is still decoded in memory: no need to decode it again
                found = [
                    memory.pop((str(r[0]), int(r[1]), int(r[2])), None) or _queued_report(r) for r in rows
                ]
                taken = [m for m in found if m is not None]
                if taken or len(rows) < limit:
                    break  # else every claimed row was unfoldable (and is dropped): claim the next ones
            await self._fold_reports(conn, taken)
            return len(taken)

        return await self._tx(tx)

    async def pending_folds(self) -> int:
        """Reports stored and not yet folded (by any collector)."""
        return int((await self._fetch("SELECT count(*) FROM home_fold_queue"))[0][0])

    async def _fold_reports(self, conn: Conn, reports: list[SpooledMessage]) -> None:
        """Fold claimed reports into their home-day rollups (one read and one write per home-day)."""
        adds: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for m in reports:
            contribution = window_contribution(m.body, m.window_start, m.window_end)
            adds.setdefault((m.gateway_id, day_of(m.window_start)), []).append(contribution)
        if not adds:
            return
        keys = sorted(adds)
        ids, days = [g for g, _ in keys], [d for _, d in keys]
        # A row for every day first (an empty placeholder, overwritten below before the commit,
        # so never seen), then lock them all in key order: concurrent folds of one home's day
        # serialise, and every folder locks in the same order.
        await conn.execute(
            "INSERT INTO home_days (gateway_id, day, data, detail, updated_at) SELECT g, d, '', '', 0"
            ' FROM unnest(%b::text[], %b::int[]) AS k(g, d) ORDER BY g COLLATE "C", d ON CONFLICT DO NOTHING',
            (ids, days),
        )
        cur = await conn.execute(
            "SELECT h.gateway_id, h.day, h.data, h.detail FROM home_days h JOIN unnest(%b::text[], %b::int[])"
            " AS k(g, d) ON h.gateway_id = k.g AND h.day = k.d ORDER BY h.gateway_id, h.day FOR UPDATE OF h",
            (ids, days),
        )
        stored = {(str(g), int(d)): (str(data), str(detail)) for g, d, data, detail in await cur.fetchall()}
        cache = self._day_cache()
        written: list[tuple[tuple[str, int], str, str, dict[str, Any]]] = []
        for key in keys:
            data, detail = stored[key]
            cached = cache.pop(key, None)
            if not data:
                day: dict[str, Any] = {}
            elif cached is not None and cached[0] == data and cached[1] == detail:
                day = cached[2]  # the parsed day of the last fold, still what is stored
            else:
                day = join_day(_loads(data), _loads(detail))
            for contribution in adds[key]:
                day = fold_into(day, contribution)
            core, extra = split_day(day)
            written.append((key, _dumps(core), _dumps(extra), day))
        await conn.execute(
            "UPDATE home_days h SET data = u.data, detail = u.detail, updated_at = %s"
            " FROM unnest(%b::text[], %b::int[], %b::text[], %b::text[]) AS u(g, d, data, detail)"
            " WHERE h.gateway_id = u.g AND h.day = u.d",
            (time.time(), ids, days, [w[1] for w in written], [w[2] for w in written]),
        )
        for key, core_text, detail_text, day in written:
            cache[key] = (core_text, detail_text, day)
            if len(cache) > DAY_CACHE:
                del cache[next(iter(cache))]

    def _day_cache(self) -> dict[tuple[str, int], tuple[str, str, dict[str, Any]]]:
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
        cols = "gateway_id, day, data, detail" if detail else "gateway_id, day, data, NULL"
        sql = f"SELECT {cols} FROM home_days WHERE day >= %s AND day <= %s"
        args: tuple[Any, ...] = (since_day, until_day if until_day is not None else 2**40)
        if gateway_ids:
            sql, args = sql + " AND gateway_id = ANY(%b::text[])", (*args, list(gateway_ids))
        rows = await self._fetch(sql + " ORDER BY gateway_id, day", args)
        return [
            (str(g), int(d), join_day(json.loads(data), json.loads(extra) if extra else None))
            for g, d, data, extra in rows
        ]

    async def home_ids(self, since_day: int) -> list[str]:
        """Gateways with a day rollup since ``since_day`` or a current result, sorted."""
        rows = await self._fetch(
            "SELECT DISTINCT gateway_id FROM home_days WHERE day >= %s"
            " UNION SELECT DISTINCT gateway_id FROM home_results",
            (since_day,),
        )
        return sorted(str(r[0]) for r in rows)

    async def home_day_texts(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        """Raw core rollups (JSON text) of gateways ``first_id..last_id`` (or just ``only``), ordered."""
        rows = await self._fetch(*_day_texts_query(first_id, last_id, since_day, until_day, only))
        return [(str(g), int(d), str(t)) for g, d, t in rows]

    def day_reader(self) -> PostgresDayReader:
        """A picklable reader of raw core rollups, so evaluation workers read for themselves."""
        return PostgresDayReader(self.url)

    async def updated_homes(self, since: float) -> list[str]:
        """Gateways whose rollups changed after ``since`` (wall time)."""
        rows = await self._fetch("SELECT DISTINCT gateway_id FROM home_days WHERE updated_at > %s", (since,))
        return sorted(str(r[0]) for r in rows)

    # -- CRM ---------------------------------------------------------------------------
    async def upsert_subscribers(self, rows: list[dict[str, Any]], imported_at: float | None = None) -> int:
        """Insert or replace CRM rows (keyed by gateway); return how many were written."""
        at = imported_at if imported_at is not None else time.time()
        latest = list({r["gateway_id"]: r for r in rows}.values())  # a later row for a gateway wins
        cols = ", ".join(SUBSCRIBER_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*SUBSCRIBER_COLUMNS[1:], "imported_at"))
        texts = {"gateway_id", "subscriber_id", "contract_end", "area", "community"}
        types = ", ".join("%b::text[]" if c in texts else "%b::float8[]" for c in SUBSCRIBER_COLUMNS)

        def column(name: str) -> list[Any]:
            values = [r.get(name) for r in latest]
            convert = str if name in texts else float
            return [None if v is None else convert(v) for v in values]

        async def tx(conn: Conn) -> None:
            if latest:
                await conn.execute(
                    f"INSERT INTO subscribers ({cols}, imported_at) SELECT u.*, %s FROM unnest({types}) AS u"
                    f" ON CONFLICT (gateway_id) DO UPDATE SET {updates}",
                    (at, *(column(c) for c in SUBSCRIBER_COLUMNS)),
                )

        await self._tx(tx)
        return len(rows)

    async def subscribers(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """CRM rows by gateway (all, or those of ``gateway_ids``)."""
        sql = f"SELECT {', '.join(SUBSCRIBER_COLUMNS)} FROM subscribers"
        if gateway_ids is None:
            rows = await self._fetch(sql)
        else:
            rows = await self._fetch(sql + " WHERE gateway_id = ANY(%b::text[])", (list(gateway_ids),))
        return {str(row[0]): dict(zip(SUBSCRIBER_COLUMNS, row, strict=True)) for row in rows}

    # -- evaluation runs -----------------------------------------------------------------
    async def record_run(self, run: dict[str, Any]) -> None:
        """Remember an evaluation run (kind, started_at, finished_at, as_of, homes, results, seconds)."""

        async def tx(conn: Conn) -> None:
            await conn.execute(
                f"INSERT INTO evaluation_runs ({', '.join(RUN_KEYS)}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                tuple(run[k] for k in RUN_KEYS),
            )

        await self._tx(tx)

    async def last_run(self) -> dict[str, Any] | None:
        """The latest evaluation run, or ``None``."""
        rows = await self._fetch(
            f"SELECT {', '.join(RUN_KEYS)} FROM evaluation_runs ORDER BY id DESC LIMIT 1"
        )
        return dict(zip(RUN_KEYS, rows[0], strict=True)) if rows else None


def key_arrays(keys: list[Key]) -> tuple[Column, Column, Column]:
    """Keys as the three array parameters of :data:`KEYS`."""
    ids, epochs, seqs = zip(*keys, strict=True) if keys else ((), (), ())
    return column("text", ids), column("bigint", epochs), column("bigint", seqs)


def _queued_report(row: tuple[Any, ...]) -> SpooledMessage | None:
    """A claimed queue row as a report to fold, decoded again from its stored payload; ``None``
    when it cannot be folded (its claim still removes it, so it never blocks the queue)."""
    gid, epoch, seq, start, end, uptime, sent, received, payload = row
    if payload is None:
        return None  # the retention deleted the raw report before it was folded
    try:
        body = decode_stored(bytes(payload))["body"]  # stored only after validation
    except (ProtocolError, KeyError) as exc:
        # cannot happen to a payload this code validated; never let one block the queue
        log.error("cannot fold %s/%s/%s: %s; dropped from the fold queue", gid, epoch, seq, exc)
        return None
    return SpooledMessage(
        str(gid), int(epoch), int(seq), "report", int(start), int(end), int(uptime), int(sent), float(received),
        body, bytes(payload),
    )  # fmt: skip
