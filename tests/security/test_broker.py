"""The generated broker configuration against a real Mosquitto: no ``$share`` or foreign subscription
for a gateway, and a gateway that floods has its excess quarantined, not stored."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from collector.cli import main as collector_cli
from collector.service import Service
from collector.settings import Settings
from protocol.codec import encode, unframe
from protocol.topics import topic_for
from tests.broker import free_port
from tests.faults.harness import wait_until
from tests.faults.test_identity import BrokerProc, Client
from tests.protocol.messages import report
from tests.security.conftest import PASSWORD

A, B = "id-a", "id-b"
GROUP = "collectors"
pytestmark = pytest.mark.timeout(120)


def _credentials(out: Path) -> dict[str, str]:
    lines = (out / "credentials").read_text().splitlines()
    return dict(line.split() for line in lines if line and not line.startswith("#"))  # type: ignore[misc]


@pytest.fixture
async def secured(
    mosquitto_binary: str, tmp_path: Path
) -> AsyncIterator[tuple[int, dict[str, str], Service]]:
    port = free_port()
    out = tmp_path / "broker"
    argv = [
        "broker-config",
        "--out",
        str(out),
        "--gateway",
        A,
        "--gateway",
        B,
        "--listen",
        f"127.0.0.1:{port}",
    ]
    argv += ["--run-as", getpass.getuser(), "--log-file", str(tmp_path / "mosquitto.log")]
    assert collector_cli(argv) == 0
    assert "plugin " in (out / "mosquitto.conf").read_text()  # the dynamic security plugin, deny by default
    creds = _credentials(out)
    broker = BrokerProc(mosquitto_binary, out / "mosquitto.conf", port)
    svc = Service(
        Settings(
            db=f"sqlite:///{tmp_path}/c.db",
            mqtt=f"mqtt://127.0.0.1:{port}",
            mqtt_username="_collector",
            mqtt_password=creds["_collector"],
            share_group=GROUP,
            http="127.0.0.1:0",
            users=f"root:{PASSWORD}",
            store_writer="thread",
            ingest_quota_burst=30,
            ingest_quota_per_hour=60,
        )
    )
    await svc.start()
    try:
        await asyncio.to_thread(wait_until, lambda: svc.ingest.connected, 10, "collector connected")
        yield port, creds, svc
    finally:
        await svc.stop()
        broker.stop()


async def _stored(svc: Service) -> int:
    return int((await svc.store.counts())["reports"])


async def test_a_gateways_share_subscription_delivers_nothing_and_takes_nothing(
    secured: tuple[int, dict[str, str], Service], figures: Callable[..., None]
) -> None:
    port, creds, svc = secured
    thief = await asyncio.to_thread(Client, port, A, A, creds[A])
    sender = await asyncio.to_thread(Client, port, B, B, creds[B])
    try:
        for topic in (
            f"$share/{GROUP}/homescope/v1/+/report",
            f"$share/{GROUP}/homescope/v1/+/event",
            f"$share/other/homescope/v1/{B}/report",
            "homescope/v1/+/report",
            f"homescope/v1/{B}/ack",
            "#",
        ):
            await asyncio.to_thread(thief.subscribe, topic)
        sent = 20
        for seq in range(1, sent + 1):
            assert (
                await asyncio.to_thread(sender.publish, topic_for(B, "report"), encode(report(B, seq=seq)))
                == "allowed"
            )
        await asyncio.to_thread(wait_until, lambda: svc.ingest.stats.stored >= sent, 20, "all reports stored")
        await asyncio.sleep(0.5)
        figures(sent=sent, stored=await _stored(svc), delivered_to_gateway_a=len(thief.received))
        # the collector gets every report (none taken by A's group membership); A gets none
        assert await _stored(svc) == sent and thief.received == []
    finally:
        thief.close()
        sender.close()


async def test_a_flooding_gateway_has_its_excess_quarantined_not_stored(
    secured: tuple[int, dict[str, str], Service], figures: Callable[..., None]
) -> None:
    port, creds, svc = secured
    flood = await asyncio.to_thread(Client, port, A, A, creds[A])
    try:
        sent = 60
        for seq in range(1, sent + 1):
            await asyncio.to_thread(flood.publish, topic_for(A, "report"), encode(report(A, seq=seq)))
        stats = svc.ingest.stats
        # every message committed, stored or quarantined: the quota counter is counted at triage, before
        # its batch commits, so under load the last report or quarantine row may still be committing
        await asyncio.to_thread(
            wait_until,
            lambda: (
                stats.stored + stats.quarantined >= sent
                and stats.stored + stats.by_reason.get("quota_exceeded", 0) >= sent
            ),
            30,
            "quota",
        )
        stored = await _stored(svc)
        rows = await svc.store.quarantine(200)
        over = [r for r in rows if r["reason"] == "quota_exceeded"]
        figures(sent=sent, stored=stored, quarantined=len(over), flagged=svc.ingest.quota.flagged())
        assert 30 <= stored <= 31 and len(over) == sent - stored and A in svc.ingest.quota.flagged()
        # the heads kept are of the rewritten frames: the station's MAC only as its pseudonym
        heads = await svc.store.db.fetch("SELECT payload FROM quarantine WHERE reason = 'quota_exceeded'")
        clear = report(A)["body"]["stations"][0]["mac"].encode()
        assert heads and not any(clear in unframe(bytes(h["payload"])) for h in heads)
    finally:
        flood.close()
