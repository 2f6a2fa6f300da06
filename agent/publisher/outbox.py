"""The agent's durable outbox: every record stays on flash until the collector acks it.

SQLite with ``synchronous=FULL`` and a rollback journal (no shared-memory WAL, which
OpenWrt's flash file systems handle poorly). Records are keyed by (epoch, seq); the
epoch is drawn at random when the file is created, so a recreated outbox can never
reuse a key the collector has already stored. When the byte quota is reached the
oldest records are dropped and counted in a *gap*, which the runner reports as an
event: data may be lost to a full quota, but never silently.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    frame BLOB NOT NULL,
    PRIMARY KEY (epoch, seq)
) WITHOUT ROWID;
"""


class OutboxError(RuntimeError):
    """The outbox could not store a record (disk full, I/O error)."""


@dataclass(frozen=True)
class Record:
    epoch: int
    seq: int
    kind: str
    frame: bytes


@dataclass(frozen=True)
class Gap:
    """Records lost since the last gap event: how many, and the seq range when known."""

    dropped: int
    first_seq: int | None
    last_seq: int | None
    reason: str


class Outbox:
    """A bounded, durable FIFO of framed messages, deleted only on acknowledgement."""

    def __init__(self, path: str, quota_bytes: int = 2 * 1024 * 1024) -> None:
        self.path = path
        self.quota_bytes = quota_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._memory_gap = 0  # drops that could not even be written down (disk full)
        with self._tx():
            if self._meta("epoch") is None:
                self._set_meta("epoch", secrets.randbits(31) or 1)
                self._set_meta("next_seq", 1)
                self._set_meta("bytes", 0)
                self._set_meta("dropped_total", 0)
        self.epoch = int(self._meta("epoch") or 0)

    # -- small helpers ---------------------------------------------------------------
    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def _meta(self, key: str) -> int | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _add_meta(self, key: str, delta: int) -> None:
        self._set_meta(key, (self._meta(key) or 0) + delta)

    # -- the public surface ----------------------------------------------------------
    def append(self, kind: str, make: Callable[[int, int], bytes], *, clears_gap: bool = False) -> int | None:
        """Frame a record with ``make(epoch, seq)`` and store it; return its seq.

        Returns ``None`` when the record could not be stored (disk full or I/O error):
        the loss is counted in the gap and the agent carries on.
        """
        with self._lock:
            try:
                with self._tx():
                    seq = int(self._meta("next_seq") or 1)
                    frame = make(self.epoch, seq)
                    self._make_room(len(frame))
                    self._db.execute(
                        "INSERT INTO records (epoch, seq, kind, frame) VALUES (?, ?, ?, ?)",
                        (self.epoch, seq, kind, frame),
                    )
                    self._set_meta("next_seq", seq + 1)
                    self._add_meta("bytes", len(frame))
                    if clears_gap:
                        for key in ("gap_dropped", "gap_first", "gap_last"):
                            self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                if clears_gap:
                    self._memory_gap = 0
                return seq
            except sqlite3.Error as exc:
                self._memory_gap += 1
                log.error("outbox: cannot store a %s record (%s); counted as a gap", kind, exc)
                return None

    def _make_room(self, size: int) -> None:
        used = int(self._meta("bytes") or 0)
        if used + size <= self.quota_bytes:
            return
        # Drop oldest reports first: a gap or event record is small and explains the loss.
        rows = self._db.execute(
            "SELECT seq, length(frame) FROM records ORDER BY kind = 'event', seq"
        ).fetchall()
        dropped: list[int] = []
        freed = 0
        for seq, length in rows:
            if used - freed + size <= self.quota_bytes:
                break
            dropped.append(int(seq))
            freed += int(length)
        if used - freed + size > self.quota_bytes:
            raise sqlite3.DatabaseError("record larger than the whole outbox quota")
        self._db.executemany(
            "DELETE FROM records WHERE epoch = ? AND seq = ?", [(self.epoch, s) for s in dropped]
        )
        self._add_meta("bytes", -freed)
        self._add_meta("dropped_total", len(dropped))
        self._add_meta("gap_dropped", len(dropped))
        first = self._meta("gap_first")
        self._set_meta("gap_first", min([first, *dropped]) if first is not None else min(dropped))
        self._set_meta("gap_last", max([self._meta("gap_last") or 0, *dropped]))
        log.warning(
            "outbox: quota of %d bytes reached, dropped %d oldest records", self.quota_bytes, len(dropped)
        )

    def pending(self, limit: int = 100, after: int = 0) -> list[Record]:
        """Unacknowledged records with seq > ``after``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT epoch, seq, kind, frame FROM records WHERE seq > ? ORDER BY epoch, seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Record(int(e), int(s), str(k), bytes(f)) for e, s, k, f in rows]

    def ack(self, epoch: int, ranges: Iterable[tuple[int, int]]) -> int:
        """Delete acknowledged records; return how many were removed."""
        if epoch != self.epoch:
            return 0
        removed = 0
        with self._lock, self._tx():
            for low, high in ranges:
                row = self._db.execute(
                    "SELECT count(*), coalesce(sum(length(frame)), 0) FROM records WHERE epoch = ? AND seq BETWEEN ? AND ?",
                    (epoch, low, high),
                ).fetchone()
                self._db.execute(
                    "DELETE FROM records WHERE epoch = ? AND seq BETWEEN ? AND ?", (epoch, low, high)
                )
                removed += int(row[0])
                self._add_meta("bytes", -int(row[1]))
        return removed

    def gap(self) -> Gap | None:
        """The loss not yet reported, or ``None``."""
        with self._lock:
            stored = self._meta("gap_dropped") or 0
            total = stored + self._memory_gap
            if total == 0:
                return None
            reason = "disk_error" if self._memory_gap and not stored else "quota"
            return Gap(total, self._meta("gap_first"), self._meta("gap_last"), reason)

    def stats(self) -> tuple[int, int, int]:
        """(records, bytes, dropped_total) for the agent's self-health."""
        with self._lock:
            count = self._db.execute("SELECT count(*) FROM records").fetchone()[0]
            return (
                int(count),
                int(self._meta("bytes") or 0),
                int(self._meta("dropped_total") or 0) + self._memory_gap,
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
