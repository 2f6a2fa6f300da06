"""Compact reports through ingest, on both stores: the stored report is the full one an older
agent would have sent; a view survives a restart; what cannot be completed is quarantined."""

from __future__ import annotations

import time
from typing import Any

from agent.publisher.compaction import Compactor
from collector.ingest import Incoming, Ingest
from collector.ingest.views import UPSERT
from collector.privacy.scrub import Scrubber
from collector.settings import Settings
from collector.store import Store
from collector.store.sql import Statement
from emulator.home import VirtualHome
from protocol.codec import decode, decode_stored, encode, envelope
from protocol.topics import Kind, topic_for

KEY = b"k" * 32
WINDOW = 900
START = 1_795_437_000


class Recorder:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self.published.append((topic, decode(payload)))

    def ack(self, mid: int, qos: int, connection: int) -> None:
        pass


def make_ingest(store: Store) -> tuple[Ingest, Recorder]:
    ingest = Ingest(Settings(mqtt="mqtt://127.0.0.1:1", max_clock_skew_s=10**9), store)
    ingest.scrubber = Scrubber(KEY)  # one deployment key across "restarts"
    rec = Recorder()
    ingest._client = rec  # type: ignore[assignment]
    return ingest, rec


def bodies(n: int) -> list[dict[str, Any]]:
    home = VirtualHome("gw-any", 5)
    return [home.report_body(WINDOW, START + WINDOW * (i + 1)) for i in range(n)]


def old_frame(gid: str, seq: int, body: dict[str, Any]) -> bytes:
    end = START + WINDOW * seq
    return encode(envelope(Kind.REPORT, gid, epoch=7, seq=seq, window_start=end - WINDOW, window_end=end,
                           uptime_s=86_400 + end - START, sent_at=end, body=body))  # fmt: skip


def compact_frame(c: Compactor, gid: str, seq: int, body: dict[str, Any]) -> bytes:
    end = START + WINDOW * seq
    return c.frame(gid, 7, seq, (end - WINDOW, end), 86_400 + end - START, body, end)


def item(gid: str, frame: bytes, mid: int) -> Incoming:
    return Incoming(topic_for(gid, Kind.REPORT), frame, mid, 1, time.time())


async def stored(store: Store, gid: str) -> dict[int, dict[str, Any]]:
    rows = await store.db.fetch("SELECT seq, payload FROM reports WHERE gateway_id = ?", (gid,))
    return {int(r["seq"]): decode_stored(bytes(r["payload"]))["body"] for r in rows}


async def quarantined(store: Store, gid: str) -> list[tuple[str, str]]:
    rows = await store.db.fetch("SELECT reason, detail FROM quarantine WHERE gateway_id = ?", (gid,))
    return [(str(r["reason"]), str(r["detail"])) for r in rows]


def acked(rec: Recorder, gid: str) -> list[list[int]]:
    return [r for t, m in rec.published if t == topic_for(gid, Kind.ACK) for r in m["ranges"]]


async def test_compact_reports_are_stored_as_the_full_reports_old_agents_send(store: Store) -> None:
    sent = bodies(3)
    ingest, rec = make_ingest(store)
    c = Compactor()
    frames = [compact_frame(c, "gw-new", 1, sent[0])]
    await ingest.handle([item("gw-new", frames[0], 1), item("gw-old", old_frame("gw-old", 1, sent[0]), 2)])
    c.acked(*_ack(rec, "gw-new"))
    frames += [compact_frame(c, "gw-new", s, sent[s - 1]) for s in (2, 3)]
    assert "stations" in decode(frames[0])["body"]["view"]  # the first carries its view
    assert set(decode(frames[1])["body"]["view"]) == {"id"}  # the next only name it
    assert len(frames[1]) < len(old_frame("gw-old", 2, sent[1])) / 1.5
    await ingest.handle([item("gw-new", f, s) for s, f in ((2, frames[1]), (3, frames[2]))])
    await ingest.handle([item("gw-old", old_frame("gw-old", s, sent[s - 1]), s) for s in (2, 3)])
    new, old = await stored(store, "gw-new"), await stored(store, "gw-old")
    assert sorted(new) == [1, 2, 3] and new == old  # scrubbed both ways: identical bodies
    assert "view" not in new[2] and new[2]["stations"][0]["hostname"] == old[2]["stations"][0]["hostname"]
    assert any("vendor" in s for s in new[2]["stations"])  # restored from the OUI table
    assert acked(rec, "gw-new") == [[1, 1], [2, 3]] and not await quarantined(store, "gw-new")


