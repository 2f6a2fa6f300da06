"""A reused key and a shared gateway id are flagged for an operator, through a real SQLite store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from collector.ingest import Incoming, Ingest
from collector.ingest.keywatch import GATEWAY_ID_SHARED, KEY_REUSE, KeyWatch
from collector.settings import Settings
from collector.store import SpooledMessage, open_store
from protocol.codec import decode, encode
from protocol.topics import topic_for
from tests.protocol.messages import report

T = topic_for("gw-k", "report")


class Recorder:
    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self.acks.append(decode(payload))

    def ack(self, mid: int, qos: int, connection: int) -> None:
        pass


async def ingest_with_store(tmp_path: Path) -> tuple[Ingest, Any, Recorder]:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    await store.open()
    ingest = Ingest(Settings(mqtt="mqtt://127.0.0.1:1", max_clock_skew_s=10**9), store)
    rec = Recorder()
    ingest._client = rec  # type: ignore[assignment]
    return ingest, store, rec


def item(payload: bytes, mid: int) -> Incoming:
    return Incoming(T, payload, mid, 1, time.time())


async def test_a_key_reused_for_other_content_is_quarantined_and_acked_not_taken_for_a_duplicate(
    tmp_path: Path,
) -> None:
    ingest, store, rec = await ingest_with_store(tmp_path)
    try:
        first = encode(report("gw-k", seq=3, epoch=5, window_end=1_700_000_100))
        # after a power cut the agent's outbox rolled back and framed another window as seq 3
        reused = encode(report("gw-k", seq=3, epoch=5, window_end=1_700_001_000))
        await ingest.handle([item(first, 1)])
        await ingest.handle([item(first, 2)])  # a true resend: byte-identical, a duplicate
        assert ingest.stats.duplicates == 1 and ingest.stats.by_reason.get(KEY_REUSE) is None
        await ingest.handle([item(reused, 3)])
        await ingest.handle([item(reused, 4)])  # the agent resends it until acked: one row
        rows = [q for q in await store.quarantine() if q["reason"] == KEY_REUSE]
        assert len(rows) == 1 and "seq 3" in rows[0]["detail"]
        assert ingest.stats.by_reason[KEY_REUSE] == 1
        assert ingest.stats.duplicates == 1, "the reused key was counted as a duplicate"
        assert rec.acks[-1]["epoch"] == 5 and rec.acks[-1]["ranges"] == [[3, 3]]  # acked: resends stop
        assert (await store.counts())["reports"] == 1
    finally:
        await store.close()


async def test_two_live_agents_sharing_a_gateway_id_are_flagged_once(tmp_path: Path) -> None:
    ingest, store, _ = await ingest_with_store(tmp_path)
    try:
        batches = []
        for n in range(3):  # both agents report every clock-aligned window, each in its own epoch
            end = 1_700_000_100 + 900 * n
            batches.append(
                [item(encode(report("gw-k", seq=n + 1, epoch=epoch, window_end=end)), n) for epoch in (5, 6)]
            )
        for batch in batches:
            await ingest.handle(batch)
        rows = [q for q in await store.quarantine() if q["reason"] == GATEWAY_ID_SHARED]
        assert len(rows) == 1 and "epochs 5 and 6" in rows[0]["detail"]
        assert (await store.counts())["reports"] == 6  # flagged next to the data, not instead of it
    finally:
        await store.close()


def spooled(epoch: int, seq: int, window_end: int) -> SpooledMessage:
    return SpooledMessage(
        "gw-k", epoch, seq, "report", window_end - 900, window_end, 1, 1, 0.0, None, b"%d" % seq
    )


def test_an_agent_that_starts_a_new_epoch_and_drains_its_old_backlog_is_not_flagged() -> None:
    watch = KeyWatch()
    old = [spooled(5, seq, 1_700_000_100 + 900 * seq) for seq in range(1, 5)]
    new = [spooled(6, seq, 1_700_000_100 + 900 * (4 + seq)) for seq in range(1, 5)]
    # the new epoch's reports arrive interleaved with the old epoch's backlog
    _, flags, _ = watch.check([m for pair in zip(new, old, strict=True) for m in pair])
    assert flags == []


def test_the_memory_is_bounded() -> None:
    watch = KeyWatch(keys_max=10, gateways_max=3)
    watch.check([spooled(1, seq, 1_700_000_100 + 900 * seq) for seq in range(100)])
    assert len(watch._digests) == 10 and len(watch._windows) == 1
