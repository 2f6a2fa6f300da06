"""The insight results of an emulated fleet, as one JSON file to compare across code versions.

    python bench/fleet_check.py --homes 1000 --days 2 --out new.json
    python bench/fleet_check.py --root /path/to/old/checkout --homes 1000 --days 2 --out old.json
    cmp old.json new.json

The insight bench's persona fleet (``emulator.truth.fleet_specs``, fixed seed and end) is
simulated window by window; every report goes in as a frame through the collector's triage
(``classify``) and the store's ingest (``write_batch``, batches of 1000), is folded into its
home's day rollup (``drain_folds``) and the fleet is evaluated (``evaluate``, one process). The
file holds every home-day rollup (core and detail) and every home's results (rule, state,
score, sentence, evidence) and profile summary: what the home profiles mean, byte for byte.
``--root`` runs the code of another checkout (the same script: it uses only what both have).
Prints one JSON line: the counts and the seconds each phase took.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root", default=str(Path(__file__).resolve().parents[1]), help="checkout whose code runs"
    )
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--days", type=float, default=2)
    parser.add_argument(
        "--end", type=int, default=1_764_547_200, help="the last window's end (a UTC midnight)"
    )
    parser.add_argument("--db", default="", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, args.root)
    figures = asyncio.run(run(args))
    print(json.dumps(figures))
    return 0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from agent.runner import report_frame
    from collector import store as stores
    from collector.crm import parse_subscribers
    from collector.ingest import Incoming, classify
    from collector.profiles.config import load_config
    from collector.profiles.evaluate import evaluate
    from collector.store.base import drain_folds
    from emulator.clock import SimClock
    from emulator.home import VirtualHome
    from emulator.personas import parse_mix
    from emulator.truth import crm_rows, fleet_specs
    from protocol.topics import topic_for

    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='hs-fleet-')}/fleet.db"
    store = stores.open_store(url)
    await store.open()
    clock = SimClock.for_days(args.days, args.end)
    specs = fleet_specs(parse_mix("mix"), args.homes, "fleet", 7)
    batch_type = getattr(stores, "Batch", None)  # this branch's record; older code takes the triple

    async def write(messages: list[Any]) -> None:
        if batch_type is not None:
            await store.write_batch(batch_type(messages, [], []))
        else:
            await store.write_batch(messages, [], [])  # type: ignore[call-arg]

    t0 = time.monotonic()
    reports, pending = 0, []
    homes = [VirtualHome(spec.gateway_id, i, spec, clock.span) for i, spec in enumerate(specs)]
    seqs = [0] * len(homes)
    for k in range(clock.windows):
        start, end = clock.window(k)
        for i, home in enumerate(homes):
            if not home.powered(start):
                home.skip(clock.window_s)
                continue
            body = home.report_body(clock.window_s, end)
            home.take_events()
            seqs[i] += 1
            frame = report_frame(home.gateway_id, 1, seqs[i], (start, end), home.uptime_s, body, end)
            pending.append(classify(Incoming(topic_for(home.gateway_id, "report"), frame, 0, 1, float(end))))
            if len(pending) == 1000:
                await write(pending)
                reports, pending = reports + len(pending), []
    await write(pending)
    reports += len(pending)
    ingest_s = time.monotonic() - t0
    crm = crm_rows(specs, clock.end)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(crm[0]))
    writer.writeheader()
    writer.writerows(crm)
    await store.upsert_subscribers(parse_subscribers(text.getvalue()).rows)
    t0 = time.monotonic()
    folded = await drain_folds(store)
    fold_s = time.monotonic() - t0
    await evaluate(store, load_config(), as_of=clock.end, workers=1)
    ids = sorted(spec.gateway_id for spec in specs)
    out = {
        "days": {f"{g}/{d}": data for g, d, data in await store.home_days(0, detail=True)},
        "results": {g: await store.home_results(g) for g in ids},
        "profiles": {g: await store.home_summary(g) for g in ids},
    }
    for results in out["results"].values():
        for r in results:
            r.pop("since"), r.pop("changed_at"), r.pop("evaluated_at")  # wall-clock times
    for summary in out["profiles"].values():
        if summary:
            summary.pop("evaluated_at")
    await store.close()
    Path(args.out).write_text(json.dumps(out, sort_keys=True, separators=(",", ":")))
    fired = sum(len(r) for r in out["results"].values())
    import collector

    return {"code": str(Path(collector.__file__).parents[1]), "homes": len(ids), "reports": reports, "folded": folded, "home_days": len(out["days"]), "results": fired,
            "ingest_s": round(ingest_s, 1), "fold_s": round(fold_s, 1)}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
