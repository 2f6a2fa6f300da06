from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from agent.publisher.outbox import Outbox


def frame(size: int) -> object:
    return lambda epoch, seq: f"{epoch}:{seq}:".encode() + b"x" * size


def test_records_survive_reopening_and_keep_their_order(tmp_path: Path) -> None:
    path = str(tmp_path / "outbox.db")
    box = Outbox(path)
    seqs = [box.append("report", frame(100)) for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    epoch = box.epoch
    box.close()
    again = Outbox(path)
    assert again.epoch == epoch
    assert [r.seq for r in again.pending()] == seqs
    assert again.append("report", frame(10)) == 6  # the sequence continues, never reused


def test_a_new_outbox_gets_a_new_epoch(tmp_path: Path) -> None:
    epochs = {Outbox(str(tmp_path / f"{i}.db")).epoch for i in range(5)}
    assert len(epochs) == 5 and 0 not in epochs


def test_only_acknowledged_records_are_deleted(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"))
    for _ in range(10):
        box.append("report", frame(50))
    assert box.ack(box.epoch + 1, [(1, 10)]) == 0  # another epoch's ack deletes nothing
    assert box.ack(box.epoch, [(2, 4), (7, 7)]) == 4
    assert [r.seq for r in box.pending()] == [1, 5, 6, 8, 9, 10]
    records, size, _ = box.stats()
    assert records == 6 and size == sum(len(r.frame) for r in box.pending())


def test_quota_drops_oldest_reports_and_counts_a_gap(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"), quota_bytes=64 * 1024)
    for _ in range(100):
        box.append("report", frame(1000))
    records, size, dropped = box.stats()
    assert size <= 64 * 1024
    assert records + dropped == 100 and dropped > 0
    gap = box.gap()
    assert gap is not None and gap.dropped == dropped and gap.first_seq == 1 and gap.reason == "quota"
    assert gap.last_seq is not None and gap.last_seq == min(r.seq for r in box.pending()) - 1
    box.append("event", frame(10), clears_gap=True)
    assert box.gap() is None


def test_disk_error_is_counted_not_raised(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"))
    box.append("report", frame(10))

    def broken(epoch: int, seq: int) -> bytes:
        raise __import__("sqlite3").OperationalError("database or disk is full")

    assert box.append("report", broken) is None
    gap = box.gap()
    assert gap is not None and gap.dropped == 1 and gap.reason == "disk_error"
    assert [r.seq for r in box.pending()] == [1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_outbox_fails_at_start(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(sqlite3.OperationalError):
            Outbox(str(tmp_path / "o.db"))
    finally:
        tmp_path.chmod(0o700)


class FailingCommits:
    """A connection proxy whose next ``n`` COMMITs fail the way a full disk makes them fail.

    SQLite may or may not roll back by itself after SQLITE_FULL; this proxy leaves the
    transaction open, the harder case: the outbox must roll it back itself.
    """

    def __init__(self, db: sqlite3.Connection, n: int) -> None:
        self.db = db
        self.n = n

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.n > 0:
            self.n -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_a_failed_commit_is_rolled_back_and_storing_resumes(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"))
    assert box.append("report", frame(10)) == 1
    real = box._db
    box._db = FailingCommits(real, 3)  # type: ignore[assignment]
    assert [box.append("report", frame(10)) for _ in range(3)] == [None, None, None]
    assert not real.in_transaction, "a failed COMMIT left the connection inside a transaction"
    assert box.append("report", frame(10)) == 2  # no seq was consumed by the lost reports
    gap = box.gap()
    assert gap is not None and gap.dropped == 3 and gap.reason == "disk_error"
    assert box.stats()[2] == 3


def test_a_failed_event_append_is_not_counted_as_lost(tmp_path: Path) -> None:
    # the runner keeps events it could not store and tries again; only reports are lost
    box = Outbox(str(tmp_path / "o.db"))
    box._db = FailingCommits(box._db, 1)  # type: ignore[assignment]
    assert box.append("event", frame(10)) is None
    assert box.gap() is None


def test_a_failed_ack_keeps_the_records_and_does_not_raise(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"))
    for _ in range(3):
        box.append("report", frame(10))
    real = box._db
    box._db = FailingCommits(real, 1)  # type: ignore[assignment]
    assert box.ack(box.epoch, [(1, 3)]) == 0
    assert not real.in_transaction
    assert [r.seq for r in box.pending()] == [1, 2, 3]  # resent, and acked again later
    assert box.ack(box.epoch, [(1, 3)]) == 3


def test_drops_made_by_the_gap_event_itself_start_the_next_gap(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"), quota_bytes=64 * 1024)
    for _ in range(70):
        box.append("report", frame(1000))
    first = box.gap()
    assert first is not None and first.dropped > 0
    box.append("event", frame(3000), clears_gap=True)  # needs room: drops more reports
    second = box.gap()
    assert second is not None and second.dropped >= 1 and second.first_seq is not None
    assert second.first_seq > (first.last_seq or 0)


def test_an_unencodable_report_is_counted_not_raised(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"))

    def too_big(epoch: int, seq: int) -> bytes:
        raise ValueError("oversize: frame too large")

    assert box.append("report", too_big) is None
    gap = box.gap()
    assert gap is not None and gap.reason == "unencodable"


def test_crash_spec_parsing() -> None:
    from agent.publisher.crash import LABELS, parse_crash_spec

    assert parse_crash_spec("") == {}
    assert parse_crash_spec("outbox.after_commit:3, outbox.after_ack") == {
        "outbox.after_commit": 3,
        "outbox.after_ack": 1,
    }
    assert parse_crash_spec("x:0,y:z") == {"x": 1, "y": 1}
    assert len(LABELS) == len(set(LABELS)) == 5
