"""Home-profile stores of either backend for tests: open one, and write rows behind its back.

``put_days`` writes day rollups straight into ``home_days`` (what folding would have made),
``execute`` runs one statement written with ``?`` placeholders on either backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.profiles.rollup import split_day
from collector.store import open_store
from collector.store.postgres import PostgresStore
from collector.store.sqlite import SqliteStore
from tests.collector.profiles.builders import Day

BACKENDS = ["sqlite", "postgresql"]


def store_url(request: pytest.FixtureRequest, tmp_path: Path, backend: str, name: str = "p.db") -> str:
    """A fresh database of ``backend`` for the test (PostgreSQL ones are dropped after it)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/{name}"
    return str(request.getfixturevalue("postgres_url"))


async def open_profile_store(url: str) -> Any:
    """An opened store (migrated) for ``url``."""
    store = open_store(url)
    await store.open()
    return store


async def execute(store: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run ``sql`` (``?`` placeholders) once per row, committed, on the store's own database."""
    if isinstance(store, SqliteStore):
        import sqlite3

        db = sqlite3.connect(store.path)
        with db:
            db.executemany(sql, rows)
        db.close()
    elif isinstance(store, PostgresStore):
        async with await psycopg.AsyncConnection.connect(store.url) as conn, conn.cursor() as cur:
            await cur.executemany(sql.replace("?", "%s"), rows)
    else:  # pragma: no cover - a new backend must teach the tests how to reach its database
        raise TypeError(f"no test access to {type(store).__name__}")


async def put_days(store: Any, gateway_id: str, days: list[Day], updated_at: float = 1.0) -> None:
    """Write day rollups as folding would have (replacing the core of existing days)."""
    rows = []
    for d in days:
        core, detail = split_day(d.data())
        rows.append((gateway_id, d.day, json.dumps(core), json.dumps(detail), updated_at))
    await execute(
        store,
        "INSERT INTO home_days VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway_id, day) DO UPDATE SET"
        " data = excluded.data, updated_at = excluded.updated_at",
        rows,
    )
