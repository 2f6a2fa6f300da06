"""Per-report CPU of the collector's steps, in-process (no broker): where the time goes.

    python bench/triage.py --reports 5000 --json

Times, per report and on one core, each triage step on the emulator's reports (the same as
bench/ingest.py's), the store plan, and a SQLite write of the whole stream in batches of 500
(statements and commit). Prints one JSON object of microseconds per report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_reports  # noqa: E402
from collector.ingest.triage import Incoming, triage  # noqa: E402
from collector.store import Batch, SpooledMessage, open_store  # noqa: E402
from collector.store.plan import plan_batch  # noqa: E402
from protocol import codec, inbound, models  # noqa: E402


def per_item_us(fn: Callable[[Any], object], items: Sequence[Any], rounds: int = 3) -> float:
    start = time.process_time()
    for _ in range(rounds):
        for item in items:
            fn(item)
    return round((time.process_time() - start) / (rounds * len(items)) * 1e6, 1)


def plan_us(messages: list[SpooledMessage], batch: int) -> float:
    states: dict[str, Any] = {}  # carried from batch to batch, as the store does
    start = time.process_time()
    for i in range(0, len(messages), batch):
        plan_batch(messages[i : i + batch], states)
    return round((time.process_time() - start) / len(messages) * 1e6, 1)


async def store_us(messages: list[SpooledMessage], batch: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/bench.db")
        await store.open()
        start = time.perf_counter()
        for i in range(0, len(messages), batch):
            await store.write_batch(Batch(messages[i : i + batch], [], []))
        elapsed = time.perf_counter() - start
        await store.close()
    return round(elapsed / len(messages) * 1e6, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    reports = make_reports(args.reports, min(500, args.reports))
    frames = [frame for _, frame, _ in reports]
    bodies = [codec.unframe(f) for f in frames]
    decoded = [codec.decode_body(b) for b in bodies]
    items = [Incoming(topic, frame, 1, 1, time.time()) for topic, frame, _ in reports]
    pairs = [(frame, topic) for topic, frame, _ in reports]
    messages = [m for m in (triage(i).out for i in items) if isinstance(m, SpooledMessage)]
    # the tiers are private to protocol.inbound: timed here one by one, accept() as a whole below
    figures = {
        "reports": len(reports),
        "unframe_inflate_us": per_item_us(codec.unframe, frames),
        "c_keys_check_us": per_item_us(lambda b: inbound._unique_keys(b, codec.MAX_DEPTH), bodies),
        "canonical_decode_us": per_item_us(inbound._canonical, bodies),
        "closed_mirror_check_us": per_item_us(models.closed_message, bodies),
        "full_way_decode_body_us": per_item_us(codec.decode_body, bodies),
        "full_way_check_us": per_item_us(models.check, decoded),
        "accept_us": per_item_us(lambda p: inbound.accept(*p), pairs),
        "triage_us": per_item_us(triage, items),
        "plan_us": plan_us(messages, 500),
        "sqlite_write_wall_us": asyncio.run(store_us(messages, 500)),
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
