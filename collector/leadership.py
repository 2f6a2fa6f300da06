"""Leadership: this collector holds a named lease while it runs, so exactly one of several
collectors sharing a store does a job that must run once (profile evaluation; later reports).

A :class:`Leadership` asks for its lease (``store/leases.py``) at a third of the lease's ttl:
the holder extends it, the others take it only once it has expired (the holder died or lost
the store) or been released (the holder stopped). :attr:`Leadership.held` is true only while
the lease is ours with a third of its ttl still ahead, so a holder that cannot reach the store
stops leading before another can take over. State changes are logged, not every renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket

from collector.store import StoreError
from collector.store.leases import Lease, Leases

log = logging.getLogger(__name__)


def process_owner() -> str:
    """An owner id unique to this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


class Leadership:
    """Keeps asking for lease ``name`` as ``owner``; :attr:`held` says whether we lead now."""

    def __init__(self, leases: Leases, name: str, owner: str, ttl_s: float = 60.0) -> None:
        self.leases = leases
        self.name = name
        self.owner = owner
        self.ttl_s = ttl_s
        self.lease: Lease | None = None
        self._leading = False
        self._failing = False

    @property
    def held(self) -> bool:
        """Ours, with at least a third of the ttl left (by the clock the store's leases use)."""
        lease = self.lease
        return lease is not None and self.leases.clock() < lease.expires_at - self.ttl_s / 3

    @property
    def term(self) -> int | None:
        """The lease's term while held (a fencing token for the work done under it)."""
        return self.lease.term if self.held and self.lease is not None else None

    async def step(self) -> bool:
        """Ask once (take, or extend our own); whether we lead now."""
        try:
            self.lease = await self.leases.acquire(self.name, self.owner, self.ttl_s)
            if self._failing:
                log.warning("lease %s: the store answers again", self.name)
            self._failing = False
        except StoreError as exc:
            if not self._failing:
                log.error(
                    "lease %s: cannot reach the store (%s); leading only until it expires", self.name, exc
                )
            self._failing = True
        self._changed()
        return self.held

    def _changed(self) -> None:
        if self.held != self._leading:
            self._leading = self.held
            if self._leading and self.lease is not None:
                log.info("lease %s: this collector leads now (term %d)", self.name, self.lease.term)
            else:
                log.info("lease %s: this collector no longer leads", self.name)

    async def run(self) -> None:
        """Ask every third of the ttl until cancelled; then give the lease up if held."""
        try:
            while True:
                await self.step()
                await asyncio.sleep(self.ttl_s / 3)
        finally:
            if self.lease is not None:
                with contextlib.suppress(StoreError):
                    await self.leases.release(self.name, self.owner)
                self.lease = None
                self._changed()
