"""Example v1 messages of every kind, shared by protocol, collector and e2e tests."""

from __future__ import annotations

from typing import Any

from protocol.codec import envelope
from protocol.topics import Kind

GW = "gw-test-0001"


def report(
    gateway_id: str = GW, seq: int = 1, epoch: int = 7, window_end: int = 1_700_000_100, **body: Any
) -> dict[str, Any]:
    default_body: dict[str, Any] = {
        "samplers": {"system": {"state": "ok"}, "radios": {"state": "unavailable", "reason": "no iw"}},
        "system": {
            "cpu_usage_pct": 12.5,
            "memory_total_kib": 262144,
            "memory_free_kib": 100000,
            "uptime_s": 3600,
        },
        "interfaces": [
            {
                "name": "wan",
                "role": "wan",
                "up": True,
                "bytes_sent": 1000 * (seq % 10_000),
                "bytes_received": 50000 * (seq % 10_000),
            },
        ],
        "stations": [
            {
                "mac": "a4:83:e7:00:00:01",
                "hostname": "iphone",
                "medium": "5GHz",
                "signal_dbm": -55,
                "tx_rate_kbps": 866700,
            },
        ],
    }
    default_body.update(body)
    return envelope(
        Kind.REPORT,
        gateway_id,
        epoch=epoch,
        seq=seq,
        window_start=window_end - 900,
        window_end=window_end,
        uptime_s=3600 + (seq % 10_000) * 900,
        sent_at=window_end + 3,
        body=default_body,
    )


def event(gateway_id: str = GW, seq: int = 2, epoch: int = 7) -> dict[str, Any]:
    return envelope(
        Kind.EVENT,
        gateway_id,
        epoch=epoch,
        seq=seq,
        window_start=1_700_000_000,
        window_end=1_700_000_060,
        uptime_s=4000,
        sent_at=1_700_000_061,
        body={
            "events": [
                {
                    "type": "station_join",
                    "ts": 1_700_000_050,
                    "mac": "a4:83:e7:00:00:02",
                    "interface": "wlan1",
                }
            ]
        },
    )


def status(gateway_id: str = GW, state: str = "online") -> dict[str, Any]:
    return envelope(
        Kind.STATUS, gateway_id, state=state, sent_at=1_700_000_000, agent_version="0.1.0", epoch=7
    )


def ack(gateway_id: str = GW) -> dict[str, Any]:
    return envelope(Kind.ACK, gateway_id, epoch=7, ranges=[[1, 5], [8, 8]], sent_at=1_700_000_001)


def cmd(gateway_id: str = GW) -> dict[str, Any]:
    return envelope(Kind.CMD, gateway_id, command="ping", args={}, sent_at=1_700_000_002)


ALL = {"report": report, "event": event, "status": status, "ack": ack, "cmd": cmd}
