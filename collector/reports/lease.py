"""Named leases in the store: one owner at a time until it expires (atomic on both backends).

The report schedule takes ``report:<period name>`` before producing a report, so when several
collectors run only one produces it. The claim is one upsert that only overwrites an expired
lease or the owner's own, with ``expect=1``: a held lease makes it a :class:`Conflict`.
"""

from __future__ import annotations

import time
from typing import Protocol

from collector.store.sql import Conflict, Database, Statement


class Leases(Protocol):
    """What the schedule needs of a lease: take it (or renew one's own), and let it go."""

    async def acquire(self, name: str, owner: str, ttl: float) -> bool: ...

    async def release(self, name: str, owner: str) -> None: ...


def claim(name: str, owner: str, ttl: float, now: float) -> Statement:
    """The statement that takes ``name`` for ``owner`` unless another holds it unexpired."""
    return Statement(
        "INSERT INTO report_leases (name, owner, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at"
        " WHERE report_leases.expires_at < ? OR report_leases.owner = excluded.owner",
        (name, owner, now + ttl, now),
        expect=1,
    )


class StoreLeases:
    """:class:`Leases` in the ``report_leases`` table of a store's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        try:
            await self.db.execute(claim(name, owner, ttl, time.time()))
        except Conflict:
            return False
        return True

    async def release(self, name: str, owner: str) -> None:
        await self.db.execute(
            Statement("DELETE FROM report_leases WHERE name = ? AND owner = ?", (name, owner))
        )
