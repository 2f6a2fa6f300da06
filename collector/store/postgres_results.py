"""PostgreSQL side of profile results: current results with history, the homes list and the area view.

The base of :class:`collector.store.postgres_insights.PostgresInsightsMixin` (split only to keep
modules small), with the same semantics as ``sqlite_results.py``; the tables are in migration
``postgresql/010_insights.sql`` and ``docs/profiles.md``. Bulk writes pass columns as arrays
(``unnest``), one statement per kind of change, however many homes an evaluation saves. Arrays
go in binary format (``%b``): psycopg quotes text arrays in Python, 15 times slower for JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.rows import TupleRow

from collector.profiles.history import diff_results
from collector.store.base import StoreError
from collector.store.queries import AREA_COUNTS, GROUP_LEVELS, area_view, segment_where

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

T = TypeVar("T")
Conn = psycopg.AsyncConnection[TupleRow]
#: Saves are serialised across collectors (each diffs against what the previous one saved).
RESULTS_LOCK = 0x6873_0002
RESULT_KEYS = ("rule", "kind", "version", "window", "state", "score", "sentence", "evidence", "since",
               "changed_at", "evaluated_at")  # fmt: skip
HOME_KEYS = ("gateway_id", "subscriber_id", "area", "community", "wifi_score", "devices", "gb_per_day",
             "online_hours", "evaluated_at")  # fmt: skip
HISTORY_KEYS = ("rule", "change", "at", "version", "state", "score", "sentence")
#: home_results columns a save writes from each result, and their arrays (see _apply_results)
RESULT_COLUMNS = "gateway_id, rule, kind, version, time_window, state, score, sentence, evidence"
RESULT_ARRAYS = ", ".join(
    f"%b::{t}[]" for t in ["text", "text", "text", "int", "text", "text", "float8", "text", "text"]
)


def dumps(value: Any) -> str:
    """Compact JSON (the same text as the SQLite store writes)."""
    return json.dumps(value, separators=(",", ":"))


def pg_error(exc: psycopg.Error) -> StoreError:
    """``exc`` as the store's error, transient or not (the rules of ``postgres.py``)."""
    from collector.store.postgres import _error  # postgres.py imports this module

    return _error(exc)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _evidence(value: Any) -> str:
    # evaluation workers send the evidence already encoded (as sqlite_results takes it)
    return value if isinstance(value, str) else dumps(value)


