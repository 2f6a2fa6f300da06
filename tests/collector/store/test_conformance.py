"""What every store must do; run against each backend by the ``store`` fixture."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

import psycopg
import pytest

from collector.ingest import Incoming, classify
from collector.store import (
    Batch,
    QuarantinedMessage,
    SpooledMessage,
    StatusChange,
    Store,
    StoreError,
    open_store,
)
from collector.store.plan import plan_batch
from protocol.codec import encode
from protocol.topics import topic_for
from tests.protocol.messages import event, report


def spooled(gw: str = "gw-s1", seq: int = 1, window_end: int = 1_700_000_100, **kw: object) -> SpooledMessage:
    message = report(gw, seq=seq, window_end=window_end, **kw)
    out = classify(Incoming(topic_for(gw, "report"), encode(message), 1, 1, time.time()))
    assert isinstance(out, SpooledMessage)
    return out


async def test_batch_stores_once_and_reports_duplicates(store: Store) -> None:
    first = await store.write_batch(Batch([spooled(seq=1), spooled(seq=2)], [], []))
    assert len(first.inserted) == 2 and not first.duplicates
    again = await store.write_batch(Batch([spooled(seq=2), spooled(seq=3), spooled(seq=3)], [], []))
    assert again.inserted == [("gw-s1", 7, 3)]
    assert again.duplicates == [("gw-s1", 7, 2), ("gw-s1", 7, 3)]
    assert sorted(await store.stored_keys()) == [("gw-s1", 7, 1), ("gw-s1", 7, 2), ("gw-s1", 7, 3)]
    gw = await store.gateway("gw-s1")
    assert gw is not None and gw["reports"] == 3  # duplicates did not count twice


async def test_latest_state_and_rates_ignore_late_reports(store: Store) -> None:
    await store.write_batch(Batch([spooled(seq=1, window_end=1_700_000_100)], [], []))
    await store.write_batch(Batch([spooled(seq=3, window_end=1_700_001_900)], [], []))
    await store.write_batch(Batch([spooled(seq=2, window_end=1_700_001_000)], [], []))  # arrives late
    gw = await store.gateway("gw-s1")
    assert gw is not None and gw["last_window_end"] == 1_700_001_900
    # bytes_received grows 50,000 per seq: seq 1 -> 3 over 1,800 s
    assert gw["rates"]["wan"]["rx_bps"] == pytest.approx(8 * 100_000 / 1800, rel=1e-3)
    history = await store.history("gw-s1")
    assert [h["window_end"] for h in history] == [1_700_000_100, 1_700_001_000, 1_700_001_900]


async def test_events_quarantine_and_status(store: Store) -> None:
    ev = classify(Incoming(topic_for("gw-s1", "event"), encode(event("gw-s1")), 2, 1, time.time()))
    assert isinstance(ev, SpooledMessage)
    bad = QuarantinedMessage(
        time.time(), "homescope/v1/gw-s1/report", "gw-s1", "truncated", "ends early", b"x" * 100_000
    )
    result = await store.write_batch(
        Batch([ev], [bad], [StatusChange("gw-s1", "online", time.time(), "0.1.0")])
    )
    assert result.quarantined == 1 and len(result.inserted) == 1
    counts = await store.counts()
    assert counts == {"gateways": 1, "reports": 0, "event_batches": 1, "quarantined": 1}
    q = (await store.quarantine())[0]
    assert (q["reason"], q["size"], q["gateway_id"]) == ("truncated", 100_000, "gw-s1")
    gw = await store.gateway("gw-s1")
    assert gw is not None and (gw["status"], gw["agent_version"], gw["events"]) == ("online", "0.1.0", 1)


async def test_an_older_status_does_not_override_a_newer_one(store: Store) -> None:
    now = time.time()
    await store.write_batch(Batch([], [], [StatusChange("gw-s2", "offline", now)]))
    await store.write_batch(Batch([], [], [StatusChange("gw-s2", "online", now - 10)]))
    gw = await store.gateway("gw-s2")
    assert gw is not None and gw["status"] == "offline"


async def test_list_gateways_joins_latest_facts(store: Store) -> None:
    await store.write_batch(
        Batch([spooled("gw-a", 1), spooled("gw-b", 1), spooled("gw-b", 2, window_end=1_700_001_000)], [], [])
    )
    rows = {g["gateway_id"]: g for g in await store.list_gateways()}
    assert set(rows) == {"gw-a", "gw-b"}
    assert rows["gw-b"]["cpu_pct"] == 12.5 and rows["gw-b"]["stations"] == 1
    assert rows["gw-b"]["wan_rx_bps"] == pytest.approx(8 * 50_000 / 900, rel=1e-3)
    assert await store.gateway("gw-nope") is None


async def test_rollups_are_incremental_and_exact_when_windows_arrive_late(store: Store) -> None:
    base = 1_700_000_000 // 3600 * 3600
    ends = [base + 900 * i for i in range(1, 9)]  # two hours of windows
    order = [0, 1, 4, 5, 2, 3, 6, 7]  # the second half-hour of each hour arrives late
    for i in order:
        await store.write_batch(Batch([spooled(seq=i + 1, window_end=ends[i])], [], []))
    hourly = await store.rollups("gw-s1", "hour", base)
    assert [h["windows"] for h in hourly] == [3, 4, 1]
    assert sum(h["cpu_n"] for h in hourly) == 8 and sum(h["cpu_sum"] for h in hourly) == 8 * 12.5
    daily = await store.rollups("gw-s1", "day", 0)
    assert sum(d["windows"] for d in daily) == 8
    with pytest.raises(Exception, match="hour or day"):
        await store.rollups("gw-s1", "week", 0)


async def test_retention_deletes_only_what_is_past_its_time(store: Store) -> None:
    old = spooled(seq=1, window_end=1_600_000_000)
    await store.write_batch(Batch([old, spooled(seq=2, window_end=1_700_000_000)], [], []))
    now = old.received_at + 40 * 86400  # both raw rows are 40 days old, facts differ by window time
    deleted = await store.retain(now, raw_days=35, facts_days=90, hourly_days=400)
    assert deleted["reports"] == 1
    assert deleted["gateway_facts"] >= 1
    # the gateway's latest report stays, however old: its page shows the last known state
    assert await store.stored_keys() == [("gw-s1", 7, 2)]
    gw = await store.gateway("gw-s1")
    assert gw is not None and gw["latest"]["system"]["cpu_usage_pct"] == 12.5
    newer = spooled(seq=3, window_end=1_700_000_900)
    await store.write_batch(Batch([newer], [], []))
    deleted = await store.retain(newer.received_at + 40 * 86400, raw_days=35, facts_days=90, hourly_days=400)
    assert deleted["reports"] == 1 and await store.stored_keys() == [("gw-s1", 7, 3)]


async def test_the_latest_report_is_the_newest_window_s(store: Store) -> None:
    await store.write_batch(Batch([spooled(seq=1, window_end=1_700_000_100, apps=[])], [], []))
    first = await store.gateway("gw-s1")
    await store.write_batch(
        Batch([spooled(seq=2, window_end=1_700_001_000, system={"cpu_usage_pct": 80.0})], [], [])
    )
    await store.write_batch(Batch([spooled(seq=3, window_end=1_700_000_500)], [], []))  # late: not the latest
    gw = await store.gateway("gw-s1")
    assert first is not None and first["latest"]["system"]["cpu_usage_pct"] == 12.5
    assert gw is not None and gw["latest"]["system"] == {"cpu_usage_pct": 80.0}


def _as_before_latest_reference(url: str) -> None:
    """Turn a store back into its shape before the latest report was named by key (a copy per
    gateway), with one gateway's raw report gone, so the migration runs again on reopening."""
    legacy = [
        "UPDATE gateways SET latest_payload = (SELECT payload FROM reports r WHERE r.gateway_id = gateways.gateway_id"
        " AND r.epoch = gateways.latest_epoch AND r.seq = gateways.latest_seq)",
        "ALTER TABLE gateways DROP COLUMN latest_epoch",
        "ALTER TABLE gateways DROP COLUMN latest_seq",
        "DELETE FROM reports WHERE gateway_id = 'gw-gone'",
    ]
    if url.startswith("sqlite"):
        version = 14
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db, db:
            for sql in [*legacy, f"DELETE FROM schema_migrations WHERE version = {version}"]:
                db.execute(sql)
    else:
        version = 13
        with psycopg.connect(url, autocommit=True) as conn:
            for sql in [*legacy, f"DELETE FROM schema_migrations WHERE version = {version}"]:
                conn.execute(sql.encode())


