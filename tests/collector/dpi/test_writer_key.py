"""The store writer process folds its share of the gateways with the same privacy key: its homes'
memberships carry the same pseudonyms this process would write (one home, one row)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from collector.dpi import unclassified
from collector.ingest.writer import FOLD_SHARE, PARENT_FOLD_SHARE, WriterProcess
from collector.privacy.keys import home_pseudonym
from collector.store import Batch, open_store
from collector.store.folding import share_of
from tests.collector.dpi.fleet import KEY, WEEK, message


async def test_the_child_records_memberships_under_the_deployment_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    store = open_store(url)
    store.folds.state.share = PARENT_FOLD_SHARE
    store.folds.state.home_key = KEY
    await store.open()
    writer = WriterProcess(url, on_commit=store.fold_later, home_key=KEY)
    await writer.start()
    try:
        gateways = [f"gw-w{i}" for i in range(8)]
        child = [g for g in gateways if share_of(g, FOLD_SHARE[1]) == FOLD_SHARE[0]]
        assert child and len(child) < len(gateways)
        await writer.write_batch(Batch([message(g, 1, {"example.org": 1000}) for g in gateways], [], []))
        deadline = time.monotonic() + 30
        while writer.folded < len(child) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert writer.folded == len(child)  # this process folded nothing yet: all the child's
        rows = await store.db.fetch("SELECT home FROM dpi_unclassified WHERE week = ?", (WEEK,))
        assert sorted(r["home"] for r in rows) == sorted(home_pseudonym(KEY, g) for g in child)
        await store.fold_pending(100)  # now this process's share
        assert (await unclassified.listing(store.db, WEEK, 2))[0]["homes"] == len(gateways)
    finally:
        await writer.close()
        await store.close()
