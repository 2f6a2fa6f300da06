"""Home-profile folding after ingest: every stored report folded exactly once, whatever dies when."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from agent.runner import report_frame
from collector.ingest import Incoming, classify
from collector.store import Batch, SpooledMessage, folding, open_store
from collector.store.base import drain_folds, insights
from collector.store.sqlite import SqliteStore
from emulator.home import VirtualHome
from protocol.topics import topic_for

T0 = 1_700_000_000 - 1_700_000_000 % 86400  # a UTC midnight


def reports(gateway_id: str, n: int, first_seq: int = 1) -> list[SpooledMessage]:
    home = VirtualHome(gateway_id, 7)
    out = []
    for k in range(first_seq, first_seq + n):
        window = (T0 + 900 * (k - 1), T0 + 900 * k)
        frame = report_frame(gateway_id, 1, k, window, home.uptime_s, home.report_body(900, window[1]), T0)
        message = classify(Incoming(topic_for(gateway_id, "report"), frame, k, 1, time.time()))
        assert isinstance(message, SpooledMessage)
        out.append(message)
    return out


async def folded_windows(store: SqliteStore) -> dict[str, int]:
    days = await insights(store).home_days(T0 // 86400)
    return {gid: data["v"][0] for gid, _, data in days}  # v[0]: windows folded


async def test_reports_are_folded_after_commit_and_duplicates_never(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path}/f.db")
    await store.open()
    try:
        batch = reports("fold-a", 6)
        await store.write_batch(Batch(batch[:4], [], []))
        await store.write_batch(Batch(batch, [], []))  # four duplicates, two new
        assert await store.pending_folds() == 6
        assert await folded_windows(store) == {}  # not yet: folding follows the ingest
        assert await drain_folds(store, chunk=4) == 6
        assert await store.pending_folds() == 0
        assert await folded_windows(store) == {"fold-a": 6}
        assert await store.fold_pending() == 0
    finally:
        await store.close()


async def test_a_queue_left_by_a_dead_collector_is_folded_from_the_raw_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/f.db"
    first = open_store(url)
    await first.open()
    await first.write_batch(Batch(reports("fold-b", 5), [], []))
    assert await insights(first).fold_pending(limit=2) == 2
    await first.close()  # three committed reports never folded in this process

    second = SqliteStore(url)
    await second.open()
    try:
        await second.write_batch(Batch(reports("fold-b", 2, first_seq=6), [], []))  # new work meanwhile
        assert await drain_folds(second, chunk=2) == 5
        assert await folded_windows(second) == {"fold-b": 7}
    finally:
        await second.close()


async def test_a_backlog_past_memory_is_read_back_from_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folding, "FOLD_BACKLOG", 3)
    store = SqliteStore(f"sqlite:///{tmp_path}/f.db")
    await store.open()
    try:
        for gid in ("fold-c", "fold-d", "fold-e"):
            await store.write_batch(Batch(reports(gid, 2), [], []))  # 6 > 3: bodies dropped from memory
        await store.write_batch(Batch(reports("fold-f", 1), [], []))
        assert await drain_folds(store, chunk=2) == 7
        assert await folded_windows(store) == {"fold-c": 2, "fold-d": 2, "fold-e": 2, "fold-f": 1}
    finally:
        await store.close()


async def test_reports_kept_for_folding_hold_their_msgpack_only(tmp_path: Path) -> None:
    # the memory bound counts reports: each must not also carry its stored frame and decoded body
    store = SqliteStore(f"sqlite:///{tmp_path}/f.db")
    await store.open()
    try:
        batch = [m for m in reports("fold-k", 3)]
        assert all(m.packed and m.payload for m in batch)
        await store.write_batch(Batch(batch, [], []))
        kept = [m for gateway in store.folds.state.memory.values() for m in gateway.values()]
        assert [(m.seq, m.payload, m.decoded, m.packed) for m in kept] == [
            (m.seq, b"", None, m.packed) for m in batch
        ]
        assert await drain_folds(store) == 3
        assert await folded_windows(store) == {"fold-k": 3}
    finally:
        await store.close()


async def test_a_failed_fold_loses_nothing_and_an_unreadable_payload_blocks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    store = SqliteStore(f"sqlite:///{path}")
    await store.open()
    try:
        await store.write_batch(Batch(reports("fold-g", 3), [], []))
        # another process holds the write lock past the store's busy timeout (5 s): the fold
        # fails, and its reports stay queued
        other = sqlite3.connect(path, timeout=0.1)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Exception, match="locked"):
            await store.fold_pending()
        other.execute("ROLLBACK")
        other.execute("UPDATE reports SET payload = x'00' WHERE seq = 2")  # cannot happen; must not block
        other.commit()
        other.close()
        assert await drain_folds(store) == 2
        assert await store.pending_folds() == 0
        assert await folded_windows(store) == {"fold-g": 2}
    finally:
        await store.close()


async def test_two_processes_on_one_file_fold_each_report_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/f.db"
    writer = SqliteStore(url)
    await writer.open()
    await writer.write_batch(Batch(reports("fold-h", 12), [], []))
    await writer.close()  # twelve reports left queued
    a, b = SqliteStore(url), SqliteStore(url)
    await a.open()
    await b.open()
    try:
        # both start from the table and take overlapping chunks; each key is folded by its claimer
        counts = await asyncio.gather(drain_folds(a, chunk=5), drain_folds(b, chunk=5))
        assert sum(counts) >= 12
        assert await folded_windows(a) == {"fold-h": 12}
        assert await a.pending_folds() == 0
    finally:
        await a.close()
        await b.close()


def test_store_errors_cross_process_boundaries() -> None:
    import pickle

    from collector.store import StoreError

    error = pickle.loads(pickle.dumps(StoreError("sqlite: database is locked", transient=True)))
    assert isinstance(error, StoreError) and error.transient and str(error) == "sqlite: database is locked"


async def test_reading_the_backlog_back_walks_the_queue_not_every_stored_report(tmp_path: Path) -> None:
    # Left to SQLite's planner the read-back scanned all of ``reports`` (payloads included) for
    # every chunk: a third of a collector's CPU while it caught up after a burst.
    from collector.store.sqlite_folds import QUEUED

    store = SqliteStore(f"sqlite:///{tmp_path}/f.db")
    await store.open()
    try:
        await store.write_batch(Batch(reports("plan-a", 3), [], []))
    finally:
        await store.close()
    db = sqlite3.connect(tmp_path / "f.db")
    for order in ("ASC", "DESC"):  # the collector reads from the start, its writer process from the end
        query = QUEUED.format(share="", order=order)
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + query, (200,))]
        assert plan[0].startswith("SCAN q"), plan
        assert "USING INDEX reports_key" in plan[1], plan
        assert not any("TEMP B-TREE" in step for step in plan), plan  # the key order is the index's
        keys = [row[:3] for row in db.execute(query, (200,))]
        assert keys == sorted(keys, reverse=order == "DESC")
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_folder_counts_what_it_folded_not_what_another_claimed_first(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``Folds.folded`` (the health figure, and the bench's "folded") counts the reports this
    process claimed and committed: a kept report another folder took from the table first is not
    counted twice, though ``fold_pending`` says it was taken (so a drain loop goes on)."""
    url = f"sqlite:///{tmp_path}/count.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    keeper, helper = open_store(url), open_store(url)
    await keeper.open()
    await helper.open()
    try:
        await keeper.write_batch(Batch(reports("count-a", 4), [], []))  # kept in the keeper's memory
        assert await helper.folds.fold_pending(100) == 4  # read back from the table
        assert await keeper.folds.fold_pending(100) == 4  # its kept ones: taken, none claimed
        assert (helper.folds.state.folded, keeper.folds.state.folded) == (4, 0)
        assert await folded_windows(keeper) == {"count-a": 4}  # type: ignore[arg-type]
    finally:
        await keeper.close()
        await helper.close()
