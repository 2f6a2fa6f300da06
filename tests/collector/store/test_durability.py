"""Acked means stored: the durability settings under each store are checked, not assumed."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest

from collector.store import StoreError, open_store
from collector.store.durability import judge
from collector.store.postgres import PostgresStore
from collector.store.sql import Statement
from tests.pg import Postgres


def test_fsync_off_is_refused_for_good_and_named() -> None:
    with pytest.raises(StoreError, match="fsync=off") as caught:
        judge("off", "on")
    assert not caught.value.transient


@pytest.mark.parametrize(
    ("setting", "pinned"),
    [("off", True), ("on", False), ("local", False), ("remote_write", False), ("remote_apply", False)],
)
def test_only_synchronous_commit_off_is_pinned(setting: str, pinned: bool) -> None:
    assert judge("on", setting).pinned is pinned


async def test_a_database_with_synchronous_commit_off_is_pinned_on_and_logged(
    postgres_server: Postgres, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    assert postgres_server.admin_url is not None
    with psycopg.connect(postgres_server.admin_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
    with psycopg.connect(postgres_url) as plain:  # what any other session of it now gets
        assert plain.execute("SHOW synchronous_commit").fetchone() == ("off",)
    store = open_store(postgres_url)
    assert isinstance(store, PostgresStore)
    with caplog.at_level(logging.ERROR, logger="collector.store.durability"):
        await store.open()
    try:
        assert store.durability is not None
        assert store.durability.pinned and store.durability.synchronous_commit == "off"
        assert "synchronous_commit is off" in caplog.text
        # every connection of the pool, the ingest path's and the concerns' (store.db) alike
        rows = await store.db.transaction([Statement("SELECT current_setting('synchronous_commit') AS s")])
        assert rows[0].rows == [{"s": "on"}]
        async with store._pool.connection() as conn:
            assert await (await conn.execute("SHOW synchronous_commit")).fetchone() == ("on",)
    finally:
        await store.close()


async def test_a_server_with_the_defaults_is_left_as_it_is(postgres_url: str) -> None:
    store = open_store(postgres_url)
    assert isinstance(store, PostgresStore)
    await store.open()
    try:
        assert store.durability is not None
        assert (store.durability.fsync, store.durability.pinned) == ("on", False)
    finally:
        await store.close()


async def test_sqlite_commits_are_synced_before_they_return(tmp_path: Path) -> None:
    """WAL + synchronous=FULL on the writer: NORMAL would sync only at checkpoints, so a power
    cut could take acknowledged batches with it."""
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    await store.open()
    try:
        got = await store.db.transaction([Statement("PRAGMA synchronous"), Statement("PRAGMA journal_mode")])
        assert got[0].rows == [{"synchronous": 2}] and got[1].rows == [{"journal_mode": "wal"}]
    finally:
        await store.close()
