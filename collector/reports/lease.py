"""The report schedule's lease: the store's named leases (``collector/store/leases.py``).

The schedule takes ``report:<period name>`` before producing a report, so when several
collectors run only one produces it; its save is also refused if the name was archived
meanwhile (``collector/reports/archive.py``).
"""

from __future__ import annotations

from typing import Protocol

from collector.store.leases import Leases as StoreLeaseTable
from collector.store.sql import Database


class Leases(Protocol):
    """What the schedule needs of a lease: take it, and let it go."""

    async def acquire(self, name: str, owner: str, ttl: float) -> bool: ...

    async def release(self, name: str, owner: str) -> None: ...


class StoreLeases:
    """:class:`Leases` over the store's ``leases`` concern (one holder until expiry, atomic on both backends)."""

    def __init__(self, db: Database) -> None:
        self._leases = StoreLeaseTable(db)

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        return await self._leases.acquire(name, owner, ttl) is not None

    async def release(self, name: str, owner: str) -> None:
        await self._leases.release(name, owner)
