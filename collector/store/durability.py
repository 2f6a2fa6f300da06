"""PostgreSQL's durability settings, checked when the store opens: acked must mean stored.

The collector acknowledges a batch only after its COMMIT returns, and the agents then delete
those records for good. Two server settings would make that COMMIT a promise the server may
break on a crash:

- ``fsync = off``: the server never forces its writes to disk; a crash can lose acknowledged
  commits or corrupt the cluster. A server setting no session can change: the store refuses
  to open (:class:`~collector.store.base.StoreError`, not transient).
- ``synchronous_commit = off`` (the server's, the database's or the role's default): COMMIT
  returns before its WAL is flushed, so a crash loses the last ~3 x ``wal_writer_delay`` of
  acknowledged batches. A session may set it back: the store logs an error-level warning and
  pins ``synchronous_commit = on`` for every connection of its pool. Every other value
  (``on``, ``local``, ``remote_write``, ``remote_apply``) flushes locally and is kept as is.

Failover to an asynchronous standby loses acknowledged commits whatever these say
(docs/reliability.md): use synchronous replication for a store that fails over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from collector.store.base import StoreError

log = logging.getLogger(__name__)

PIN = "-c synchronous_commit=on"


@dataclass(frozen=True, slots=True)
class Durability:
    """What the server said, and what the store did about it."""

    fsync: str
    synchronous_commit: str
    #: ``synchronous_commit`` was off by default and is now pinned on for the store's sessions.
    pinned: bool = False


def judge(fsync: str, synchronous_commit: str) -> Durability:
    """The verdict on two settings (pure): refuse ``fsync=off``, pin ``synchronous_commit=off``."""
    if fsync.lower() != "on":
        raise StoreError(
            f"PostgreSQL runs with fsync={fsync}: a server crash can lose or corrupt batches the "
            "collector has already acknowledged (the agents delete them). Set fsync = on "
            "(postgresql.conf) before using this server as the homescope store.",
            transient=False,
        )
    return Durability(fsync, synchronous_commit, pinned=synchronous_commit.lower() == "off")


async def check_and_pin(pool: AsyncConnectionPool[Any]) -> Durability:
    """Read the settings a new session of ``pool`` would get; refuse or pin (before the pool opens)."""
    given = _kwargs(pool)
    kwargs = {k: v for k, v in given.items() if k != "autocommit"}
    try:
        conn = await psycopg.AsyncConnection.connect(str(pool.conninfo), autocommit=True, **kwargs)
        async with conn:
            cursor = await conn.execute(
                "SELECT current_setting('fsync'), current_setting('synchronous_commit')"
            )
            row = await cursor.fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"postgresql: {exc}", transient=True) from exc
    assert row is not None
    verdict = judge(str(row[0]), str(row[1]))
    if verdict.pinned:
        log.error(
            "PostgreSQL: synchronous_commit is off for this database/role: a crash would lose "
            "commits the collector has already acknowledged; pinning synchronous_commit=on for "
            "the store's own connections (set it on, or leave it unset, for the database and role)"
        )
        # kwargs' options replace the URL's: keep those the URL had
        url_options = conninfo_to_dict(str(pool.conninfo)).get("options") or ""
        options = str(given.get("options", url_options))
        if PIN not in options:
            pool.kwargs = {**given, "options": f"{options} {PIN}".strip()}
    return verdict


def _kwargs(pool: AsyncConnectionPool[Any]) -> dict[str, Any]:
    # the store passes a plain dict (psycopg_pool also takes a callable, which it does not use)
    kwargs = pool.kwargs or {}
    if not isinstance(kwargs, dict):
        raise TypeError("the store's pool must take its connection kwargs as a dict")
    return kwargs
