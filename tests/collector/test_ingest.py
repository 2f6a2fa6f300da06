from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from collector.ingest import Incoming, Ingest, ack_ranges, classify, triage
from collector.settings import Settings
from collector.store import Batch, BatchResult, QuarantinedMessage, SpooledMessage, StatusChange, StoreError
from protocol.codec import decode, encode
from protocol.topics import topic_for
from tests.protocol.messages import event, report, status


def incoming(topic: str, payload: bytes) -> Incoming:
    return Incoming(topic, payload, 1, 1, time.time())


def test_ack_ranges_compress_sequences() -> None:
    assert ack_ranges([5, 1, 2, 3, 9, 10, 3]) == [[1, 3], [5, 5], [9, 10]]
    assert ack_ranges([]) == []


def test_valid_report_and_status_are_classified() -> None:
    out = classify(incoming(topic_for("gw-i", "report"), encode(report("gw-i", seq=4))))
    assert isinstance(out, SpooledMessage) and (out.gateway_id, out.seq, out.kind) == ("gw-i", 4, "report")
    st = classify(incoming(topic_for("gw-i", "status"), encode(status("gw-i", "offline"))))
    assert isinstance(st, StatusChange) and st.state == "offline"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("homescope/v1/gw-i/report", encode(report("gw-other")), "identity_mismatch"),
        ("homescope/v1/gw-i/report", b"hs\x00\x81", "truncated"),
        ("homescope/v1/gw-i/report", encode({**report("gw-i"), "seq": -3}), "invalid"),
        ("homescope/v1/gw-i/report", encode({**report("gw-i"), "v": "9.0"}), "unknown_major"),
        ("homescope/v1/gw-i/event", encode(report("gw-i")), "kind_mismatch"),
        ("homescope/v9/gw-i/report", encode(report("gw-i")), "bad_topic"),
    ],
)
def test_bad_messages_are_quarantined_with_their_reason(topic: str, payload: bytes, reason: str) -> None:
    out = classify(incoming(topic, payload))
    assert isinstance(out, QuarantinedMessage)
    assert out.reason == reason and out.payload == payload and out.detail


# -- what may be acknowledged ---------------------------------------------------------------


def test_a_valid_record_is_acked_by_its_key() -> None:
    t = triage(incoming(topic_for("gw-i", "report"), encode(report("gw-i", seq=4, epoch=9))))
    assert t.ack == ("gw-i", 9, 4) and t.sent_at == 1_700_000_103


def test_an_invalid_record_of_the_topics_own_gateway_is_quarantined_and_acked() -> None:
    # the agent would otherwise resend it until its quota drops it
    payload = encode(report("gw-i", seq=5, epoch=9, system={"cpu_usage_pct": 900}))
    t = triage(incoming(topic_for("gw-i", "report"), payload))
    assert isinstance(t.out, QuarantinedMessage) and t.out.reason == "invalid"
    assert t.ack == ("gw-i", 9, 5)


@pytest.mark.parametrize(
    "payload",
    [
        encode(report("gw-other", seq=5)),  # names another gateway: never acked on its behalf
        encode({**report("gw-i", seq=5), "v": "2.0"}),  # a newer agent: keep it for a newer collector
        encode({**report("gw-i"), "seq": -3}),  # no readable key
        b"hs\x00\x81",
    ],
)
def test_records_without_an_own_readable_key_are_never_acked(payload: bytes) -> None:
    t = triage(incoming(topic_for("gw-i", "report"), payload))
    assert isinstance(t.out, QuarantinedMessage) and t.ack is None


def test_an_oversize_payload_cut_on_receipt_is_quarantined_as_oversize() -> None:
    item = Incoming(topic_for("gw-i", "report"), b"hs\x00" + b"x" * 100, 1, 1, time.time(), size=10_000_000)
    out = classify(item)
    assert isinstance(out, QuarantinedMessage) and out.reason == "oversize" and "10000000" in out.detail


# -- the batch loop, with a fake store and a recording MQTT client -----------------------------


