"""The home-profile fold's cost per report, in one process (collector/store/folding.py).

    python bench/fold.py --reports 4000 --json
    python bench/fold.py --reports 4000 --profile      # where the time goes (cProfile, top 25)

Emulator reports (as bench/ingest.py sends them, on a fixed clock: ``--homes`` homes, consecutive windows) are
triaged and scrubbed as ingest does, committed to a fresh SQLite store in batches of 1000 (the
store keeps them in memory for folding, as a collector does), then ``drain_folds`` folds them
all into their home-days. CPU (``time.process_time``, which holds on a shared machine) and wall
time per report, medians of ``--repeat`` fresh stores (the collector's GC settings), and a digest of
every stored home-day row (to show a change folds the very same days). ``--split`` also times the two halves
of a fold per report: what each window adds and adding it to a day (``add_window``); what each window adds
as the fold computes it, from the report's msgpack (``fold_parts_us``: ``rollup.packed_window_parts``), and the
way from a decoded body (``decode_us``, the fold's fields decoded, plus ``window_parts_us``). Prints one JSON
object (the last line).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.runner import report_frame  # noqa: E402
from collector.ingest.triage import Incoming, triage  # noqa: E402
from collector.privacy.scrub import Scrubber  # noqa: E402
from collector.profiles.rollup import add_window, day_of, window_parts  # noqa: E402
from collector.runtime import tune_gc  # noqa: E402
from collector.store import Batch, SpooledMessage, open_store  # noqa: E402
from collector.store.base import drain_folds, insights  # noqa: E402
from collector.store.folding import fold_body, fold_parts  # noqa: E402
from emulator.home import VirtualHome  # noqa: E402
from protocol.topics import topic_for  # noqa: E402


def reports(n: int, homes: int) -> list[tuple[str, bytes]]:
    """bench/ingest.py's reports, on a fixed clock (the same bodies every run)."""
    houses = [VirtualHome(f"bench-{i:05d}", 1000 + i) for i in range(homes)]
    t0 = 1_700_000_000
    out: list[tuple[str, bytes]] = []
    for w in range(n // homes + 1):
        for h in houses[: n - len(out)]:
            window = (t0 + 900 * w, t0 + 900 * (w + 1))
            frame = report_frame(
                h.gateway_id, 1, w + 1, window, h.uptime_s, h.report_body(900, window[1]), t0
            )
            out.append((topic_for(h.gateway_id, "report"), frame))
    return out


def spooled(n: int, homes: int) -> list[SpooledMessage]:
    scrubber = Scrubber(b"k" * 32)
    out = []
    for i, (topic, frame) in enumerate(reports(n, homes)):
        m = triage(Incoming(topic, frame, i, 1, time.time())).out
        assert isinstance(m, SpooledMessage)
        out.append(scrubber.message(m))
    return out


async def one_run(
    messages: list[SpooledMessage], work: Path, profile: cProfile.Profile | None, from_table: bool = False
) -> tuple[float, float, str]:
    store = open_store(f"sqlite:///{work}/fold-{time.monotonic_ns()}.db")
    await store.open()
    if from_table:  # as after a restart, or past the memory backlog: read back, inflate, decode
        insights(store).keep_folds_in_memory = False
    try:
        for i in range(0, len(messages), 1000):
            await store.write_batch(Batch(messages[i : i + 1000], [], []))
        cpu, wall = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        folded = await drain_folds(insights(store))
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert folded == len(messages), (folded, len(messages))
        rows = await store.db.fetch(
            "SELECT gateway_id, day, data, detail FROM home_days ORDER BY gateway_id, day"
        )
        text = repr([tuple(r.values()) for r in rows])
        if os.environ.get("BENCH_FOLD_DUMP"):
            Path(os.environ["BENCH_FOLD_DUMP"]).write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return cpu, wall, digest
    finally:
        await store.close()


def split(messages: list[SpooledMessage]) -> tuple[float, float, float, float]:
    """CPU per report: decode the fold's fields, window_parts, add_window (into fresh days); fold_parts."""
    t0 = time.process_time()
    bodies = [fold_body(m) for m in messages]
    t1 = time.process_time()
    parts = [window_parts(b, m.window_start, m.window_end) for b, m in zip(bodies, messages, strict=True)]
    t2 = time.process_time()
    days: dict[tuple[str, int], dict[str, object]] = {}
    for (c, sparse), m in zip(parts, messages, strict=True):
        add_window(days.setdefault((m.gateway_id, day_of(m.window_start)), {}), c, sparse)
    t3 = time.process_time()
    packed = [fold_parts(m) for m in messages]
    t4 = time.process_time()
    assert len(packed) == len(parts)
    n = len(messages)
    return (t1 - t0) * 1e6 / n, (t2 - t1) * 1e6 / n, (t3 - t2) * 1e6 / n, (t4 - t3) * 1e6 / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=4000)
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--split", action="store_true")
    parser.add_argument("--from-table", action="store_true", help="fold from the queue table, not memory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    messages = spooled(args.reports, args.homes)
    tune_gc()  # as the collector's processes do
    profile = cProfile.Profile() if args.profile else None
    cpus, walls, splits = [], [], []
    with tempfile.TemporaryDirectory(prefix="hs-fold-") as work:
        for _ in range(args.repeat):
            cpu, wall, digest = asyncio.run(one_run(messages, Path(work), profile, args.from_table))
            cpus.append(cpu * 1e6 / len(messages))
            walls.append(wall * 1e6 / len(messages))
            if args.split:
                splits.append(split(messages))
    if profile is not None:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    out: dict[str, object] = {
        "bench": "fold",
        "reports": len(messages),
        "homes": args.homes,
        "from_table": args.from_table,
        "fold_cpu_us_per_report": round(median(cpus), 1),
        "fold_wall_us_per_report": round(median(walls), 1),
        "runs_cpu_us": [round(x, 1) for x in cpus],
        # the stored home-days, as text: equal before and after a change that must not change them
        "home_days_sha256": digest,
    }
    if splits:
        out["decode_us"] = round(median(s[0] for s in splits), 1)
        out["window_parts_us"] = round(median(s[1] for s in splits), 1)
        out["add_window_us"] = round(median(s[2] for s in splits), 1)
        out["fold_parts_us"] = round(median(s[3] for s in splits), 1)
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
