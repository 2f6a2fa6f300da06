"""SQLite side of profile results: current results with history, the homes list and the area view.

The base of :class:`collector.store.sqlite_insights.InsightsMixin` (split only to keep modules
small); the tables are in migration ``010_insights.sql`` and ``docs/profiles.md``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from collector.profiles.history import diff_results
from collector.store.queries import AREA_COUNTS, GROUP_LEVELS, area_view, segment_where

T = TypeVar("T")
_CHUNK = 500  # ids per IN (...) list, well under every backend's parameter limit


_encode = json.JSONEncoder(separators=(",", ":")).encode


def dumps(value: Any) -> str:
    """Compact JSON (as ``json.dumps(value, separators=(",", ":"))``, with one encoder for all calls)."""
    return _encode(value)


def chunks(items: list[str], size: int = _CHUNK) -> Iterable[list[str]]:
    """``items`` in slices short enough for an ``IN (...)`` list."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def marks(n: int) -> str:
    """``?,?,...`` for ``n`` parameters."""
    return ",".join("?" * n)


class ResultsMixin:
    """Results, history, the homes list and the area view for the SQLite store."""

    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

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

        def tx(db: sqlite3.Connection) -> dict[str, int]:
            db.execute("BEGIN IMMEDIATE")
            try:
                counts = _apply_results(db, results, evaluated_at, homes, summaries or {})
                db.execute("COMMIT")
                return counts
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._write(tx)

    async def home_results(self, gateway_id: str) -> list[dict[str, Any]]:
        """The current results of one home, with their evidence."""

        def q(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT rule, kind, version, time_window, state, score, sentence, evidence, since, changed_at,"
                " evaluated_at FROM home_results WHERE gateway_id = ? ORDER BY kind, rule",
                (gateway_id,),
            ).fetchall()
            keys = ("rule", "kind", "version", "window", "state", "score", "sentence", "evidence", "since",
                    "changed_at", "evaluated_at")  # fmt: skip
            out = [dict(zip(keys, r, strict=True)) for r in rows]
            for o in out:
                o["evidence"] = json.loads(o["evidence"])
            return out

        return await self._read(q)

    async def result_history(self, gateway_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A home's result changes, newest first."""

        def q(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT rule, change, at, version, state, score, sentence FROM result_history"
                " WHERE gateway_id = ? ORDER BY at DESC, id DESC LIMIT ?",
                (gateway_id, limit),
            ).fetchall()
            keys = ("rule", "change", "at", "version", "state", "score", "sentence")
            return [dict(zip(keys, r, strict=True)) for r in rows]

        return await self._read(q)

    async def home_summary(self, gateway_id: str) -> dict[str, Any] | None:
        """The home's last evaluation figures, or ``None`` if never evaluated."""

        def q(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute(
                "SELECT evaluated_at, summary FROM home_profiles WHERE gateway_id = ?", (gateway_id,)
            ).fetchone()
            return None if row is None else {"evaluated_at": row[0], **json.loads(row[1])}

        return await self._read(q)

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

        clause, args = segment_where(label, flag, warning, area)
        base = " FROM home_profiles p LEFT JOIN subscribers s ON s.gateway_id = p.gateway_id" + clause

        def q(db: sqlite3.Connection) -> dict[str, Any]:
            total = int(db.execute("SELECT count(*)" + base, args).fetchone()[0])
            rows = db.execute(
                "SELECT p.gateway_id, s.subscriber_id, s.area, s.community, p.wifi_score, p.devices, p.gb_per_day,"
                " p.online_hours, p.evaluated_at" + base + " ORDER BY p.gateway_id LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
            keys = ("gateway_id", "subscriber_id", "area", "community", "wifi_score", "devices", "gb_per_day",
                    "online_hours", "evaluated_at")  # fmt: skip
            homes = [
                {**dict(zip(keys, r, strict=True)), "label": [], "flag": [], "warning": []} for r in rows
            ]
            by_id = {h["gateway_id"]: h for h in homes}
            for ids in chunks(list(by_id)):
                for g, rule, kind in db.execute(
                    f"SELECT gateway_id, rule, kind FROM home_results WHERE gateway_id IN ({marks(len(ids))})"
                    " ORDER BY rule",
                    ids,
                ):
                    by_id[g][kind].append(rule)
            return {"total": total, "homes": homes}

        return await self._read(q)

    async def area_summary(self, min_group: int, level: str = "area") -> dict[str, Any]:
        """Per area (or community): homes, result counts, Wi-Fi quality, competitor density.

        Groups with fewer than ``min_group`` evaluated homes are left out (only counted), so
        no single home can be singled out.
        """
        column = GROUP_LEVELS[level]

        def q(db: sqlite3.Connection) -> dict[str, Any]:
            groups = db.execute(
                f"SELECT {column}, count(*), avg(p.wifi_score), avg(p.competitor), avg(p.gb_per_day),"
                " avg(p.devices) FROM subscribers s JOIN home_profiles p ON p.gateway_id = s.gateway_id"
                f" WHERE {column} IS NOT NULL GROUP BY {column} ORDER BY {column}"
            ).fetchall()
            return area_view(level, min_group, groups, db.execute(AREA_COUNTS.format(column=column)).fetchall())

        return await self._read(q)

    async def area_names(self) -> dict[str, list[str]]:
        """Every area and community named by the CRM import, sorted (for the pages' filter choices).

        Names only, no counts: the homes list they filter is per home anyway, so no minimum
        group applies (the area view's counts keep theirs).
        """

        def q(db: sqlite3.Connection) -> dict[str, list[str]]:
            return {
                level: [
                    str(r[0])
                    for r in db.execute(
                        f"SELECT DISTINCT {level} FROM subscribers WHERE {level} IS NOT NULL ORDER BY {level}"
                    )
                ]
                for level in ("area", "community")
            }

        return await self._read(q)


def _profile_row(gateway_id: str, at: float, s: dict[str, Any]) -> tuple[Any, ...]:
    figures = (s.get("wifi_score"), s.get("devices", 0), s.get("gb_per_day", 0.0), s.get("online_hours", 0.0))
    return (gateway_id, at, *figures, int(bool(s.get("competitor"))), dumps(s))


def _apply_results(
    db: sqlite3.Connection,
    results: list[dict[str, Any]],
    at: float,
    homes: list[str],
    summaries: dict[str, dict[str, Any]],
) -> dict[str, int]:
    current: dict[tuple[str, str], dict[str, Any]] = {}
    if len(homes) > 20 * _CHUNK:
        wanted = set(homes)
        rows: Iterable[Any] = (
            r for r in db.execute("SELECT gateway_id, rule, state, version, sentence, score FROM home_results")
            if r[0] in wanted
        )  # fmt: skip
    else:
        rows = [
            r
            for ids in chunks(homes)
            for r in db.execute(
                "SELECT gateway_id, rule, state, version, sentence, score FROM home_results"
                f" WHERE gateway_id IN ({marks(len(ids))})",
                ids,
            )
        ]
    for g, rule, state, version, sentence, score in rows:
        current[(g, rule)] = {"state": state, "version": version, "sentence": sentence, "score": score}
    changes = diff_results(current, results)

    def row(r: dict[str, Any]) -> tuple[Any, ...]:
        # evaluation workers send the evidence already encoded
        evidence = r["evidence"] if isinstance(r["evidence"], str) else dumps(r["evidence"])
        return (r["kind"], r["version"], r["window"], r["state"], r["score"], r["sentence"], evidence)

    db.executemany(
        "INSERT INTO home_results (kind, version, time_window, state, score, sentence, evidence, since, changed_at,"
        " evaluated_at, gateway_id, rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row(r), at, at, at, r["gateway_id"], r["rule"]) for r in changes.appeared],
    )
    db.executemany(
        "UPDATE home_results SET kind = ?, version = ?, time_window = ?, state = ?, score = ?, sentence = ?,"
        " evidence = ?, changed_at = coalesce(?, changed_at), evaluated_at = ? WHERE gateway_id = ? AND rule = ?",
        [(*row(r), at if moved else None, at, r["gateway_id"], r["rule"]) for r, moved in changes.refreshed],
    )
    db.executemany("DELETE FROM home_results WHERE gateway_id = ? AND rule = ?", changes.cleared)
    db.executemany(
        "INSERT INTO result_history (gateway_id, rule, change, at, version, state, score, sentence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (h["gateway_id"], h["rule"], h["change"], at, h["version"], h["state"], h["score"], h["sentence"])
            for h in changes.history
        ],
    )
    db.executemany(
        "INSERT INTO home_profiles (gateway_id, evaluated_at, wifi_score, devices, gb_per_day, online_hours,"
        " competitor, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway_id) DO UPDATE SET"
        " evaluated_at = excluded.evaluated_at, wifi_score = excluded.wifi_score, devices = excluded.devices,"
        " gb_per_day = excluded.gb_per_day, online_hours = excluded.online_hours,"
        " competitor = excluded.competitor, summary = excluded.summary",
        [_profile_row(g, at, s) for g, s in summaries.items()],
    )
    moved = sum(m for _, m in changes.refreshed)
    return {"appeared": len(changes.appeared), "changed": moved, "cleared": len(changes.cleared)}