def _ack(rec: Recorder, gid: str) -> tuple[int, list[tuple[int, int]]]:
    message = next(m for t, m in reversed(rec.published) if t == topic_for(gid, Kind.ACK))
    return message["epoch"], [(low, high) for low, high in message["ranges"]]


async def test_a_view_survives_a_collector_restart(store: Store) -> None:
    sent = bodies(2)
    first, rec = make_ingest(store)
    c = Compactor()
    await first.handle([item("gw-r", compact_frame(c, "gw-r", 1, sent[0]), 1)])
    c.acked(*_ack(rec, "gw-r"))
    later = compact_frame(c, "gw-r", 2, sent[1])
    assert set(decode(later)["body"]["view"]) == {"id"}
    restarted, rec2 = make_ingest(store)  # an empty cache: the view comes from the store
    await restarted.handle([item("gw-r", later, 2)])
    assert restarted.intake.views.fetched == 1
    old, _ = make_ingest(store)
    await old.handle([item("gw-o", old_frame("gw-o", 2, sent[1]), 1)])
    assert (await stored(store, "gw-r"))[2] == (await stored(store, "gw-o"))[2]
    assert acked(rec2, "gw-r") == [[2, 2]]


async def test_a_report_whose_view_carrier_was_lost_is_quarantined_and_acked(store: Store) -> None:
    sent = bodies(2)
    c = Compactor()
    compact_frame(c, "gw-l", 1, sent[0])  # carried its view, then lost (say, dropped for the quota)
    c.acked(7, [(1, 1)])  # ... after being acknowledged as quarantined
    frame = compact_frame(c, "gw-l", 2, sent[1])
    ingest, rec = make_ingest(store)
    await ingest.handle([item("gw-l", frame, 1)])
    assert not await stored(store, "gw-l")
    ((reason, detail),) = await quarantined(store, "gw-l")
    assert reason == "unresolved_view" and "not in the store" in detail
    assert acked(rec, "gw-l") == [[2, 2]]  # it cannot become whole by waiting
    # the agent carries the view again within refresh_every reports, and all is well again
    for seq in range(3, 3 + c.refresh_every):
        frame = compact_frame(c, "gw-l", seq, sent[1])
        if "stations" in decode(frame)["body"]["view"]:
            break
    else:
        raise AssertionError("the view was never carried again")
    await ingest.handle([item("gw-l", frame, 2)])
    assert seq in await stored(store, "gw-l")


async def test_a_frame_with_an_unknown_dictionary_is_quarantined_with_that_reason(store: Store) -> None:
    frame = compact_frame(Compactor(), "gw-d", 1, bodies(1)[0])
    unknown = frame[:3] + bytes([200]) + frame[4:]
    ingest, _ = make_ingest(store)
    await ingest.handle([item("gw-d", unknown, 1)])
    ((reason, detail),) = await quarantined(store, "gw-d")
    assert reason == "unknown_dictionary" and "200" in detail
    assert not await stored(store, "gw-d")


async def test_views_age_out_with_raw_reports_and_a_refreshed_one_stays(store: Store) -> None:
    from collector.privacy.retention import DAY, retain

    settings = Settings(mqtt="mqtt://127.0.0.1:1")
    now = time.time()
    old = now - (settings.retention_raw_days + 1) * DAY
    rows = [("gw-a", "00000000000000aa", b"\x80", old), ("gw-a", "00000000000000bb", b"\x80", now)]
    await store.db.transaction([Statement(UPSERT, rows, many=True)])
    assert (await retain(store.db, settings, now))["static_views"] == 1
    kept = await store.db.fetch("SELECT view_id FROM static_views WHERE gateway_id = ?", ("gw-a",))
    assert [r["view_id"] for r in kept] == ["00000000000000bb"]
