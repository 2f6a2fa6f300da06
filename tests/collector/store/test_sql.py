"""The shared SQL seam (``store.db``) behaves the same on every backend."""

from __future__ import annotations

import asyncio

import pytest

from collector.store import Store, StoreError
from collector.store.sql import Conflict, Statement, in_list, to_pyformat

TABLE = Statement("CREATE TABLE IF NOT EXISTS seam_probe (k TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)")


async def test_transaction_upsert_returning_and_fetch(store: Store) -> None:
    db = store.db
    await db.execute(TABLE)
    out = await db.transaction(
        [
            Statement(
                "INSERT INTO seam_probe (k, n, note) VALUES (?, ?, ?)",
                [("a", 1, "50%"), ("b", 2, "?")],
                many=True,
            ),
            Statement(
                "INSERT INTO seam_probe (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = seam_probe.n + excluded.n RETURNING k, n",
                ("a", 10),
            ),
        ]
    )
    assert out[1].rows == [{"k": "a", "n": 11}] and out[1].rowcount == 1
    rows = await db.fetch("SELECT k, n, note FROM seam_probe WHERE note LIKE '%' || ? ORDER BY k", ("0%",))
    assert rows == [{"k": "a", "n": 11, "note": "50%"}]
    assert await db.fetch_one("SELECT note FROM seam_probe WHERE k = ?", ("b",)) == {"note": "?"}
    assert (
        await db.fetch_one("SELECT k FROM seam_probe WHERE k IN " + in_list(["x", "y"]), ("x", "y")) is None
    )
    greatest = db.dialect.greatest("n", "?")
    assert await db.fetch(f"SELECT {greatest} AS g FROM seam_probe WHERE k = ?", (5, "b")) == [{"g": 5}]


async def test_a_failed_expectation_writes_nothing(store: Store) -> None:
    db = store.db
    await db.execute(TABLE)
    await db.execute(Statement("INSERT INTO seam_probe (k, n) VALUES ('x', 1)"))
    with pytest.raises(Conflict):
        await db.transaction(
            [
                Statement("UPDATE seam_probe SET n = n + 1 WHERE k = 'x'"),
                Statement("UPDATE seam_probe SET n = 0 WHERE k = ?", ("missing",), expect=1),
            ]
        )
    assert await db.fetch_one("SELECT n FROM seam_probe WHERE k = 'x'") == {"n": 1}


async def test_errors_are_store_errors_and_leave_the_store_usable(store: Store) -> None:
    db = store.db
    await db.execute(TABLE)
    with pytest.raises(StoreError) as caught:
        await db.execute(Statement("INSERT INTO seam_probe (k, n) VALUES (?, NULL)", ("y",)))
    assert not caught.value.transient
    with pytest.raises(StoreError):
        await db.fetch("SELECT nope FROM seam_probe")
    await db.execute(Statement("INSERT INTO seam_probe (k, n) VALUES ('z', 3)"))
    assert await db.fetch("SELECT k FROM seam_probe") == [{"k": "z"}]


async def test_concurrent_expectations_admit_one_winner(store: Store) -> None:
    """Two claims of one row race; exactly one sees its ``expect`` hold."""
    db = store.db
    await db.execute(TABLE)
    await db.execute(Statement("INSERT INTO seam_probe (k, n) VALUES ('lease', 0)"))

    async def claim(owner: int) -> bool:
        try:
            await db.execute(
                Statement("UPDATE seam_probe SET n = ? WHERE k = 'lease' AND n = 0", (owner,), expect=1)
            )
        except Conflict:
            return False
        return True

    wins = await asyncio.gather(*(claim(i) for i in range(1, 6)))
    assert sum(wins) == 1


def test_placeholders_translate_outside_quotes_only() -> None:
    assert to_pyformat("SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE '5%'") == (
        "SELECT '?', \"a?\" FROM t WHERE x = %s AND y LIKE '5%%'"
    )
    with pytest.raises(ValueError, match="unterminated"):
        to_pyformat("SELECT 'oops")
