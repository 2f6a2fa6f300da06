"""The SQLite writer's housekeeping: checkpoints off the commit path, turns across processes, row layout."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest

from collector.store import Batch, open_store
from collector.store.migrations import migrations
from collector.store.sqlite import CHECKPOINT_EVERY_S, LAST_ROWID, SqliteStore
from tests.collector.store.test_folding import reports


async def test_commits_leave_checkpoints_to_their_own_thread(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SqliteStore)
    await store.open()
    try:
        start = path.stat().st_size
        await store.write_batch(Batch(reports("gw-ckpt", 40), [], []))
        # the commit wrote to the WAL only (autocheckpoint is off for the writer)...
        assert path.stat().st_size == start and Path(f"{path}-wal").stat().st_size > 0
        deadline = time.monotonic() + 10 * CHECKPOINT_EVERY_S
        while path.stat().st_size == start and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        # ...and the checkpoint thread copied it into the database file soon after
        assert path.stat().st_size > start
    finally:
        await store.close()


async def test_a_writer_waits_its_turn_while_another_process_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        other = os.open(f"{path}-writers", os.O_RDWR)  # what a second collector would hold
        fcntl.flock(other, fcntl.LOCK_EX)
        write = asyncio.create_task(store.write_batch(Batch(reports("gw-turn", 2), [], [])))
        await asyncio.sleep(0.5)
        assert not write.done()  # queued behind the other writer, not failing, not polling
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
        result = await asyncio.wait_for(write, 5)
        assert len(result.inserted) == 2
    finally:
        await store.close()


def _facts(path: Path) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT * FROM gateway_facts ORDER BY gateway_id, window_end").fetchall()


async def test_facts_move_to_a_rowid_table_with_every_row_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "f.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    await store.write_batch(Batch(reports("gw-f1", 4) + reports("gw-f2", 3), [], []))
    await store.close()
    before = _facts(path)
    # back to the clustered table of 001, as a store from before migration 090 has it
    init = dict(migrations("sqlite"))[1]
    clustered = re.search(r"CREATE TABLE gateway_facts \(.*?WITHOUT ROWID", init, re.S)
    assert clustered is not None
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for sql in (
            clustered.group(0).replace("gateway_facts", "facts_before"),
            "INSERT INTO facts_before SELECT * FROM gateway_facts",
            "DROP TABLE gateway_facts",
            "ALTER TABLE facts_before RENAME TO gateway_facts",
            "CREATE INDEX gateway_facts_window ON gateway_facts (window_end)",
            "DELETE FROM schema_migrations WHERE version = 90",
        ):
            db.execute(sql)
    assert _facts(path) == before
    reopened = open_store(f"sqlite:///{path}")
    with caplog.at_level(logging.INFO, logger="collector.store.sqlite"):
        await reopened.open()  # migrates
    try:
        # an upgrade says which migration runs and how long it took (090 rewrites a table)
        said = [r.getMessage() for r in caplog.records]
        assert "sqlite: applying migration 090 to an existing store" in said
        assert any(m.startswith("sqlite: migration 090 applied in ") for m in said)
        assert _facts(path) == before
        with contextlib.closing(sqlite3.connect(path)) as db:
            (table,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'gateway_facts'").fetchone()
            assert "WITHOUT ROWID" not in table
        # the key still refuses a second row for a window (another key for the same window)
        more = reports("gw-f1", 6)
        result = await reopened.write_batch(Batch([*more[4:], dataclasses.replace(more[0], seq=99)], [], []))
        assert len(result.inserted) == 3 and not result.duplicates
        assert len(_facts(path)) == len(before) + 2
        assert len(await reopened.history("gw-f1")) == 6
    finally:
        await reopened.close()


async def test_reports_past_the_largest_rowid_are_told_apart_one_by_one(tmp_path: Path) -> None:
    # SQLite numbers new rows at random once a table holds the largest rowid: which rows a batch
    # stored can no longer be told by their rowids, so they are inserted one by one
    path = tmp_path / "r.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        first = reports("gw-top", 3)
        await store.write_batch(Batch(first[:1], [], []))
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute(
                "INSERT INTO reports (rowid, gateway_id, epoch, seq, kind, window_start, window_end, uptime_s,"
                " sent_at, received_at, payload) VALUES (?, 'gw-far', 1, 1, 'report', 0, 1, 1, 1, 1, x'00')",
                (LAST_ROWID,),
            )
        result = await store.write_batch(Batch([*first, first[2]], [], []))
        assert [k[2] for k in result.inserted] == [2, 3]
        assert [k[2] for k in result.duplicates] == [1, 3]
        gateway = await store.gateway("gw-top")
        assert gateway is not None and gateway["reports"] == 3
    finally:
        await store.close()
