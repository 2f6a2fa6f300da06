"""Saving profile results on SQLite: current results, history (appeared, changed, cleared), profiles.

The diff is ``profiles/history.py``'s; this is SQLite's bulk idiom for writing it
(``executemany`` on the writer thread). Reads of the same tables are ``store/profiles.py``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from collector.profiles.history import diff_results
from collector.store.base import ResultsSave, StoreError
from collector.store.profiles import CHUNK, chunks
from collector.store.sql import in_list
from collector.store.sqlite_db import transient

#: The store's writer-thread runner.
Run = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
_encode = json.JSONEncoder(separators=(",", ":")).encode


def dumps(value: Any) -> str:
    """Compact JSON (as ``json.dumps(value, separators=(",", ":"))``, with one encoder for all calls)."""
    return _encode(value)


async def save_results(write: Run, saving: ResultsSave) -> dict[str, int]:
    """Replace the current results of ``saving.homes``, keeping history, in one transaction
    of the writer thread (which serialises it with every other write to the file)."""

    def tx(db: sqlite3.Connection) -> dict[str, int]:
        db.execute("BEGIN IMMEDIATE")
        try:
            counts = _apply_results(db, saving)
            db.execute("COMMIT")
            return counts
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    try:
        saved: dict[str, int] = await write(tx)
    except sqlite3.Error as exc:
        raise StoreError(f"sqlite: {exc}", transient=transient(exc)) from exc
    return saved


def _profile_row(gateway_id: str, at: float, s: dict[str, Any]) -> tuple[Any, ...]:
    figures = (s.get("wifi_score"), s.get("devices", 0), s.get("gb_per_day", 0.0), s.get("online_hours", 0.0))
    return (gateway_id, at, *figures, int(bool(s.get("competitor"))), dumps(s))


def _apply_results(db: sqlite3.Connection, saving: ResultsSave) -> dict[str, int]:
    results, at, homes, summaries = saving.results, saving.evaluated_at, saving.homes, saving.summaries
    current: dict[tuple[str, str], dict[str, Any]] = {}
    if len(homes) > 20 * CHUNK:
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
                f" WHERE gateway_id IN {in_list(ids)}",
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
