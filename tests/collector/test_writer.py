"""The store writer process: batches committed by a child process, nothing lost when it dies."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import time
from pathlib import Path

import pytest

from collector.ingest.writer import (
    FOLD_QUIET_S,
    PARENT_FOLD_SHARE,
    WriterProcess,
    _message,
    _rows,
    local_store,
)
from collector.privacy.scrub import Scrubber
from collector.service import Service
from collector.settings import Settings
from collector.store import Batch, LockTurn, StoreError, open_store
from collector.store.base import insights
from collector.store.frames import frame_of
from collector.store.plan import READS_PACKED, plan_batch
from collector.store.plan_input import plan_body
from emulator.fleet import Fleet
from protocol.codec import decode_stored, decode_unframed
from tests.broker import Broker
from tests.collector.store.test_folding import folded_windows, reports


async def test_a_child_process_commits_batches_the_parent_store_reads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    store = open_store(url)
    store.folds.state.share = PARENT_FOLD_SHARE  # as the Service sets it
    await store.open()
    writer = WriterProcess(url, on_commit=store.fold_later)
    await writer.start()
    try:
        assert writer.pid is not None and writer.pid != os.getpid()
        batch = reports("gw-child", 6)
        first = await writer.write_batch(Batch(batch, [], []))
        again = await writer.write_batch(Batch(batch[3:], [], []))
        assert len(first.inserted) == 6 and not first.duplicates
        assert not again.inserted and len(again.duplicates) == 3
        # rows, facts and the latest state were written by the child, from the frames alone
        gateway = await store.gateway("gw-child")
        assert gateway is not None and gateway["reports"] == 6 and gateway["latest"]["system"]
        assert len(await store.history("gw-child")) == 6
        # the child folds its share of the gateways while idle, this process the other share
        more = [
            r for gid in ("gw-child-a", "gw-child-b", "gw-child-c", "gw-child-d") for r in reports(gid, 3)
        ]
        await writer.write_batch(Batch(more, [], []))
        ours = await insights(store).fold_pending(100)  # what this process kept (its share)
        await asyncio.sleep(3 * FOLD_QUIET_S)  # no batch comes: the child folds its share
        deadline = time.monotonic() + 30
        while await insights(store).pending_folds() and time.monotonic() < deadline:
            ours += await insights(store).fold_pending(100)
            await asyncio.sleep(0.05)
        assert await folded_windows(store) == {  # type: ignore[arg-type]
            "gw-child": 6, "gw-child-a": 3, "gw-child-b": 3, "gw-child-c": 3, "gw-child-d": 3,
        }  # fmt: skip
        assert writer.folded > 0 and ours > 0 and writer.folded + ours == 18
    finally:
        await writer.close()
        await store.close()
    assert writer.pid is None


async def test_a_dead_child_fails_one_call_as_transient_and_the_next_starts_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    writer = WriterProcess(url)
    await writer.start()
    try:
        await writer.write_batch(Batch(reports("gw-dead", 2), [], []))
        first_pid = writer.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        with pytest.raises(StoreError) as failed:
            await writer.write_batch(Batch(reports("gw-dead", 4), [], []))
        assert failed.value.transient and "exited" in str(failed.value)
        # the retry (what Ingest does) reaches a new child; what was stored before is a duplicate
        result = await writer.write_batch(Batch(reports("gw-dead", 4), [], []))
        assert writer.pid not in (None, first_pid)
        assert len(result.duplicates) == 2 and len(result.inserted) == 2
    finally:
        await writer.close()


async def test_batches_handed_over_together_commit_in_order_and_fail_together(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    writer = WriterProcess(url)
    await writer.start()
    try:
        batch = reports("gw-pipe", 8)
        # the second is sent while the first commits; the child takes them in order, so the
        # second (half of it the first's) finds those as duplicates, never the other way round
        first, second = await asyncio.gather(
            writer.write_batch(Batch(batch[:6], [], [])), writer.write_batch(Batch(batch[2:], [], []))
        )
        assert len(first.inserted) == 6 and not first.duplicates
        assert len(second.inserted) == 2 and len(second.duplicates) == 4
        # a child killed with two batches handed over: both fail as transient, neither hangs
        os.kill(writer.pid or 0, signal.SIGSTOP)
        calls = [
            asyncio.create_task(writer.write_batch(Batch(reports("gw-pipe2", n), [], []))) for n in (3, 5)
        ]
        await asyncio.sleep(0.5)
        assert not any(c.done() for c in calls)
        os.kill(writer.pid or 0, signal.SIGKILL)
        for call in calls:
            with pytest.raises(StoreError) as failed:
                await asyncio.wait_for(call, 30)
            assert failed.value.transient
        again = await writer.write_batch(Batch(reports("gw-pipe2", 5), [], []))
        assert len(again.inserted) == 5  # neither was committed
    finally:
        await writer.close()


async def test_postgresql_batches_commit_two_at_once_yet_each_gateway_in_order(postgres_url: str) -> None:
    store = open_store(postgres_url)
    await store.open()
    writer = WriterProcess(postgres_url)
    await writer.start()
    try:
        homes = [reports(f"gw-two-{i}", 6) for i in range(8)]
        await writer.write_batch(Batch([home[0] for home in homes], [], []))  # the gateway rows exist
        filler = [m for j in range(400) for m in reports(f"gw-fill-{j}", 1)]  # keeps the first one busy
        other = [m for j in range(50) for m in reports(f"gw-other-{j}", 1)]
        first = [m for home in homes for m in home[1:3]] + filler
        second = [m for home in homes for m in home[3:]]  # the same gateways, later windows: waits
        resent = [home[2] for home in homes]  # keys of the first batch: waits, finds them stored
        a, b, c, d = await asyncio.gather(
            writer.write_batch(Batch(first, [], [])),
            writer.write_batch(Batch(other, [], [])),  # other gateways: commits beside the first
            writer.write_batch(Batch(second, [], [])),
            writer.write_batch(Batch(resent, [], [])),
        )
        assert (len(a.inserted), len(b.inserted), len(c.inserted)) == (416, 50, 24)
        assert (len(d.inserted), len(d.duplicates)) == (0, 8)
        for i in range(8):
            history = await store.history(f"gw-two-{i}")
            # the second batch's deltas start from the first batch's counters: it read them after
            # that commit, so they are what one batch of all six gives
            alone = [row[5] for row in plan_batch(homes[i], {}).facts]
            assert [h["wan_rx_bytes"] for h in history] == alone and None not in alone[1:]
            gateway = await store.gateway(f"gw-two-{i}")
            assert gateway is not None and (gateway["reports"], gateway["last_window_end"]) == (
                6,
                history[-1]["window_end"],
            )
    finally:
        await writer.close()
        await store.close()


async def test_a_batch_takes_its_gateway_locks_after_the_batch_handed_over_before_it(
    postgres_url: str,
) -> None:
    """Two batches of the same gateways at once: the later one's raw insert goes ahead, its plan
    waits for its turn, so its deltas start from the earlier one's counters even when its
    transaction begins first."""
    store = open_store(postgres_url)
    await store.open()
    try:
        homes = [reports(f"gw-turn-{i}", 4) for i in range(5)]
        first_turn = LockTurn()
        second_turn = LockTurn(first_turn)
        later = asyncio.create_task(
            store.write_batch(Batch([m for h in homes for m in h[2:]], turn=second_turn))
        )
        await asyncio.sleep(0.3)  # it has begun, and waits for its turn
        assert not later.done()
        first = await store.write_batch(Batch([m for h in homes for m in h[:2]], turn=first_turn))
        second = await asyncio.wait_for(later, 30)
        assert (len(first.inserted), len(second.inserted)) == (10, 10)
        for i, home in enumerate(homes):
            history = await store.history(f"gw-turn-{i}")
            alone = [row[5] for row in plan_batch(home, {}).facts]  # all four in one batch
            assert [h["wan_rx_bytes"] for h in history] == alone and None not in alone[1:]
        # a batch that fails passes its turn on: the next one does not wait forever
        failing, after = LockTurn(), None
        after = LockTurn(failing)
        failing.taken()
        await asyncio.wait_for(after.wait(), 1)
    finally:
        await store.close()


async def test_a_store_the_child_cannot_open_is_an_error_at_start(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    writer = WriterProcess(f"sqlite:///{tmp_path / 'dir.db'}")
    with pytest.raises(StoreError) as failed:
        await writer.start()
    assert "cannot open" in str(failed.value)
    await writer.close()


def test_which_stores_get_a_writer_process(tmp_path: Path) -> None:
    assert local_store("sqlite:///:memory:")
    assert not local_store(f"sqlite:///{tmp_path}/x.db")
    assert not local_store("postgresql://postgres@127.0.0.1/x")
    base = {"mqtt": "mqtt://127.0.0.1:1", "users": "op:pw-long-enough-4-tests"}
    assert Service(Settings(db=f"sqlite:///{tmp_path}/a.db", **base)).writer is not None
    assert Service(Settings(db="sqlite:///:memory:", **base)).writer is None
    assert Service(Settings(db=f"sqlite:///{tmp_path}/b.db", store_writer="thread", **base)).writer is None


@pytest.mark.timeout(120)
async def test_killing_the_writer_mid_stream_loses_and_duplicates_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    service = Service(
        Settings(
            db=url,
            mqtt=broker.url,
            http="127.0.0.1:0",
            users="op:pw-long-enough-4-tests",
            mqtt_client_id=f"kw-{tmp_path.name}",
            batch_max=10,
            batch_wait_ms=20,
        )
    )
    await service.start()
    fleet = Fleet(10, broker.url, prefix="kw")
    killed = 0
    try:
        fleet.start()
        assert await asyncio.to_thread(fleet.wait_connected, 15)
        published: set[tuple[str, int, int]] = set()
        for window in range(12):
            spooled = await asyncio.to_thread(fleet.report_all, 1_700_000_000 + 900 * (window + 1), 900)
            published |= fleet.keys(spooled)
            if window in (3, 7):  # while batches are in flight
                assert service.writer is not None
                deadline = time.monotonic() + 10
                while service.writer.pid is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # the retry has not started the next child yet
                assert service.writer.pid is not None
                os.kill(service.writer.pid, signal.SIGKILL)
                killed += 1
        # every report is acknowledged in the end: the gateways' outboxes drain
        assert await asyncio.to_thread(fleet.drain, 60.0) == 0
        deadline = time.monotonic() + 30
        while await insights(service.store).pending_folds() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        fleet.stop()
        await service.stop()
    assert killed == 2 and service.ingest.stats.retries >= 1
    store = open_store(url)
    await store.open()
    try:
        keys = await store.stored_keys("report")
        assert len(keys) == len(set(keys)) == 120 and set(keys) == published
        ours = [g for g in await store.list_gateways() if g["gateway_id"].startswith("kw-")]
        assert len(ours) == 10 and all(g["reports"] == 12 for g in ours)
        assert await insights(store).pending_folds() == 0
        windows: dict[str, int] = {}
        for gid, _, data in await insights(store).home_days(0):
            windows[gid] = windows.get(gid, 0) + data["v"][0]  # v[0]: windows folded
        assert windows == {g["gateway_id"]: 12 for g in ours}  # each report folded exactly once
    finally:
        await store.close()


async def test_a_hung_child_is_killed_after_the_reply_timeout_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("collector.ingest.writer.REPLY_TIMEOUT_S", 1.0)
    writer = WriterProcess(f"sqlite:///{tmp_path / 'h.db'}")
    await writer.start()
    try:
        hung = writer.pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)  # alive, holding its pipe, answering nothing
        with pytest.raises(StoreError) as failed:
            await writer.write_batch(Batch(reports("gw-hung", 2), [], []))
        assert failed.value.transient and "no reply" in str(failed.value)
        result = await writer.write_batch(Batch(reports("gw-hung", 2), [], []))
        assert len(result.inserted) == 2 and writer.pid not in (None, hung)
        with pytest.raises(ProcessLookupError):
            os.kill(hung, 0)  # killed and reaped, not left behind
    finally:
        await writer.close()


def test_a_report_crosses_the_pipe_as_the_plan_and_the_store_need_it() -> None:
    sent = reports("gw-wire", 2)
    got = [_message(r) for r in pickle.loads(pickle.dumps(_rows(sent)))]
    for m, back in zip(sent, got, strict=True):
        assert back.row() == m.row() and back.packed == m.packed
        # the compiled plan reads packed itself; without it the plan's input is decoded in advance
        assert back.planned == (None if READS_PACKED else plan_body(m.packed)) and back.decoded is None


def test_the_receiving_process_hands_over_msgpack_and_the_writer_makes_the_stored_frame() -> None:
    # the deflate is the writer's: a scrubbed report crosses the pipe without a frame, and the
    # child's copy stores the frame the scrubbed msgpack makes, readable as the scrubbed body
    scrubbed = [Scrubber(b"k" * 32).message(m) for m in reports("gw-frame", 2)]
    rows = _rows(scrubbed)
    assert all(r[-2] is None for r in rows)  # not framed in this process
    for m, back in zip(scrubbed, [_message(r) for r in pickle.loads(pickle.dumps(rows))], strict=True):
        assert back.frame == frame_of(m.packed) and back.row() == m.row()
        assert decode_stored(back.payload) == decode_unframed(m.packed)
        assert back.payload != reports("gw-frame", 2)[0].payload  # the rewritten frame, not the one received
