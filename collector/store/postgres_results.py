"""Saving profile results on PostgreSQL: current results, history (appeared, changed, cleared), profiles.

The diff is ``profiles/history.py``'s, as on SQLite; this is PostgreSQL's bulk idiom for
writing it: columns as binary arrays (``unnest``, ``%b``: psycopg quotes text arrays in
Python, 15 times slower for JSON), one statement per kind of change however many homes an
evaluation saves. Saves are serialised across collectors (each diffs against what the
previous one saved). Reads of the same tables are ``store/profiles.py``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from collector.profiles.history import diff_results
from collector.store.base import ResultsSave

Conn = psycopg.AsyncConnection[TupleRow]
#: The store's runner: one transaction on a pooled connection.
Run = Callable[[Callable[[Conn], Awaitable[Any]]], Awaitable[Any]]
#: Saves are serialised across collectors (each diffs against what the previous one saved).
RESULTS_LOCK = 0x6873_0002
#: home_results columns a save writes from each result, and their arrays (see _apply_results)
RESULT_COLUMNS = "gateway_id, rule, kind, version, time_window, state, score, sentence, evidence"
RESULT_ARRAYS = ", ".join(
    f"%b::{t}[]" for t in ["text", "text", "text", "int", "text", "text", "float8", "text", "text"]
)


def dumps(value: Any) -> str:
    """Compact JSON (the same text as the SQLite store writes)."""
    return json.dumps(value, separators=(",", ":"))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _evidence(value: Any) -> str:
    # evaluation workers send the evidence already encoded (as sqlite_results takes it)
    return value if isinstance(value, str) else dumps(value)


async def save_results(tx: Run, saving: ResultsSave) -> dict[str, int]:
    """Replace the current results of ``saving.homes``, keeping history; one transaction,
    serialised with every other collector's saves (an advisory lock)."""

    async def apply(conn: Conn) -> dict[str, int]:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (RESULTS_LOCK,))
        return await _apply_results(conn, saving)

    counts: dict[str, int] = await tx(apply)
    return counts


async def _apply_results(conn: Conn, saving: ResultsSave) -> dict[str, int]:
    results, at, homes, summaries = saving.results, saving.evaluated_at, saving.homes, saving.summaries
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
