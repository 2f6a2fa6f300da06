"""Privacy against a running collector: no terminal MAC, personal hostname or neighbour SSID is
stored anywhere (raw frames included), and ``erase`` leaves no row naming the home in any table."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector.cli import main as collector_cli
from collector.crm import parse_subscribers
from collector.privacy.erase import text_columns
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.store.base import drain_folds, insights
from collector.store.sql import Database
from emulator.clock import SimClock
from emulator.fleet import Fleet
from emulator.truth import CRM_COLUMNS, crm_rows, fleet_specs
from protocol.codec import encode, envelope
from protocol.topics import Kind, topic_for
from tests.broker import Broker
from tests.faults.harness import wait_until
from tests.faults.test_identity import Client
from tests.protocol.messages import report
from tests.security.conftest import Running

pytestmark = pytest.mark.timeout(180)
MAC = "a4:83:e7:12:34:56"


def _texts(value: Any) -> list[str]:
    """A stored value as text to search: strings, and bytes as they are and inflated."""
    if isinstance(value, str):
        return [value.lower()]
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        out = [raw.decode("latin-1").lower()]
        for start in (0, 3):
            with contextlib.suppress(zlib.error):
                out.append(zlib.decompress(raw[start:]).decode("latin-1").lower())
        return out
    return [str(value).lower()]


async def scan(db: Database, needles: list[str]) -> dict[str, list[str]]:
    """Every table of the store (from its catalogue), every column of every row: where each needle occurs."""
    tables = sorted({c.table for c in await text_columns(db)})
    if db.dialect.name == "sqlite":
        rows = await db.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = sorted({*tables, *(r["name"] for r in rows)})
    found: dict[str, list[str]] = {}
    for table in tables:
        for row in await db.fetch(f'SELECT * FROM "{table}"'):
            for column, value in row.items():
                for text in _texts(value):
                    for needle in needles:
                        if needle.lower() in text:
                            found.setdefault(needle, []).append(f"{table}.{column}")
    return found


async def test_terminal_macs_hostnames_and_ssids_never_reach_the_store(
    running: Running, broker: Broker
) -> None:
    svc = running.service
    body = {
        "stations": [
            {"mac": MAC, "hostname": "Johns-iPhone", "medium": "5GHz", "signal_dbm": -50, "vendor": "Apple"}
        ],
        "neighbours": [
            {
                "ssid": "Smith Family WiFi",
                "bssid": "00:11:22:aa:bb:cc",
                "signal_dbm": -70,
                "operator": "rival",
            }
        ],
        "apps": [
            {
                "station": MAC,
                "category": "video",
                "bytes_up": 1,
                "bytes_down": 2,
                "flows": 1,
                "active_minutes": 1,
                "top_apps": [],
            }
        ],
    }
    sender = await asyncio.to_thread(Client, int(broker.url.rsplit(":", 1)[1]), "priv-gw", None, None)
    try:
        payload = encode(report("priv-gw", seq=1, **body))
        assert await asyncio.to_thread(sender.publish, topic_for("priv-gw", "report"), payload) == "allowed"
        events = {
            "events": [
                {"type": "station_join", "ts": 1_700_000_050, "mac": MAC, "hostname": "Johns-iPhone"},
                {
                    "type": "flow",
                    "ts": 1_700_000_060,
                    "mac": MAC,
                    "hostname": "www.bank.example",
                    "reason": "203.0.113.9:443",
                },
            ]
        }
        batch = envelope(
            Kind.EVENT,
            "priv-gw",
            epoch=7,
            seq=2,
            window_start=1_700_000_000,
            window_end=1_700_000_100,
            uptime_s=100,
            sent_at=1_700_000_100,
            body=events,
        )
        assert (
            await asyncio.to_thread(sender.publish, topic_for("priv-gw", "event"), encode(batch)) == "allowed"
        )
        # a report the models refuse (a station's signal as text) is quarantined: rewritten all the same
        refused = report("priv-gw", seq=3, **body)
        refused["body"]["stations"] = [{**body["stations"][0], "signal_dbm": "strong"}]
        assert (
            await asyncio.to_thread(sender.publish, topic_for("priv-gw", "report"), encode(refused))
            == "allowed"
        )
        await asyncio.to_thread(wait_until, lambda: svc.ingest.stats.stored >= 2, 20, "stored")
        await asyncio.to_thread(wait_until, lambda: svc.ingest.stats.quarantined >= 1, 20, "quarantined")
    finally:
        sender.close()
    await drain_folds(insights(svc.store))
    leaks = await scan(
        running.db,
        [MAC, "12:34:56", "123456", "johns", "smith family", "aa:bb:cc", "bank.example", "203.0.113.9"],
    )
    assert not leaks, leaks
    latest = await svc.store.gateway("priv-gw")
    assert latest is not None
    station = latest["latest"]["stations"][0]
    # the vendor prefix (OUI) and the type-telling token survive; the device part is a keyed pseudonym
    assert (
        station["mac"].startswith("a4:83:e7:") and station["mac"] != MAC and station["hostname"] == "iphone"
    )
    assert latest["latest"]["apps"][0]["station"] == station["mac"]
    assert (
        latest["latest"]["neighbours"][0]["operator"] == "rival"
        and "ssid" not in latest["latest"]["neighbours"][0]
    )


async def test_erase_leaves_no_row_naming_the_home_in_any_table(
    running: Running, broker: Broker, tmp_path: Path, figures: Callable[..., None]
) -> None:
    svc = running.service
    clock = SimClock.for_days(1, end=20243 * 86400)
    specs = fleet_specs({"heavy_gamer": 1, "video_family": 1, "soho": 1}, 3, prefix="erase", seed=5)
    fleet = Fleet(len(specs), broker.url, specs=specs, span=clock.span, resend_after_s=60.0)
    fleet.start()
    try:
        assert await asyncio.to_thread(fleet.wait_connected, 20)
        await asyncio.to_thread(fleet.backfill, clock.first_end, clock.windows)
        assert await asyncio.to_thread(fleet.drain, 60.0) == 0
    finally:
        await asyncio.to_thread(fleet.stop)
    store = insights(svc.store)
    await drain_folds(store)
    rows = crm_rows(specs, clock.end)
    text = ",".join(CRM_COLUMNS) + "\n" + "".join(",".join(r[c] for c in CRM_COLUMNS) + "\n" for r in rows)
    await store.upsert_subscribers(parse_subscribers(text).rows)
    await evaluate(store, load_config(), as_of=clock.end)
    victim, other = rows[0], rows[1]
    home, subscriber = victim["gateway_id"], victim["subscriber_id"]
    before = await scan(running.db, [home, subscriber])
    assert len(before.get(home, [])) > 5  # the home is in many tables before

    argv = ["erase", "--subscriber", subscriber, "--db", svc.settings.db]
    assert await asyncio.to_thread(collector_cli, argv) == 0
    after = await scan(running.db, [home, subscriber])
    assert not after, after
    assert await scan(running.db, [other["gateway_id"]])  # the neighbours' homes are untouched
    audit = await running.db.fetch("SELECT * FROM erasures")
    assert len(audit) == 1 and audit[0]["kind"] == "subscriber" and audit[0]["rows"] > 0
    figures(
        tables_naming_the_home_before=sorted({w.split(".")[0] for w in before[home]}),
        rows_erased=audit[0]["rows"],
    )
