"""The collector's cost of the unclassified-domains view: folding reports that name 20 domains
(memberships upserted, a rule recounted) against the same reports without them, and the view's query.

    python bench/unclassified.py --homes 200 --windows 10 --json

Emulator homes whose reports each name 20 domains (an agent at ``dpi_unclassified_domains = 20``)
on a SQLite store in a temporary folder; each run stores the reports, then folds them all (``drain_folds``) and times the
fold. Prints one JSON object: fold microseconds per report with and without the section (medians of
--repeat), their ratio, and the view's listing time over the stored week.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.runner import report_frame  # noqa: E402
from collector.dpi import rules, unclassified  # noqa: E402
from collector.ingest import Incoming, classify  # noqa: E402
from collector.store import Batch, SpooledMessage, open_store  # noqa: E402
from collector.store.base import drain_folds, insights  # noqa: E402
from emulator.home import VirtualHome  # noqa: E402
from protocol.topics import topic_for  # noqa: E402

START = 1_795_996_800 + 8 * 3600  # Monday 2026-11-30 08:00 UTC (ISO week 2026-W49)


def make(homes: int, windows: int, top: int) -> list[SpooledMessage]:
    """Emulator reports; with ``top``, each names ``top`` domains drawn from a pool of 500 (a few
    popular, a long tail: an agent at its cap), each a small share of what ``apps`` counted."""
    rng = random.Random(7)
    pool = [f"d{i:03d}.example" for i in range(500)]
    weights = [1 / (i + 1) for i in range(500)]
    out = []
    for i in range(homes):
        gid = f"bench-u-{i:05d}"
        home = VirtualHome(gid, 500 + i)
        for k in range(1, windows + 1):
            end = START + 900 * k
            body = home.report_body(900, end)
            if top:
                total = sum(a["bytes_down"] for a in body["apps"] if a["category"] == "other")
                names = set()
                while len(names) < top:
                    names.add(rng.choices(pool, weights)[0])
                body["unclassified"] = [
                    {
                        "domain": d,
                        "category": "other",
                        "bytes_up": 10,
                        "bytes_down": total // (2 * top),
                        "active_minutes": 3,
                    }
                    for d in names
                ]
            frame = report_frame(gid, 1, k, (end - 900, end), home.uptime_s, body, end)
            m = classify(Incoming(topic_for(gid, "report"), frame, k, 1, time.time()))
            assert isinstance(m, SpooledMessage)
            out.append(m)
    return out


async def fold_run(messages: list[SpooledMessage], folder: Path) -> tuple[float, float]:
    """(fold microseconds per report, listing milliseconds)."""
    store = open_store(f"sqlite:///{folder}/u.db")
    store.folds.state.home_key = b"k" * 32
    store.keep_folds_in_memory = False  # fold from the table, as a backlog is folded
    await store.open()
    try:
        await rules.assign(store.db, "d001.example", "video", actor="bench")
        for i in range(0, len(messages), 500):
            await store.write_batch(Batch(messages[i : i + 500], [], []))
        started = time.perf_counter()
        await drain_folds(insights(store), chunk=500)
        fold_us = (time.perf_counter() - started) * 1e6 / len(messages)
        started = time.perf_counter()
        await unclassified.listing(store.db, 202649, 5)
        return fold_us, (time.perf_counter() - started) * 1e3
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--homes", type=int, default=200)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    named, plain = make(args.homes, args.windows, 20), make(args.homes, args.windows, 0)
    with_us, without_us, listing_ms = [], [], []
    for r in range(args.repeat):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            # alternate which goes first, so a load change on a shared machine hits both alike
            runs = [(named, a, with_us), (plain, b, without_us)]
            for messages, folder, into in runs if r % 2 == 0 else runs[::-1]:
                fold_us, ms = asyncio.run(fold_run(messages, Path(folder)))
                into.append(fold_us)
                if messages is named:
                    listing_ms.append(ms)
    rows = sum(len(m.body.get("unclassified") or []) for m in named)
    out = {
        "bench": "unclassified",
        "reports": len(named),
        "unclassified_rows_per_report": round(rows / len(named), 1),
        "fold_us_per_report_with": round(median(with_us), 1),
        "fold_us_per_report_without": round(median(without_us), 1),
        "fold_ratio": round(median(with_us) / median(without_us), 3),
        "listing_ms": round(median(listing_ms), 2),
        "runs_with_us": [round(x, 1) for x in with_us],
        "runs_without_us": [round(x, 1) for x in without_us],
    }
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
