"""Stores chosen by URL: ``sqlite:///path`` (default) or ``postgresql://...``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from collector.store.base import (
    Batch,
    BatchResult,
    LockTurn,
    QuarantinedMessage,
    SpooledMessage,
    StatusChange,
    Store,
    StoreError,
)


def open_store(url: str) -> Store:
    """The store for ``url`` (not yet opened: ``await store.open()``)."""
    if url.startswith("sqlite:"):
        from collector.store.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql:", "postgres:")):
        from collector.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"no store for URL {url!r}: use sqlite:///path or postgresql://...", transient=False)


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[Store]:
    """The store for ``url``, opened for the block and closed after it (a command's one-shot use)."""
    store = open_store(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


__all__ = [
    "Batch",
    "BatchResult",
    "LockTurn",
    "QuarantinedMessage",
    "SpooledMessage",
    "StatusChange",
    "Store",
    "StoreError",
    "open_store",
    "opened",
]
