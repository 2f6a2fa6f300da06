"""The SQLite writer's housekeeping: checkpoints off the commit path, turns across processes."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path

from collector.store import Batch, open_store
from collector.store.sqlite import CHECKPOINT_EVERY_S, SqliteStore
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
