"""The agent's durable outbox: every record stays on flash until the collector acks it.

SQLite with ``synchronous=FULL`` and a rollback journal in ``TRUNCATE`` mode (no
shared-memory WAL, which OpenWrt's flash file systems handle poorly). In the default
``DELETE`` mode the commit point is the journal's unlink, which SQLite never syncs: after a
power cut the journal can come back, roll back a transaction that had returned, and the
next record would reuse its seq for different content. In ``TRUNCATE`` mode the commit
point is the journal's truncation, followed by an fsync of the journal, so a seq that
``append`` returned is on flash (tests/agent/test_powercut.py models the power cut).
Records are keyed by (epoch, seq); the epoch is drawn at random when the file is created,
so a recreated outbox can never reuse a key the collector has already stored. A file
SQLite reports as corrupt is moved aside and a new file (a new epoch) started; the loss
is reported as a gap with reason ``outbox_corrupt`` instead of exiting (procd would
restart the agent forever, sending nothing). When the byte quota is reached the
oldest records are dropped and counted in a *gap*, which the runner reports as an
event: data may be lost to a full quota or a full disk, but never silently.

Every failure of the file (disk full, I/O error) is caught here: the agent keeps
sampling, counts the reports it could not keep, and stores again when space returns.
A seq is consumed only by a committed record, so the collector's view of one epoch
is 1..n with holes only where records were dropped and counted.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple

from agent.logger import Logger
from agent.publisher.crash import crash_point

log = Logger(__name__)

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


class Record(NamedTuple):
    """One spooled message (a NamedTuple: dataclasses would import inspect on the gateway)."""

    epoch: int
    seq: int
    kind: str
    frame: bytes


class Gap(NamedTuple):
    """Records lost since the last gap event: how many, and the seq range when known."""

    dropped: int
    first_seq: int | None
    last_seq: int | None
    reason: str


#: The pinned durability settings (tests/agent/test_powercut.py checks them on the file).
JOURNAL_MODE = "truncate"
SYNCHRONOUS = 2  # FULL: the journal and the database are synced at every commit

# secrets.randbits is this very function; secrets imports hmac and with it OpenSSL (~2 MiB on a
# 32-bit gateway whose broker is reached without TLS)
_urandom_bits = random.SystemRandom().getrandbits

_GAP_KEYS = ("gap_dropped", "gap_first", "gap_last", "corrupt_epoch", "corrupt_next_seq", "corrupt_records")
_CORRUPT_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class Outbox:
    """A bounded, durable FIFO of framed messages, deleted only on acknowledgement."""

    def __init__(self, path: str, quota_bytes: int = 2 * 1024 * 1024) -> None:
        self.path = path
        self.quota_bytes = quota_bytes
        self._lock = threading.Lock()
        lost: tuple[int, int, int] | None = None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc) or path == ":memory:":
                raise
            lost = self._move_aside(exc)
            self._db = self._open()
        # Reports that could not even be written down (disk full): counted in memory and
        # reported in the next gap event; a crash before that event loses the count only.
        self._memory_gap = 0
        self._memory_reason = ""
        self._failing = False
        self._last_stats = (0, 0, 0)
        with _Transaction(self._db):
            if self._meta("epoch") is None:
                epoch = _urandom_bits(31) or 1
                while lost is not None and epoch == lost[0]:
                    epoch = _urandom_bits(31) or 1
                self._set_meta("epoch", epoch)
                self._set_meta("next_seq", 1)
                self._set_meta("bytes", 0)
                self._set_meta("dropped_total", 0)
                if lost is not None:
                    for key, value in zip(_GAP_KEYS[3:], lost, strict=True):
                        self._set_meta(key, value)
        self.epoch = int(self._meta("epoch") or 0)
        if lost is not None:
            _sync_directory(self.path)  # the new file's name, before any seq of it is used

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        mode = db.execute(f"PRAGMA journal_mode={JOURNAL_MODE}").fetchone()[0]
        if str(mode).lower() != JOURNAL_MODE and self.path != ":memory:":
            raise sqlite3.OperationalError(f"outbox: journal_mode {mode!r} instead of {JOURNAL_MODE!r}")
        db.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        # a small page cache: the outbox is read front to back, and SQLite's default
        # (2 MiB) would grow the agent's RSS by the spool's size on a 128 MB router
        db.execute("PRAGMA cache_size=-128")
        return db

    def _open(self) -> sqlite3.Connection:
        """Connect, create the schema, and prove the file whole before trusting its next_seq."""
        db = self._connect()
        try:
            db.executescript(_SCHEMA)
            verdict = str(db.execute("PRAGMA quick_check").fetchone()[0])
            if verdict != "ok":
                raise _corrupt(verdict)
            rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('epoch', 'next_seq')"))
            if rows and not (isinstance(rows.get("epoch"), int) and isinstance(rows.get("next_seq"), int)):
                raise _corrupt(f"meta rows {sorted(rows)} lack an integer epoch or next_seq")
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, exc: sqlite3.DatabaseError) -> tuple[int, int, int]:
        """Rename the corrupt file (and its journal) aside; return what it held, where readable.

        Only the newest corrupt copy is kept (flash is small). The returned (epoch,
        next_seq, records) is 0 where the file could not tell; the collector knows the old
        epoch's last seq it stored, so the gap event names the epoch that ended.
        """
        epoch = next_seq = records = 0
        with contextlib.suppress(sqlite3.Error, ValueError, TypeError):
            old = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                with contextlib.suppress(sqlite3.Error, ValueError, TypeError):
                    meta = dict(old.execute("SELECT key, value FROM meta"))
                    epoch, next_seq = int(meta.get("epoch") or 0), int(meta.get("next_seq") or 0)
                with contextlib.suppress(sqlite3.Error, ValueError, TypeError):
                    records = int(old.execute("SELECT count(*) FROM records").fetchone()[0])
            finally:
                old.close()
        aside = f"{self.path}.corrupt"
        for suffix in ("", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path + suffix, aside + suffix)
        _sync_directory(self.path)
        log.error(
            "outbox: %s is corrupt (%s); moved it to %s and started a new epoch"
            " (old epoch %d, next seq %d, %d records lost)",
            self.path,
            exc,
            aside,
            epoch,
            next_seq,
            records,
        )
        return epoch, next_seq, records

    # -- small helpers ---------------------------------------------------------------
    def _meta(self, key: str) -> int | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _add_meta(self, key: str, delta: int) -> None:
        self._set_meta(key, (self._meta(key) or 0) + delta)

    def _heal(self) -> None:
        # A failed statement must never leave the connection inside a transaction: every
        # later BEGIN would fail and the agent would stop storing for good. If even the
        # ROLLBACK failed, reopen: SQLite rolls the hot journal back on the next open.
        if not self._db.in_transaction:
            return
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")
        if self._db.in_transaction and self.path != ":memory:":
            log.error("outbox: could not roll back; reopening %s", self.path)
            try:
                self._db.close()
                self._db = self._connect()
            except sqlite3.Error as exc:
                log.error("outbox: cannot reopen %s: %s", self.path, exc)

    def _failed(self, what: str, exc: Exception) -> None:
        if not self._failing:
            log.error("outbox: cannot %s (%s); counting lost reports until storage works again", what, exc)
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.warning(
                "outbox: storing again; %d reports lost meanwhile are counted as a gap", self._memory_gap
            )
        self._failing = False

    # -- the public surface ----------------------------------------------------------
    def append(self, kind: str, make: Callable[[int, int], bytes], *, clears_gap: bool = False) -> int | None:
        """Frame a record with ``make(epoch, seq)`` and store it; return its seq.

        Returns ``None`` when the record could not be stored (disk full, I/O error, or a
        frame that cannot be encoded). A lost *report* is counted in the gap; a caller
        appending events keeps them and tries again next time (``clears_gap`` marks the
        record that reports the current gap, which is rebuilt from the count if lost).
        """
        with self._lock:
            try:
                with _Transaction(self._db):
                    seq = int(self._meta("next_seq") or 1)
                    frame = make(self.epoch, seq)
                    if clears_gap:
                        # before _make_room: drops this very append makes start the next gap
                        for key in _GAP_KEYS:
                            self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                    self._make_room(len(frame))
                    self._db.execute(
                        "INSERT INTO records (epoch, seq, kind, frame) VALUES (?, ?, ?, ?)",
                        (self.epoch, seq, kind, frame),
                    )
                    self._set_meta("next_seq", seq + 1)
                    self._add_meta("bytes", len(frame))
                    crash_point("outbox.before_commit")
                crash_point("outbox.after_commit")
            except (sqlite3.Error, ValueError) as exc:
                self._heal()
                if kind == "report":
                    self._memory_gap += 1
                    self._memory_reason = "disk_error" if isinstance(exc, sqlite3.Error) else "unencodable"
                self._failed(f"store a {kind} record", exc)
                return None
            self._recovered()
            if clears_gap:
                self._memory_gap = 0
            return seq

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
        """Unacknowledged records with seq > ``after``, oldest first (none if unreadable)."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT epoch, seq, kind, frame FROM records WHERE seq > ? ORDER BY epoch, seq LIMIT ?",
                    (after, limit),
                ).fetchall()
            except sqlite3.Error as exc:
                self._heal()
                self._failed("read records", exc)
                return []
        return [Record(int(e), int(s), str(k), bytes(f)) for e, s, k, f in rows]

    def ack(self, epoch: int, ranges: Iterable[tuple[int, int]]) -> int:
        """Delete acknowledged records; return how many were removed.

        If the file cannot be written the records stay, are sent again and acknowledged
        again: the collector stores each key once, so a failed delete costs a resend.
        """
        if epoch != self.epoch:
            return 0
        removed = 0
        with self._lock:
            crash_point("outbox.before_ack")
            try:
                with _Transaction(self._db):
                    for low, high in ranges:
                        row = self._db.execute(
                            "SELECT count(*), coalesce(sum(length(frame)), 0) FROM records"
                            " WHERE epoch = ? AND seq BETWEEN ? AND ?",
                            (epoch, low, high),
                        ).fetchone()
                        if int(row[0]):
                            self._db.execute(
                                "DELETE FROM records WHERE epoch = ? AND seq BETWEEN ? AND ?",
                                (epoch, low, high),
                            )
                            self._add_meta("bytes", -int(row[1]))
                        removed += int(row[0])
            except sqlite3.Error as exc:
                self._heal()
                self._failed("delete acknowledged records", exc)
                return 0
            crash_point("outbox.after_ack")
        return removed

    def gap(self) -> Gap | None:
        """The loss not yet reported, or ``None``."""
        with self._lock:
            try:
                stored = self._meta("gap_dropped") or 0
                first, last = self._meta("gap_first"), self._meta("gap_last")
                corrupt = self._meta("corrupt_epoch")
                lost_records = self._meta("corrupt_records") or 0
                lost_next = self._meta("corrupt_next_seq") or 0
            except sqlite3.Error:
                self._heal()
                stored, first, last, corrupt, lost_records, lost_next = 0, None, None, None, 0, 0
            total = stored + self._memory_gap + lost_records
            if total == 0 and corrupt is None:
                return None
            reasons = [r for r, n in (("quota", stored), (self._memory_reason, self._memory_gap)) if n]
            if corrupt is not None:
                # the lost seqs belong to the old epoch, not this one: named in the reason
                reasons.append(f"outbox_corrupt epoch={corrupt} next_seq={lost_next}")
            return Gap(total, first, last, "+".join(reasons))

    def next_seq(self) -> int:
        """The seq the next record will get: records 1..next_seq-1 of this epoch were committed."""
        with self._lock:
            return int(self._meta("next_seq") or 1)

    def stats(self) -> tuple[int, int, int]:
        """(records, bytes, dropped_total) for the agent's self-health."""
        with self._lock:
            try:
                count = self._db.execute("SELECT count(*) FROM records").fetchone()[0]
                self._last_stats = (
                    int(count),
                    int(self._meta("bytes") or 0),
                    int(self._meta("dropped_total") or 0),
                )
            except sqlite3.Error:
                self._heal()
            records, size, dropped = self._last_stats
            return records, size, dropped + self._memory_gap

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorname", "") in _CORRUPT_CODES or isinstance(exc, _Corrupt)


class _Corrupt(sqlite3.DatabaseError):
    """The file opened but failed its integrity check."""


def _corrupt(detail: str) -> _Corrupt:
    return _Corrupt(f"integrity check failed: {detail[:200]}")


def _sync_directory(path: str) -> None:
    """fsync the directory holding ``path``: a rename or a new file survives a power cut only then."""
    if path == ":memory:":
        return
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error, including a failed COMMIT."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        # SQLite rolls back by itself after some errors (SQLITE_FULL, SQLITE_IOERR); a second
        # ROLLBACK would raise "no transaction is active" and hide the first error.
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.error("outbox: rollback failed: %s", exc)