async def test_a_copied_latest_report_moves_to_a_reference_and_a_lone_copy_stays(store: Store) -> None:
    await store.write_batch(
        Batch(
            [
                spooled(seq=1, window_end=1_700_000_100),
                spooled(seq=2, window_end=1_700_001_000, system={"cpu_usage_pct": 80.0}),
                spooled("gw-gone", seq=1, system={"cpu_usage_pct": 40.0}),
            ],
            [],
            [],
        )
    )
    _as_before_latest_reference(store.url)  # then a second store opens the file and migrates
    reopened = open_store(store.url)
    await reopened.open()
    try:
        kept = await reopened.gateway("gw-s1")
        gone = await reopened.gateway("gw-gone")
        assert kept is not None and kept["latest"]["system"] == {"cpu_usage_pct": 80.0}
        assert gone is not None and gone["latest"]["system"] == {"cpu_usage_pct": 40.0}  # its copy stays
        await reopened.write_batch(Batch([spooled("gw-gone", seq=2, window_end=1_700_001_000)], [], []))
        gone = await reopened.gateway("gw-gone")
        assert gone is not None and gone["latest"]["system"]["cpu_usage_pct"] == 12.5
    finally:
        await reopened.close()


async def test_a_large_incompressible_report_is_stored_and_read_back(store: Store) -> None:
    # past a page (PostgreSQL stores it out of line) and not compressible (random hostnames)
    stations = [
        {"mac": f"02:00:00:00:{i // 256:02x}:{i % 256:02x}", "hostname": os.urandom(40).hex()}
        for i in range(200)
    ]
    big = spooled(seq=1, stations=stations)
    assert len(big.payload) > 10_000
    await store.write_batch(Batch([big], [], []))
    gw = await store.gateway("gw-s1")
    assert gw is not None and [s["hostname"] for s in gw["latest"]["stations"]] == [
        s["hostname"] for s in stations
    ]


