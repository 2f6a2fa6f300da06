"""SQLite's day reader for evaluation workers: raw core rollups straight from the file.

Picklable: an evaluation worker process reads its own chunks, so gigabytes of JSON text
never travel through the parent.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from typing import cast

from collector.store.profiles import DAY_TEXTS, chunks
from collector.store.sql import in_list

_local = threading.local()
#: Memory-mapped reads for evaluation readers (SQLite caps it at its compile-time maximum, 2 GB).
READER_MMAP_BYTES = 1 << 31


@dataclass(frozen=True)
class SqliteDayReader:
    """Reads raw core rollups (one read-only connection per thread), ordered by gateway and day."""

    path: str

    def __call__(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        connections: dict[str, sqlite3.Connection] = getattr(_local, "connections", {})
        _local.connections = connections
        db = connections.get(self.path)
        if db is None:
            db = connections[self.path] = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0)
            # rows straight from the mapped file instead of copied through the page cache: a
            # quarter off reading a full evaluation's gigabytes of rollups
            db.execute(f"PRAGMA mmap_size = {READER_MMAP_BYTES}")
        if only is None:
            rows = db.execute(
                DAY_TEXTS + " AND gateway_id >= ? AND gateway_id <= ? ORDER BY gateway_id, day",
                (since_day, until_day, first_id, last_id),
            ).fetchall()
        else:
            rows = [
                r
                for ids in chunks(only)
                for r in db.execute(
                    DAY_TEXTS + f" AND gateway_id IN {in_list(ids)}", (since_day, until_day, *ids)
                )
            ]
            rows.sort(key=lambda r: (r[0], r[1]))
        # the rows are already (str, int, str) tuples: no copy of ~14,000 rows
        return cast(list[tuple[str, int, str]], rows)
