"""A fleet of virtual gateways in one process, for fault tests: kill -9 it at will.

Each gateway is the agent's own durable ``Outbox`` (one SQLite file), ``Publisher`` and
``PahoTransport``, so a crash here is a crash of the agent's delivery path. Report
windows are derived from the seq (``start + seq * window``), so a restarted fleet simply
continues from its spool. Exits 0 once every gateway has spooled ``--reports`` records
and the collector has acknowledged all of them (``--keep-running`` waits for SIGTERM).

    python -m tests.faults.fleetproc --mqtt URL --spool-dir DIR --gateways 20 --reports 100
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from agent.publisher.outbox import Outbox
from agent.publisher.paho_transport import PahoTransport
from agent.publisher.publisher import Publisher, status_frame
from agent.runner import report_frame
from protocol.topics import Kind, topic_for


def report_body(gid: str, seq: int, window_s: int, stations: int = 8) -> dict[str, Any]:
    """A report body of realistic size (~1.8 KB framed) whose counters grow with ``seq``."""
    rng = random.Random(f"{gid}:{seq}")
    wan_rx, wan_tx = seq * 40_000_000 + rng.randrange(10**7), seq * 4_000_000 + rng.randrange(10**6)
    rows = [
        {
            "mac": f"a4:83:e7:{i:02x}:{len(gid) % 256:02x}:{(seq // 97) % 256:02x}",
            "hostname": f"device-{i}",
            "ip": f"192.168.1.{10 + i}",
            "medium": "5GHz" if i % 2 else "2.4GHz",
            "interface": "wlan1" if i % 2 else "wlan0",
            "signal_dbm": rng.randint(-80, -40),
            "noise_dbm": -92,
            "tx_rate_kbps": rng.randint(50_000, 866_700),
            "rx_rate_kbps": rng.randint(50_000, 866_700),
            "bytes_sent": seq * (i + 1) * 100_000 + rng.randrange(100_000),
            "bytes_received": seq * (i + 1) * 1_000_000 + rng.randrange(1_000_000),
            "packets_sent": seq * (i + 1) * 100 + rng.randrange(100),
            "packets_received": seq * (i + 1) * 800 + rng.randrange(800),
            "retransmissions": seq * i + rng.randrange(50),
            "airtime_ms": seq * (i + 1) * 3_000 + rng.randrange(3_000),
            "connected_s": seq * window_s,
        }
        for i in range(stations)
    ]
    return {
        "samplers": {name: {"state": "ok"} for name in ("system", "interfaces", "stations")},
        "system": {
            "cpu_usage_pct": round(rng.uniform(1, 40), 2),
            "memory_total_kib": 262_144,
            "memory_free_kib": rng.randint(40_000, 120_000),
            "uptime_s": 3600 + seq * window_s,
        },
        "interfaces": [
            {"name": "wan", "role": "wan", "up": True, "bytes_received": wan_rx, "bytes_sent": wan_tx},
            {"name": "br-lan", "role": "lan", "up": True, "bytes_received": wan_tx, "bytes_sent": wan_rx},
        ],
        "stations": rows,
    }


def report_for(gid: str, window_s: int, start: int, stations: int, epoch: int, seq: int) -> bytes:
    """The framed report ``seq`` of ``gid`` (its window follows from the seq)."""
    window = (start + (seq - 1) * window_s, start + seq * window_s)
    body = report_body(gid, seq, window_s, stations)
    return report_frame(gid, epoch, seq, window, 3600 + seq * window_s, body, int(time.time()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fleetproc")
    p.add_argument("--mqtt", required=True)
    p.add_argument("--spool-dir", required=True)
    p.add_argument("--prefix", default="flt")
    p.add_argument("--gateways", type=int, default=10)
    p.add_argument("--reports", type=int, default=100, help="records each gateway spools in all")
    p.add_argument("--period", type=float, default=0.1, help="seconds between two reports of a gateway")
    p.add_argument("--window-s", type=int, default=900, help="simulated window per report")
    p.add_argument("--start", type=int, default=1_700_000_100, help="first window start")
    p.add_argument("--stations", type=int, default=8, help="stations per report (sets its size)")
    p.add_argument("--quota", type=int, default=2 * 1024 * 1024)
    p.add_argument("--resend-after", type=float, default=3.0)
    p.add_argument("--max-inflight", type=int, default=16)
    p.add_argument("--keepalive", type=int, default=10)
    p.add_argument("--passwords", help="credentials file: 'username password' lines")
    p.add_argument("--status-file", help="write JSON progress here every second")
    p.add_argument("--keep-running", action="store_true", help="do not exit when drained")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    passwords: dict[str, str] = {}
    if args.passwords:
        for line in Path(args.passwords).read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#"):
                passwords[parts[0]] = parts[1]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    spool = Path(args.spool_dir)
    spool.mkdir(parents=True, exist_ok=True)
    fleet: list[tuple[str, Outbox, Publisher]] = []
    for i in range(args.gateways):
        gid = f"{args.prefix}-{i:03d}"
        outbox = Outbox(str(spool / f"{gid}.db"), args.quota)
        will = (topic_for(gid, Kind.STATUS), status_frame(gid, "offline", outbox.epoch, "faults", 0))
        transport = PahoTransport(
            args.mqtt, gid, username=gid, password=passwords.get(gid, ""), will=will, keepalive=args.keepalive
        )
        publisher = Publisher(
            gid,
            outbox,
            transport,
            max_inflight=args.max_inflight,
            resend_after_s=args.resend_after,
            version="faults",
        )
        fleet.append((gid, outbox, publisher))
    for _, _, publisher in fleet:
        publisher.start()

    next_at = time.monotonic()
    last_status = 0.0
    while not stop.is_set():
        now = time.monotonic()
        spooling = False
        if now >= next_at:
            next_at += args.period
            for gid, outbox, _ in fleet:
                if outbox.next_seq() <= args.reports:
                    outbox.append(
                        "report", partial(report_for, gid, args.window_s, args.start, args.stations)
                    )
        for _, outbox, publisher in fleet:
            publisher.pump()
            spooling = spooling or outbox.next_seq() <= args.reports
        pending = sum(outbox.stats()[0] for _, outbox, _ in fleet)
        if args.status_file and now - last_status >= 1.0:
            last_status = now
            state = {
                "spooled": sum(outbox.next_seq() - 1 for _, outbox, _ in fleet),
                "pending": pending,
                "connected": sum(pub.transport.connected for _, _, pub in fleet),
                "sent": sum(pub.sent for _, _, pub in fleet),
            }
            Path(args.status_file).write_text(json.dumps(state))
        if not spooling and pending == 0 and not args.keep_running:
            break
        stop.wait(max(0.005, min(0.05, next_at - time.monotonic())))
    for _, outbox, publisher in fleet:
        publisher.stop()
        outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