async def test_a_value_past_64_bit_columns_is_refused_for_good(store: Store) -> None:
    # U64 on the wire, 64-bit signed in SQL: refused for good (ingest then quarantines the record),
    # never a retry that would stall ingest
    wan = {"name": "wan", "role": "wan", "up": True, "bytes_sent": 0}
    await store.write_batch(Batch([spooled(seq=1, interfaces=[{**wan, "bytes_received": 1}])], [], []))
    jump = spooled(seq=2, window_end=1_700_001_000, interfaces=[{**wan, "bytes_received": 2**64 - 1}])
    for refused in (jump, spooled("gw-new", seq=2**63)):
        with pytest.raises(StoreError) as failed:
            await store.write_batch(Batch([refused, spooled("gw-beside", seq=1)], [], []))
        assert not failed.value.transient and "64-bit" in str(failed.value)
    assert await store.stored_keys() == [("gw-s1", 7, 1)]  # nothing of the refused batches


async def test_deltas_follow_the_counters_another_collector_stored(
    two_collectors: tuple[Store, Store],
) -> None:
    # each store remembers the counters it last decoded or wrote (plan.KnownStates): what another
    # collector stored since must still be what the next deltas are computed from
    a, b = two_collectors
    sent = [spooled("gw-k", seq=i, window_end=1_700_000_100 + 900 * i) for i in range(1, 7)]
    for writer, part in ((a, sent[:2]), (b, sent[2:4]), (a, sent[4:])):
        await writer.write_batch(Batch(part, [], []))
    alone = [f.wan_rx_bytes for f in plan_batch(sent, {}).facts]
    assert [h["wan_rx_bytes"] for h in await a.history("gw-k")] == alone == [None, *[50_000] * 5]


async def test_a_batch_rolled_back_leaves_the_stored_counters_in_charge(store: Store) -> None:
    wan = {"name": "wan", "role": "wan", "up": True, "bytes_sent": 0}
    await store.write_batch(Batch([spooled(seq=1, interfaces=[{**wan, "bytes_received": 1_000}])], [], []))
    # planned (its counters remembered with the rest of its plan), then refused: none of it stored
    jump = spooled(seq=2, window_end=1_700_001_000, interfaces=[{**wan, "bytes_received": 2**64 - 1}])
    with pytest.raises(StoreError):
        await store.write_batch(Batch([jump], [], []))
    after = spooled(seq=3, window_end=1_700_001_900, interfaces=[{**wan, "bytes_received": 5_000}])
    await store.write_batch(Batch([after], [], []))
    assert [h["wan_rx_bytes"] for h in await store.history("gw-s1")] == [None, 4_000]


async def test_a_resent_report_beside_new_ones_is_a_duplicate_and_the_others_are_stored(store: Store) -> None:
    # the usual batch is stored without looking its keys up first; one with a stored key is not lost
    await store.write_batch(Batch([spooled(seq=1), spooled("gw-other", seq=1)], [], []))
    later = [spooled(seq=2, window_end=1_700_001_000), spooled(seq=1), spooled("gw-third", seq=1)]
    result = await store.write_batch(Batch(later, [], []))
    assert result.inserted == [("gw-s1", 7, 2), ("gw-third", 7, 1)]
    assert result.duplicates == [("gw-s1", 7, 1)]
    assert sorted(await store.stored_keys()) == [
        ("gw-other", 7, 1), ("gw-s1", 7, 1), ("gw-s1", 7, 2), ("gw-third", 7, 1),
    ]  # fmt: skip
    gw = await store.gateway("gw-s1")
    assert gw is not None and gw["reports"] == 2
    assert [h["wan_rx_bytes"] for h in await store.history("gw-s1")] == [None, 50_000]


async def test_a_gateway_erased_meanwhile_is_created_again_by_its_next_report(store: Store) -> None:
    # a store skips creating the gateway rows it has read or written (they exist), and must
    # still create one that was deleted since (an erasure), or the batch's counts are lost
    await store.write_batch(Batch([spooled("gw-gone", seq=1)], [], []))
    if store.url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(store.url.removeprefix("sqlite:///"))) as db, db:
            db.execute("DELETE FROM gateways WHERE gateway_id = 'gw-gone'")
    else:
        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute("DELETE FROM gateways WHERE gateway_id = 'gw-gone'")
    await store.write_batch(Batch([spooled("gw-gone", seq=2, window_end=1_700_001_000)], [], []))
    gw = await store.gateway("gw-gone")
    assert gw is not None and gw["reports"] == 1 and gw["last_window_end"] == 1_700_001_000
    # no stored state to count from: the counters start over, as for a gateway never seen
    assert [h["wan_rx_bytes"] for h in await store.history("gw-gone")] == [None, None]
