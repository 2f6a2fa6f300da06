"""Measure now, end to end: press -> collector -> broker -> gateway -> reply -> page.

Starts a private Mosquitto, a collector service (SQLite, its command channel and web),
and an emulated fleet whose gateways answer commands as the agent does; then presses
"measure now" ``--presses`` times over the HTTP API the installer's page uses (POST the
command, poll it once a second... here every 100 ms) and times each press until the
measurement is there. The fleet keeps reporting meanwhile. Prints figures as JSON; the last line is
``{"median_s": .., "p95_s": .., "failed": n}``. Nothing passes or fails on time here.

    python bench/measure_now.py --json [--presses 50] [--homes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median, quantiles

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.service import Service  # noqa: E402
from collector.settings import Settings  # noqa: E402
from emulator.fleet import Fleet  # noqa: E402
from tests.broker import Broker  # noqa: E402

TOKEN = "bench-measure-now-token-0123456789"
POLL_S = 0.1


async def press(session: aiohttp.ClientSession, base: str, gateway: str, timeout: float) -> float | None:
    """Seconds from the press until the fresh figures are there, or None if they never came."""
    started = time.monotonic()
    async with session.post(f"{base}/api/v1/installer/homes/{gateway}/measure") as r:
        if r.status != 202:
            return None
        cid = (await r.json())["command_id"]
    while time.monotonic() - started < timeout:
        async with session.get(f"{base}/api/v1/installer/commands/{cid}") as r:
            found = await r.json()
        if found["state"] == "done" and found.get("snapshot"):
            return time.monotonic() - started
        if found["state"] != "sent":
            print(f"press on {gateway}: {found['state']} {found.get('error')}", file=sys.stderr)
            return None
        await asyncio.sleep(POLL_S)
    print(f"press on {gateway}: no answer in {timeout} s", file=sys.stderr)
    return None


async def run(presses: int, homes: int, workdir: Path) -> dict[str, object]:
    broker = Broker(
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else "mosquitto",
        workdir / "broker",
        extra_config="listener {port} 127.0.0.1\nallow_anonymous true",
    )
    broker.start()
    svc = Service(
        Settings(
            db=f"sqlite:///{workdir}/measure.db",
            mqtt=broker.url,
            http="127.0.0.1:0",
            users="admin:bench-admin-password",
            api_tokens=TOKEN,
            mqtt_client_id="bench-measure-now",
        )
    )
    await svc.start()
    fleet = Fleet(homes, broker.url, prefix="mn", interval_s=5.0)
    stop = threading.Event()
    try:
        # the fleet connects and keeps reporting while the installer presses
        threading.Thread(target=fleet.run, args=(stop,), daemon=True).start()
        if not await asyncio.to_thread(fleet.wait_connected, 30):
            raise RuntimeError("the emulated gateways did not connect")
        await asyncio.sleep(2.0)  # statuses stored: the collector knows they are online
        base = f"http://127.0.0.1:{svc.port}"
        times: list[float] = []
        failed = 0
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            for n in range(presses):
                took = await press(session, base, fleet.gateways[n % homes].home.gateway_id, 30.0)
                if took is None:
                    failed += 1
                else:
                    times.append(took)
        cut = quantiles(times, n=20) if len(times) >= 2 else times * 19
        return {
            "presses": presses,
            "homes": homes,
            "replies_stored": svc.commands.replies,
            "min_s": round(min(times), 3) if times else None,
            "median_s": round(median(times), 3) if times else None,
            "p95_s": round(cut[18], 3) if times else None,
            "failed": failed,
        }
    finally:
        stop.set()
        await asyncio.to_thread(fleet.stop)
        await svc.stop()
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--homes", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print only the JSON figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hs-measure-") as workdir:
        figures = asyncio.run(run(args.presses, args.homes, Path(workdir)))
    summary = {"median_s": figures["median_s"], "p95_s": figures["p95_s"], "failed": figures["failed"]}
    if not args.json:
        print(f"measure now: {figures}", file=sys.stderr)
    print(json.dumps(figures))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
