from __future__ import annotations

from agent.publisher.outbox import Outbox
from agent.publisher.publisher import Publisher
from protocol.codec import decode, encode, envelope
from protocol.topics import Kind, topic_for
from tests.agent.fakes import RecordingTransport

GW = "gw-pub-1"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def setup(n: int = 5, max_inflight: int = 3) -> tuple[Outbox, RecordingTransport, Publisher, Clock]:
    box = Outbox(":memory:")
    for _ in range(n):
        box.append("report", lambda epoch, seq: encode(envelope(Kind.REPORT, GW, epoch=epoch, seq=seq)))
    transport = RecordingTransport()
    clock = Clock()
    pub = Publisher(
        GW, box, transport, max_inflight=max_inflight, resend_after_s=30, clock=clock, wall=lambda: 5000.0
    )
    pub.start()
    return box, transport, pub, clock


def reports(transport: RecordingTransport) -> list[int]:
    return [decode(p)["seq"] for t, p, _ in transport.published if t.endswith("/report")]


def ack(box: Outbox, transport: RecordingTransport, ranges: list[list[int]]) -> None:
    frame = encode(envelope(Kind.ACK, GW, epoch=box.epoch, ranges=ranges, sent_at=1))
    transport.deliver(topic_for(GW, Kind.ACK), frame)


def test_connect_announces_online_subscribes_and_sends_oldest_first_within_the_window() -> None:
    _box, transport, pub, _ = setup()
    transport.up()
    assert transport.subscriptions == [topic_for(GW, Kind.ACK)]
    status = [decode(p) for t, p, retain in transport.published if t.endswith("/status") and retain]
    assert status and status[0]["state"] == "online"
    assert reports(transport) == [1, 2, 3]
    assert pub.pump() == 0  # the in-flight window is full until acks arrive


def test_records_leave_the_outbox_only_on_the_collectors_ack() -> None:
    box, transport, _pub, _ = setup()
    transport.up()
    assert box.stats()[0] == 5
    ack(box, transport, [[1, 2]])
    assert [r.seq for r in box.pending()] == [3, 4, 5]
    assert reports(transport) == [1, 2, 3, 4, 5]
    ack(box, transport, [[3, 5]])
    assert box.stats()[0] == 0


def test_unacked_records_are_resent_after_timeout_and_after_reconnect() -> None:
    _box, transport, pub, clock = setup(n=2)
    transport.up()
    assert reports(transport) == [1, 2]
    clock.t += 10
    assert pub.pump() == 0
    clock.t += 25
    assert pub.pump() == 2
    transport.down()
    transport.up()
    assert reports(transport) == [1, 2, 1, 2, 1, 2]


def test_malformed_or_foreign_acks_delete_nothing() -> None:
    box, transport, _pub, _ = setup(n=3)
    transport.up()
    transport.deliver(topic_for(GW, Kind.ACK), b"garbage")
    transport.deliver(
        topic_for(GW, Kind.ACK), encode(envelope(Kind.ACK, "gw-other", epoch=box.epoch, ranges=[[1, 3]]))
    )
    transport.deliver(
        topic_for(GW, Kind.ACK), encode(envelope(Kind.ACK, GW, epoch=box.epoch, ranges=[["a", 3]]))
    )
    transport.deliver(
        topic_for(GW, Kind.ACK), encode(envelope(Kind.ACK, GW, epoch=box.epoch + 1, ranges=[[1, 3]]))
    )
    assert box.stats()[0] == 3


def test_held_record_waits_for_the_gateways_publish_offset() -> None:
    _box, transport, pub, _ = setup(n=2)
    pub.hold(2, until=6000.0)  # wall clock is 5000
    transport.up()
    assert reports(transport) == [1]
    pub._wall = lambda: 6000.0  # type: ignore[method-assign]
    pub.pump()
    assert reports(transport) == [1, 2]


def test_backoff_is_exponential_with_full_jitter_and_resets() -> None:
    import random

    from agent.publisher.transport import Backoff

    b = Backoff(base=1, cap=60, rng=random.Random(4))
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    delays = [b.next_delay() for _ in ceilings]
    assert all(1 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    spread = {Backoff(base=1, cap=60, rng=random.Random(s)).next_delay() for s in range(50)}
    assert spread == {1}  # the first retry is quick for everyone ...
    later = set()
    for s in range(50):
        many = Backoff(base=1, cap=60, rng=random.Random(s))
        later.add([many.next_delay() for _ in range(6)][-1])
    assert len(later) > 10  # ... later ones are spread over the whole window
    b.reset()
    assert b.next_delay() == 1


def test_an_ack_the_outbox_cannot_apply_does_not_break_the_transport_thread() -> None:
    import sqlite3

    box, transport, _pub, _ = setup(n=2)
    transport.up()

    class Broken:
        def execute(self, sql: str, *args: object) -> object:
            raise sqlite3.OperationalError("disk I/O error")

        in_transaction = False

    real = box._db
    box._db = Broken()  # type: ignore[assignment]
    ack(box, transport, [[1, 2]])  # must not raise into paho's thread
    box._db = real
    assert box.stats()[0] == 2
