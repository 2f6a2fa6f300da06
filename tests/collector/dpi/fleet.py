"""Reports naming unclassified domains, for the view's tests (both stores)."""

from __future__ import annotations

import time
from typing import Any

from agent.runner import report_frame
from collector.ingest import Incoming, classify
from collector.profiles import layout
from collector.store import Batch, SpooledMessage, Store
from collector.store.base import drain_folds, insights
from protocol.topics import topic_for

#: Monday 2026-11-30 00:00 UTC: ISO week 2026-W49.
MONDAY = 1_795_996_800
WEEK = 202649
KEY = b"k" * 32
MAC = "a4:83:e7:00:00:01"
WEB_DOWN = 500_000  # what apps counts under web in each window


def body(domains: dict[str, int]) -> dict[str, Any]:
    """A window of one phone: everything under ``web``, of which ``domains`` (name -> bytes down) unnamed."""
    return {
        "samplers": {"apps": {"state": "ok"}},
        "stations": [{"mac": MAC, "hostname": "iphone", "medium": "5GHz", "signal_dbm": -50}],
        "apps": [{"station": MAC, "category": "web", "bytes_up": 10_000, "bytes_down": WEB_DOWN, "flows": 3,
                  "active_minutes": 6, "top_apps": []}],
        "unclassified": [{"domain": d, "category": "web", "bytes_up": 1000, "bytes_down": down, "active_minutes": 6}
                         for d, down in domains.items()],
    }  # fmt: skip


def message(gateway_id: str, seq: int, domains: dict[str, int], start: int = MONDAY) -> SpooledMessage:
    window = (start + 900 * (seq - 1), start + 900 * seq)
    frame = report_frame(gateway_id, 1, seq, window, 3600, body(domains), window[1])
    m = classify(Incoming(topic_for(gateway_id, "report"), frame, seq, 1, time.time()))
    assert isinstance(m, SpooledMessage), m
    return m


async def send(store: Store, messages: list[SpooledMessage]) -> None:
    """Store and fold, as the collector does."""
    await store.write_batch(Batch(messages, [], []))
    await drain_folds(insights(store))


async def category_down(store: Store, gateway_id: str, category: str, day: int = MONDAY // 86400) -> int:
    """Bytes down a home's day counts under ``category``."""
    for gid, _, data in await insights(store).home_days(day):
        if gid == gateway_id:
            return int(data["v"][layout.cat_at(category, layout.CAT_DOWN)])
    raise AssertionError(f"no day for {gateway_id}")
