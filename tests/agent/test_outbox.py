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