class PostgresResultsMixin:
    """Results, history, the homes list and the area view for the PostgreSQL store."""

    if TYPE_CHECKING:
        _pool: AsyncConnectionPool[Conn]

    async def _tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` in one transaction on a pooled connection; psycopg errors become StoreError."""
        try:
            async with self._pool.connection() as conn, conn.transaction():
                return await fn(conn)
        except psycopg.Error as exc:
            raise pg_error(exc) from exc

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async def q(conn: Conn) -> list[tuple[Any, ...]]:
            return await (await conn.execute(sql, params)).fetchall()

        return await self._tx(q)

    # -- results -----------------------------------------------------------------------
    async def save_results(
        self,
        results: list[dict[str, Any]],
        evaluated_at: float,
        homes: list[str],
        summaries: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, int]:
        """Replace the current results of ``homes`` with ``results``, keeping history.

        A result that was not there ``appeared``; one whose state or rule version moved
        ``changed``; one no longer there is ``cleared``. Other homes are untouched. Each
        result is a dict: gateway_id, rule, kind, version, window, state, score, sentence,
        evidence (a dict, or its compact JSON text). ``summaries`` (per home) refresh
        ``home_profiles``.
        """

        async def tx(conn: Conn) -> dict[str, int]:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (RESULTS_LOCK,))
            return await _apply_results(conn, results, evaluated_at, homes, summaries or {})

        return await self._tx(tx)

    async def home_results(self, gateway_id: str) -> list[dict[str, Any]]:
        """The current results of one home, with their evidence."""
        rows = await self._fetch(
            "SELECT rule, kind, version, time_window, state, score, sentence, evidence, since, changed_at,"
            " evaluated_at FROM home_results WHERE gateway_id = %s ORDER BY kind, rule",
            (gateway_id,),
        )
        out = [dict(zip(RESULT_KEYS, r, strict=True)) for r in rows]
        for o in out:
            o["evidence"] = json.loads(o["evidence"])
        return out

    async def result_history(self, gateway_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A home's result changes, newest first."""
        rows = await self._fetch(
            "SELECT rule, change, at, version, state, score, sentence FROM result_history"
            " WHERE gateway_id = %s ORDER BY at DESC, id DESC LIMIT %s",
            (gateway_id, limit),
        )
        return [dict(zip(HISTORY_KEYS, r, strict=True)) for r in rows]

    async def home_summary(self, gateway_id: str) -> dict[str, Any] | None:
        """The home's last evaluation figures, or ``None`` if never evaluated."""
        rows = await self._fetch(
            "SELECT evaluated_at, summary FROM home_profiles WHERE gateway_id = %s", (gateway_id,)
        )
        return {"evaluated_at": rows[0][0], **json.loads(rows[0][1])} if rows else None

    async def homes(
        self,
        label: str | None = None,
        flag: str | None = None,
        warning: str | None = None,
        area: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Evaluated homes matching every filter given, with their result names; and the total."""
        clause, args = segment_where(label, flag, warning, area, "%s")
        base = " FROM home_profiles p LEFT JOIN subscribers s ON s.gateway_id = p.gateway_id" + clause

        async def q(conn: Conn) -> dict[str, Any]:
            total = int((await (await conn.execute("SELECT count(*)" + base, args)).fetchall())[0][0])
            cur = await conn.execute(
                "SELECT p.gateway_id, s.subscriber_id, s.area, s.community, p.wifi_score, p.devices, p.gb_per_day,"
                " p.online_hours, p.evaluated_at" + base + " ORDER BY p.gateway_id LIMIT %s OFFSET %s",
                (*args, limit, offset),
            )
            homes = [
                {**dict(zip(HOME_KEYS, r, strict=True)), "label": [], "flag": [], "warning": []}
                for r in await cur.fetchall()
            ]
            by_id = {h["gateway_id"]: h for h in homes}
            if by_id:
                cur = await conn.execute(
                    "SELECT gateway_id, rule, kind FROM home_results WHERE gateway_id = ANY(%b::text[]) ORDER BY rule",
                    (list(by_id),),
                )
                for g, rule, kind in await cur.fetchall():
                    by_id[g][kind].append(rule)
            return {"total": total, "homes": homes}

        return await self._tx(q)

    async def area_summary(self, min_group: int, level: str = "area") -> dict[str, Any]:
        """Per area (or community): homes, result counts, Wi-Fi quality, competitor density.

        Groups with fewer than ``min_group`` evaluated homes are left out (only counted), so
        no single home can be singled out.
        """
        column = GROUP_LEVELS[level]

        async def q(conn: Conn) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            # avg() of an integer column is numeric (Decimal) on PostgreSQL: cast to float8
            groups = await conn.execute(
                f"SELECT {column}, count(*), avg(p.wifi_score), avg(p.competitor)::float8, avg(p.gb_per_day),"
                " avg(p.devices)::float8 FROM subscribers s JOIN home_profiles p ON p.gateway_id = s.gateway_id"
                f" WHERE {column} IS NOT NULL GROUP BY {column} ORDER BY {column}"
            )
            group_rows = await groups.fetchall()
            counts = await conn.execute(AREA_COUNTS.format(column=column))
            return group_rows, await counts.fetchall()

        groups, count_rows = await self._tx(q)
        return area_view(level, min_group, groups, count_rows)

    async def area_names(self) -> dict[str, list[str]]:
        """Every area and community named by the CRM import, sorted (for the pages' filter choices).

        Names only, no counts: the homes list they filter is per home anyway, so no minimum
        group applies (the area view's counts keep theirs).
        """

        async def q(conn: Conn) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for level in ("area", "community"):
                cur = await conn.execute(
                    f"SELECT DISTINCT {level} FROM subscribers WHERE {level} IS NOT NULL ORDER BY {level}"
                )
                out[level] = [str(r[0]) for r in await cur.fetchall()]
            return out

        return await self._tx(q)


async def _apply_results(
    conn: Conn,
    results: list[dict[str, Any]],
    at: float,
    homes: list[str],
    summaries: dict[str, dict[str, Any]],
) -> dict[str, int]:
    current: dict[tuple[str, str], dict[str, Any]] = {}
    if homes:
        cur = await conn.execute(
            "SELECT gateway_id, rule, state, version, sentence, score FROM home_results WHERE gateway_id = ANY(%b::text[])",
            (homes,),
        )
        for g, rule, state, version, sentence, score in await cur.fetchall():
            current[(g, rule)] = {"state": state, "version": version, "sentence": sentence, "score": score}
    changes = diff_results(current, results)

    def columns(rows: list[dict[str, Any]]) -> tuple[list[Any], ...]:
        return (
            [r["gateway_id"] for r in rows],
            [r["rule"] for r in rows],
            [r["kind"] for r in rows],
            [int(r["version"]) for r in rows],
            [r["window"] for r in rows],
            [r["state"] for r in rows],
            [_float(r["score"]) for r in rows],
            [r["sentence"] for r in rows],
            [_evidence(r["evidence"]) for r in rows],
        )

    if changes.appeared:
        await conn.execute(
            f"INSERT INTO home_results ({RESULT_COLUMNS}, since, changed_at, evaluated_at)"
            f" SELECT u.*, %s, %s, %s FROM unnest({RESULT_ARRAYS}) AS u",
            (at, at, at, *columns(changes.appeared)),
        )
    if changes.refreshed:
        refreshed = [r for r, _ in changes.refreshed]
        await conn.execute(
            "UPDATE home_results h SET kind = u.kind, version = u.version, time_window = u.time_window,"
            " state = u.state, score = u.score, sentence = u.sentence, evidence = u.evidence,"
            " changed_at = CASE WHEN u.moved THEN %s ELSE h.changed_at END, evaluated_at = %s"
            f" FROM unnest({RESULT_ARRAYS}, %b::bool[]) AS u({RESULT_COLUMNS}, moved)"
            " WHERE h.gateway_id = u.gateway_id AND h.rule = u.rule",
            (at, at, *columns(refreshed), [moved for _, moved in changes.refreshed]),
        )
    if changes.cleared:
        await conn.execute(
            "DELETE FROM home_results h USING unnest(%b::text[], %b::text[]) AS k(g, r)"
            " WHERE h.gateway_id = k.g AND h.rule = k.r",
            ([g for g, _ in changes.cleared], [r for _, r in changes.cleared]),
        )
    if changes.history:
        h = changes.history
        await conn.execute(
            "INSERT INTO result_history (gateway_id, rule, change, at, version, state, score, sentence)"
            " SELECT k.g, k.r, k.c, %s, k.v, k.st, k.sc, k.se FROM unnest(%b::text[], %b::text[], %b::text[],"
            " %b::int[], %b::text[], %b::float8[], %b::text[]) WITH ORDINALITY AS k(g, r, c, v, st, sc, se, n)"
            " ORDER BY k.n",
            (
                at,
                [x["gateway_id"] for x in h],
                [x["rule"] for x in h],
                [x["change"] for x in h],
                [int(x["version"]) for x in h],
                [x["state"] for x in h],
                [_float(x["score"]) for x in h],
                [x["sentence"] for x in h],
            ),
        )
    if summaries:
        s = list(summaries.items())
        await conn.execute(
            "INSERT INTO home_profiles (gateway_id, evaluated_at, wifi_score, devices, gb_per_day, online_hours,"
            " competitor, summary) SELECT k.g, %s, k.w, k.d, k.gb, k.oh, k.c, k.s FROM unnest(%b::text[],"
            " %b::float8[], %b::int[], %b::float8[], %b::float8[], %b::int[], %b::text[]) AS k(g, w, d, gb, oh, c, s)"
            " ON CONFLICT (gateway_id) DO UPDATE SET evaluated_at = excluded.evaluated_at,"
            " wifi_score = excluded.wifi_score, devices = excluded.devices, gb_per_day = excluded.gb_per_day,"
            " online_hours = excluded.online_hours, competitor = excluded.competitor, summary = excluded.summary",
            (
                at,
                [g for g, _ in s],
                [_float(x.get("wifi_score")) for _, x in s],
                [int(x.get("devices", 0)) for _, x in s],
                [float(x.get("gb_per_day", 0.0)) for _, x in s],
                [float(x.get("online_hours", 0.0)) for _, x in s],
                [int(bool(x.get("competitor"))) for _, x in s],
                [dumps(x) for _, x in s],
            ),
        )
    moved = sum(m for _, m in changes.refreshed)
    return {"appeared": len(changes.appeared), "changed": moved, "cleared": len(changes.cleared)}