class FakeStore:
    """Fails as told, then stores; remembers keys like the real stores do."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, int, int]] = set()
        self.quarantined: list[QuarantinedMessage] = []
        self.transient_failures = 0
        self.reject: set[int] = set()  # seqs refused for good
        self.calls = 0

    async def write_batch(self, batch: Batch) -> BatchResult:
        messages, quarantined = batch.messages, batch.quarantined
        self.calls += 1
        if self.transient_failures:
            self.transient_failures -= 1
            raise StoreError("sqlite: database is locked", transient=True)
        if any(m.seq in self.reject for m in messages):
            raise StoreError("constraint failed", transient=False)
        result = BatchResult()
        for m in messages:
            key = (m.gateway_id, m.epoch, m.seq)
            (result.duplicates if key in self.keys else result.inserted).append(key)
            self.keys.add(key)
        self.quarantined += quarantined
        result.quarantined = len(quarantined)
        return result


class Recorder:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.pubacks: list[int] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self.published.append((topic, decode(payload)))

    def ack(self, mid: int, qos: int, connection: int) -> None:
        self.pubacks.append(mid)


def make_ingest(store: FakeStore) -> tuple[Ingest, Recorder]:
    ingest = Ingest(Settings(mqtt="mqtt://127.0.0.1:1", max_clock_skew_s=300), store)  # type: ignore[arg-type]
    rec = Recorder()
    ingest._client = rec  # type: ignore[assignment]
    return ingest, rec


def item(
    topic: str, payload: bytes, mid: int, *, at: float | None = None, retained: bool = False
) -> Incoming:
    return Incoming(topic, payload, mid, 1, time.time() if at is None else at, retained=retained)


def acks(rec: Recorder) -> dict[str, list[list[int]]]:
    return {t.split("/")[2]: m["ranges"] for t, m in rec.published}


async def test_new_duplicate_and_own_invalid_records_are_acked_after_commit_then_pubacked() -> None:
    store = FakeStore()
    ingest, rec = make_ingest(store)
    t = topic_for("gw-b", "report")
    batch = [
        item(t, encode(report("gw-b", seq=1)), 11),
        item(t, encode(report("gw-b", seq=1)), 12),  # a resend in the same batch
        item(t, encode(report("gw-b", seq=2, system={"cpu_usage_pct": float("nan")})), 13),
        item(t, encode(report("gw-x", seq=3)), 14),  # names another gateway
    ]
    await ingest.handle(batch)
    assert acks(rec) == {"gw-b": [[1, 2]]}  # never an ack for gw-x
    assert rec.pubacks == [11, 12, 13, 14]
    assert ingest.stats.stored == 1 and ingest.stats.duplicates == 1 and ingest.stats.quarantined_acked == 1
    # the same invalid record again: acked again, but one quarantine row is enough
    await ingest.handle([item(t, encode(report("gw-b", seq=2, system={"cpu_usage_pct": float("nan")})), 15)])
    assert len(store.quarantined) == 2 and ingest.stats.quarantined_acked == 2


async def test_a_transient_store_failure_holds_every_ack_until_the_commit() -> None:
    store = FakeStore()
    store.transient_failures = 2
    ingest, rec = make_ingest(store)
    task = asyncio.create_task(ingest.handle([item(topic_for("gw-t", "report"), encode(report("gw-t")), 1)]))
    await asyncio.sleep(0.1)
    assert not rec.published and not rec.pubacks and ingest.stats.last_error  # degraded, nothing acked
    await task
    assert acks(rec) == {"gw-t": [[1, 1]]} and rec.pubacks == [1]
    assert ingest.stats.retries == 2 and not ingest.stats.last_error


async def test_a_record_the_store_refuses_for_good_is_quarantined_and_the_rest_stored() -> None:
    store = FakeStore()
    store.reject = {2}
    ingest, rec = make_ingest(store)
    t = topic_for("gw-r", "report")
    await ingest.handle([item(t, encode(report("gw-r", seq=s)), s) for s in (1, 2, 3)])
    assert store.keys == {("gw-r", 7, 1), ("gw-r", 7, 3)}
    assert [q.reason for q in store.quarantined] == ["store_rejected"]
    assert acks(rec) == {"gw-r": [[1, 3]]}


async def test_a_store_that_refuses_every_record_is_waited_for_not_quarantined_into() -> None:
    store = FakeStore()
    store.reject = {1, 2}
    ingest, rec = make_ingest(store)
    t = topic_for("gw-w", "report")
    task = asyncio.create_task(ingest.handle([item(t, encode(report("gw-w", seq=s)), s) for s in (1, 2)]))
    await asyncio.sleep(0.3)
    assert not store.quarantined and not rec.published and ingest.stats.last_error
    store.reject = set()  # the store recovers
    await asyncio.wait_for(task, 5)
    assert store.keys == {("gw-w", 7, 1), ("gw-w", 7, 2)} and not store.quarantined


async def test_clock_skew_is_flagged_from_statuses_future_records_and_clock_jumps() -> None:
    store = FakeStore()
    ingest, _ = make_ingest(store)
    now = 1_700_000_000.0
    late = encode(report("gw-late", seq=1, window_end=int(now) - 7 * 86_400))  # a week-old backlog: fine
    ahead = encode(report("gw-ahead", seq=1, window_end=int(now) + 86_400))
    behind_status = encode({**status("gw-behind"), "sent_at": int(now) - 30 * 86_400})
    retained = encode({**status("gw-old"), "sent_at": int(now) - 30 * 86_400})
    will = encode({**status("gw-will", "offline"), "sent_at": 0})
    jump = encode(
        {**event("gw-jump", seq=4), "body": {"events": [{"type": "clock_jump", "ts": 1, "delta_s": -7200}]}}
    )
    batch = [
        item(topic_for("gw-late", "report"), late, 1, at=now),
        item(topic_for("gw-ahead", "report"), ahead, 2, at=now),
        item(topic_for("gw-behind", "status"), behind_status, 3, at=now),
        item(topic_for("gw-old", "status"), retained, 4, at=now, retained=True),
        item(topic_for("gw-will", "status"), will, 5, at=now),
        item(topic_for("gw-jump", "event"), jump, 6, at=now),
        item(topic_for("gw-jump", "event"), jump, 7, at=now),  # a resend must not count twice
    ]
    await ingest.handle(batch)
    health = ingest.health()
    assert set(health["clock_skew_s"]) == {"gw-ahead", "gw-behind", "gw-jump"}
    assert health["clock_skew_s"]["gw-jump"] == -7200 and health["clock_jumps"] == 1
    # a fresh status with the right time clears the flag
    fixed = encode({**status("gw-behind"), "sent_at": int(now)})
    await ingest.handle([item(topic_for("gw-behind", "status"), fixed, 8, at=now)])
    assert "gw-behind" not in ingest.health()["clock_skew_s"]


async def test_an_idle_writer_gets_a_quarter_batch_and_a_busy_one_full_batches() -> None:
    class SlowStore(FakeStore):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        async def write_batch(self, batch: Batch) -> BatchResult:
            self.sizes.append(len(batch.messages))
            await asyncio.sleep(0.05)  # busy while the next batch arrives
            return await super().write_batch(batch)

    store = SlowStore()
    settings = Settings(mqtt="mqtt://127.0.0.1:1", max_clock_skew_s=300, batch_max=40, batch_wait_ms=20)
    ingest = Ingest(settings, store)  # type: ignore[arg-type]
    rec = Recorder()
    ingest._client = rec  # type: ignore[assignment]
    for seq in range(1, 101):
        ingest._on_message(topic_for("gw-b", "report"), encode(report("gw-b", seq=seq)), seq, 1, False, 0)
    loop = asyncio.create_task(ingest._batches())
    try:
        for _ in range(200):
            if len(store.keys) == 100:
                break
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    # the first starts the writer early; the others fill while it works
    assert store.sizes == [10, 40, 40, 10]
    assert sorted(rec.pubacks) == list(range(1, 101))
