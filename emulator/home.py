"""One virtual home: a gateway whose counters and stations evolve plausibly over time.

Deterministic for a given seed, so tests and benchmarks are repeatable. The report
body has the same shape as the real agent's (``protocol.shapes.ReportBody``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

_VENDORS = [
    ("a4:83:e7", "Apple"),
    ("8c:f5:a3", "Samsung"),
    ("28:6c:07", "Xiaomi"),
    ("00:e0:4c", "Realtek"),
    ("3c:22:fb", "Apple"),
    ("f0:18:98", "Apple"),
    ("44:65:0d", "Amazon"),
    ("98:de:d0", "TP-Link"),
]
_HOSTS = [
    "iphone",
    "ipad",
    "macbook",
    "galaxy",
    "redmi",
    "smart-tv",
    "echo",
    "laptop",
    "switch",
    "desktop",
    "camera",
    "printer",
    "watch",
    "kindle",
]


@dataclass
class _Station:
    mac: str
    hostname: str
    vendor: str
    medium: str
    signal_dbm: int
    bytes_sent: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    retransmissions: int = 0
    connected_s: int = 0


@dataclass
class VirtualHome:
    """A home's gateway state; ``report_body(window_s)`` advances it by one window."""

    gateway_id: str
    seed: int
    stations: list[_Station] = field(default_factory=list)
    uptime_s: int = 0
    wan_rx: int = 0
    wan_tx: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.uptime_s = self.rng.randint(3600, 30 * 86400)
        self.busy = self.rng.uniform(0.2, 1.0)  # how heavily this home uses its line
        for i in range(self.rng.randint(3, 12)):
            prefix, vendor = self.rng.choice(_VENDORS)
            mac = f"{prefix}:{self.rng.randrange(256):02x}:{self.rng.randrange(256):02x}:{i:02x}"
            medium = self.rng.choice(["2.4GHz", "5GHz", "5GHz", "wired"])
            host = f"{self.rng.choice(_HOSTS)}-{i}"
            self.stations.append(_Station(mac, host, vendor, medium, self.rng.randint(-82, -40)))

    def report_body(self, window_s: int) -> dict[str, Any]:
        """Advance by ``window_s`` seconds and return the report body."""
        rng = self.rng
        self.uptime_s += window_s
        down = int(window_s * self.busy * rng.uniform(50_000, 2_000_000))
        up = int(down * rng.uniform(0.05, 0.2))
        self.wan_rx += down
        self.wan_tx += up
        stations: list[dict[str, Any]] = []
        for s in self.stations:
            share = rng.uniform(0, 2 / len(self.stations))
            s.bytes_received += int(down * share)
            s.bytes_sent += int(up * share)
            s.packets_received += int(down * share / 1200)
            s.packets_sent += int(up * share / 600)
            s.retransmissions += int(s.packets_sent * rng.uniform(0, 0.05))
            s.connected_s += window_s
            s.signal_dbm = max(-90, min(-30, s.signal_dbm + rng.randint(-2, 2)))
            row: dict[str, Any] = {
                "mac": s.mac,
                "hostname": s.hostname,
                "ip": f"192.168.1.{10 + self.stations.index(s)}",
                "medium": s.medium,
                "vendor": s.vendor,
                "randomized_mac": False,
                "bytes_sent": s.bytes_sent,
                "bytes_received": s.bytes_received,
                "packets_sent": s.packets_sent,
                "packets_received": s.packets_received,
                "connected_s": s.connected_s,
            }
            if s.medium != "wired":
                rate = 866_700 if s.medium == "5GHz" else 144_400
                row.update(
                    interface="wlan1" if s.medium == "5GHz" else "wlan0",
                    signal_dbm=s.signal_dbm,
                    noise_dbm=-92,
                    snr_db=s.signal_dbm + 92,
                    tx_rate_kbps=int(rate * rng.uniform(0.3, 1.0)),
                    rx_rate_kbps=int(rate * rng.uniform(0.3, 1.0)),
                    retransmissions=s.retransmissions,
                )
            stations.append(row)
        lan_rx = sum(s.bytes_sent for s in self.stations)
        lan_tx = sum(s.bytes_received for s in self.stations)
        radios = [
            {
                "name": "radio0",
                "band": "2.4GHz",
                "channel": rng.choice([1, 6, 11]),
                "width_mhz": 20,
                "standard": "n",
                "noise_dbm": -92,
                "utilization_pct": round(rng.uniform(10, 70), 1),
                "interference_pct": round(rng.uniform(2, 40), 1),
                "stations": sum(s.medium == "2.4GHz" for s in self.stations),
            },
            {
                "name": "radio1",
                "band": "5GHz",
                "channel": rng.choice([36, 44, 149]),
                "width_mhz": 80,
                "standard": "ac",
                "noise_dbm": -95,
                "utilization_pct": round(rng.uniform(5, 50), 1),
                "interference_pct": round(rng.uniform(1, 15), 1),
                "stations": sum(s.medium == "5GHz" for s in self.stations),
            },
        ]
        return {
            "samplers": {name: {"state": "ok"} for name in ("system", "interfaces", "radios", "stations")},
            "system": {
                "cpu_usage_pct": round(rng.uniform(2, 35) * self.busy, 2),
                "cpu_count": 2,
                "memory_total_kib": 262_144,
                "memory_free_kib": rng.randint(40_000, 120_000),
                "memory_available_kib": rng.randint(80_000, 160_000),
                "load1": round(rng.uniform(0, 1.5), 2),
                "load5": 0.5,
                "load15": 0.4,
                "uptime_s": self.uptime_s,
                "board": {"manufacturer": "Emulated", "model": "HS-1000", "release": "OpenWrt 23.05.3"},
            },
            "interfaces": [
                {
                    "name": "wan",
                    "role": "wan",
                    "up": True,
                    "speed_mbps": 1000,
                    "bytes_received": self.wan_rx,
                    "bytes_sent": self.wan_tx,
                    "packets_received": self.wan_rx // 1200,
                    "packets_sent": self.wan_tx // 600,
                },
                {
                    "name": "br-lan",
                    "role": "lan",
                    "up": True,
                    "bytes_received": lan_rx,
                    "bytes_sent": lan_tx,
                    "packets_received": lan_rx // 600,
                    "packets_sent": lan_tx // 1200,
                },
            ],
            "wan": {
                "interface": "wan",
                "protocol": "pppoe",
                "connected": True,
                "online_s": window_s,
                "offline_s": 0,
            },
            "radios": radios,
            "stations": stations,
        }
