"""Named leases: at most one owner of a job at a time, across collectors sharing a store.

A lease is a row ``(name, owner, term, acquired_at, expires_at)``. Taking one is one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (the holder's own row, or an expired one), so
the database decides the race: two collectors asking at once get one winner on SQLite (one
writer) and on PostgreSQL (the conflicting insert waits for the row, then re-checks the
``WHERE``). ``term`` grows by one each time the lease changes hands (a fencing token: work
stamped with an older term was done by a holder that has since lost it).

The SQL is written once (``store/sql.py``); the planners below are pure, and :class:`Leases`
runs them on a store's ``db``. Times are the collectors' own epoch seconds: their clocks must
agree to well within a lease's ttl (NTP), and a holder renews at a third of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collector.store.sql import Database, Statement

_COLUMNS = "name, owner, term, acquired_at, expires_at"

ACQUIRE = (
    f"INSERT INTO leases ({_COLUMNS}) VALUES (?, ?, 1, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET"
    # every SET reads the row as it was: a new owner starts a new term at this moment
    " term = CASE WHEN leases.owner = excluded.owner THEN leases.term ELSE leases.term + 1 END,"
    " acquired_at = CASE WHEN leases.owner = excluded.owner THEN leases.acquired_at ELSE excluded.acquired_at END,"
    " owner = excluded.owner, expires_at = excluded.expires_at"
    " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?"
    f" RETURNING {_COLUMNS}"
)
RENEW = (
    f"UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ? RETURNING {_COLUMNS}"
)
#: Released, not deleted: the row keeps its term, so the next holder's is still larger.
RELEASE = "UPDATE leases SET owner = '', expires_at = ? WHERE name = ? AND owner = ?"
HOLDER = f"SELECT {_COLUMNS} FROM leases WHERE name = ? AND expires_at > ?"


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as the store holds it."""

    name: str
    owner: str
    term: int
    acquired_at: float
    expires_at: float

    @classmethod
    def of(cls, row: dict[str, Any]) -> Lease:
        return cls(str(row["name"]), str(row["owner"]), int(row["term"]), float(row["acquired_at"]),
                   float(row["expires_at"]))  # fmt: skip


def _check(name: str, owner: str, ttl_s: float = 1.0) -> None:
    if not name or not owner:
        raise ValueError("a lease needs a name and a non-empty owner")
    if ttl_s <= 0:
        raise ValueError(f"a lease's ttl must be positive, not {ttl_s}")


def plan_acquire(name: str, owner: str, now: float, ttl_s: float) -> Statement:
    """Take ``name`` for ``owner`` until ``now + ttl_s`` if it is free, expired or already its own."""
    _check(name, owner, ttl_s)
    return Statement(ACQUIRE, (name, owner, now, now + ttl_s, now))


def plan_renew(name: str, owner: str, now: float, ttl_s: float) -> Statement:
    """Extend ``owner``'s lease to ``now + ttl_s``, only while it still holds it (not expired)."""
    _check(name, owner, ttl_s)
    return Statement(RENEW, (now + ttl_s, name, owner, now))


def plan_release(name: str, owner: str, now: float) -> Statement:
    """Give ``name`` up at ``now`` if ``owner`` holds it (so another need not wait for the expiry)."""
    _check(name, owner)
    return Statement(RELEASE, (now, name, owner))


class Leases:
    """The leases concern over a store's :class:`~collector.store.sql.Database` (``store.db``)."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def acquire(self, name: str, owner: str, ttl_s: float) -> Lease | None:
        """The lease if ``owner`` holds it now (taken or extended), else ``None``."""
        outcome = await self.db.execute(plan_acquire(name, owner, self.clock(), ttl_s))
        return Lease.of(outcome.rows[0]) if outcome.rows else None

    async def renew(self, name: str, owner: str, ttl_s: float) -> Lease | None:
        """The extended lease, or ``None`` if ``owner`` no longer holds it (expired or taken)."""
        outcome = await self.db.execute(plan_renew(name, owner, self.clock(), ttl_s))
        return Lease.of(outcome.rows[0]) if outcome.rows else None

    async def release(self, name: str, owner: str) -> bool:
        """Whether ``owner`` held ``name`` and gave it up."""
        return (await self.db.execute(plan_release(name, owner, self.clock()))).rowcount == 1

    async def holder(self, name: str) -> Lease | None:
        """Who holds ``name`` now, if anyone."""
        row = await self.db.fetch_one(HOLDER, (name, self.clock()))
        return Lease.of(row) if row else None
