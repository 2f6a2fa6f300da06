"""Read latency at scale: the per-gateway page query and the segment query.

    python bench/query.py --gateways 100000 --days 7 --json

Fills a fresh store directly (no broker): N gateways, each with its latest frame and
``days`` x 96 fifteen-minute facts rows; one CRM row per gateway (``--areas`` areas of 10
communities each), one evaluated profile per home and its labels/flags/warnings (drawn at
the rates of the emulator's mixed fleet). Then times, for random gateways, the queries the
operator page makes (``gateway`` + ``history``) and, for random (rule, area) pairs, the
segment query ``homes?label=X&area=Y`` (first page of 100 and the total), and prints
p50/p95 of each in one JSON line. Never passes or fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.runner import report_frame  # noqa: E402
from collector.store import open_store  # noqa: E402
from emulator.home import VirtualHome  # noqa: E402


def fill_sqlite(path: str, gateways: int, days: int, areas: int) -> float:
    """Write the synthetic history with plain executemany; return seconds taken."""
    started = time.perf_counter()
    home = VirtualHome("bench-q", 7)
    frame = report_frame("bench-q", 1, 1, (0, 900), 1000, home.report_body(900), 0)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    end0 = 1_700_000_100 // 900 * 900
    windows = days * 96
    db.execute("BEGIN")
    # each gateway's latest report in reports, named by its key from the gateway row (as ingest writes it)
    last = end0 + 900 * (windows - 1)
    db.executemany(
        "INSERT INTO reports VALUES (?, 1, ?, 'report', ?, ?, 1000, ?, ?, ?)",
        ((f"gw-{g:07d}", windows, last - 900, last, last, last + 1, frame) for g in range(gateways)),
    )
    db.executemany(
        "INSERT INTO gateways (gateway_id, first_seen, last_seen, last_window_end, last_uptime_s, reports,"
        " latest_epoch, latest_seq, latest_rates) VALUES (?, 0, ?, ?, 1000, ?, 1, ?, '{}')",
        ((f"gw-{g:07d}", end0 + 900 * windows, last, windows, windows) for g in range(gateways)),
    )
    db.execute("COMMIT")
    rng = random.Random(1)
    for g0 in range(0, gateways, 2000):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO gateway_facts VALUES (?, ?, 900, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', '{}', '{}')",
            (
                (
                    f"gw-{g:07d}",
                    end0 + 900 * w,
                    rng.random() * 50,
                    40.0,
                    9_000_000,
                    900_000,
                    80_000.0,
                    8_000.0,
                    8,
                    6,
                    1,
                )
                for g in range(g0, min(gateways, g0 + 2000))
                for w in range(windows)
            ),
        )
        db.execute("COMMIT")
        print(f"\rfilled {min(gateways, g0 + 2000)}/{gateways} gateways", end="", file=sys.stderr)
    print(file=sys.stderr)
    fill_segments(db, gateways, areas)
    db.close()
    return time.perf_counter() - started


#: (rule, kind, share of homes): roughly the emulator's mixed fleet
RESULTS = (
    ("heavy_gamer", "label", 0.12), ("video_lover", "label", 0.25), ("reader", "label", 0.08),
    ("livestreamer", "label", 0.05), ("soho", "label", 0.06), ("mesh_or_fttr", "flag", 0.10),
    ("plan_upgrade", "flag", 0.07), ("video_package", "flag", 0.09), ("acceleration_package", "flag", 0.06),
    ("traffic_package", "flag", 0.04), ("churn_risk", "warning", 0.05), ("inactive", "warning", 0.04),
)  # fmt: skip


def fill_segments(db: sqlite3.Connection, gateways: int, areas: int) -> None:
    """CRM rows, evaluated profiles and current results for every gateway."""
    rng = random.Random(3)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO subscribers VALUES (?, ?, 100, 20, 39, '2027-06-30', ?, ?, 0)",
        (
            (f"gw-{g:07d}", f"sub-{g:07d}", f"area-{a:03d}", f"area-{a:03d}-c{rng.randrange(10)}")
            for g in range(gateways)
            for a in [rng.randrange(areas)]
        ),
    )
    db.executemany(
        "INSERT INTO home_profiles VALUES (?, 0, ?, ?, ?, ?, 0, '{}')",
        ((f"gw-{g:07d}", rng.uniform(30, 95), rng.randrange(2, 25), rng.uniform(0.5, 60), rng.uniform(0, 12))
         for g in range(gateways)),
    )  # fmt: skip
    db.executemany(
        "INSERT INTO home_results VALUES (?, ?, ?, 1, '7d', 'on', NULL, 'sentence', '{}', 0, 0, 0)",
        ((f"gw-{g:07d}", rule, kind) for g in range(gateways) for rule, kind, share in RESULTS
         if rng.random() < share),
    )  # fmt: skip
    db.execute("COMMIT")
    db.execute("ANALYZE")


async def measure(url: str, gateways: int, areas: int, samples: int) -> dict[str, float]:
    store = open_store(url)
    await store.open()
    rng = random.Random(2)
    times: list[float] = []
    try:
        for _ in range(samples):
            gid = f"gw-{rng.randrange(gateways):07d}"
            t = time.perf_counter()
            gw = await store.gateway(gid)
            history = await store.history(gid, 96)
            times.append((time.perf_counter() - t) * 1000)
            assert gw is not None and gw["latest"] and len(history) == 96  # the latest report read by its key
        segment = await segments(store, areas, samples)
    finally:
        await store.close()
    times.sort()
    return {
        "page_p50_ms": round(statistics.median(times), 2), "page_p95_ms": round(times[int(0.95 * len(times))], 2),
        **segment,
    }  # fmt: skip


async def segments(store: Any, areas: int, samples: int) -> dict[str, float]:
    """Latency of ``homes(label|flag|warning=X, area=Y)``: the first page and the total."""
    rng = random.Random(4)
    times: list[float] = []
    matched = 0
    for _ in range(samples):
        rule, kind, _ = rng.choice(RESULTS)
        area = f"area-{rng.randrange(areas):03d}"
        t = time.perf_counter()
        found = await store.homes(**{kind: rule}, area=area, limit=100)
        times.append((time.perf_counter() - t) * 1000)
        matched += found["total"]
        assert all(area == h["area"] and rule in h[kind] for h in found["homes"])
    times.sort()
    return {
        "segment_p50_ms": round(statistics.median(times), 2),
        "segment_p95_ms": round(times[int(0.95 * len(times))], 2),
        "segment_mean_homes": round(matched / samples, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gateways", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--areas", type=int, default=200, help="CRM areas (10 communities each)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hs-query-"))
    url = f"sqlite:///{workdir}/q.db"

    async def migrate() -> None:
        store = open_store(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    fill_s = fill_sqlite(f"{workdir}/q.db", args.gateways, args.days, args.areas)
    result = {
        "store": "sqlite",
        "gateways": args.gateways,
        "days": args.days,
        "facts_rows": args.gateways * args.days * 96,
        "fill_s": round(fill_s, 1),
        "db_mib": round((workdir / "q.db").stat().st_size / 2**20, 1),
        **asyncio.run(measure(url, args.gateways, args.areas, args.samples)),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    for path in workdir.iterdir():
        path.unlink()
    workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
