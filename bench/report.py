"""Report time: back-fill a fleet, then produce the weekly and the monthly report (HTML, PDF, CSVs).

    python bench/report.py --homes 1000 --days 35 --json

The fleet is the synthetic one of ``tests/collector/reports/fleet.py`` (known figures per
home: Wi-Fi falling for some, gamers appearing, outliers, an area getting busy), written
straight into a fresh SQLite store (``--db`` for another URL) as folding and ingest would
have left it: day rollups, daily rollups, 4 facts a day, CRM rows, gateways. It is not
sent through MQTT (``bench/insight.py`` measures that path). Evaluations run at each week's
end so the reports have history; then the week and the month before the fleet's last day
are reported, each timed from the first query to the last file.

Prints one JSON line (``--json``): ``{"seconds": {"week": s, "month": s}, "files": {"html":
[..], "pdf": [..], "csv": [..]}, "pdf_pages": n, ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.profiles.config import load_config  # noqa: E402
from collector.profiles.evaluate import evaluate  # noqa: E402
from collector.reports.build import build  # noqa: E402
from collector.reports.period import month_of, week_of  # noqa: E402
from collector.store import open_store  # noqa: E402
from collector.store.base import insights  # noqa: E402
from tests.collector.reports.fleet import FleetSpec, fill  # noqa: E402

DAY = 86400


def pdf_pages(pdf: Path) -> int:
    """Pages of a PDF (poppler's pdfinfo, else the page objects counted)."""
    info = shutil.which("pdfinfo")
    if info:
        out = subprocess.run([info, str(pdf)], capture_output=True, text=True, check=True).stdout
        found = re.search(r"^Pages:\s+(\d+)", out, re.M)
        if found:
            return int(found.group(1))
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    end = date.today().replace(day=1)  # the fleet's days end with the last month: both periods complete
    first = end - timedelta(days=int(args.days))
    spec = FleetSpec(
        homes=args.homes, first_day=(first - date(1970, 1, 1)).days, days=int(args.days),
        worse_from=(end - date(1970, 1, 1)).days - 7, areas=args.areas, prefix="bench",
    )  # fmt: skip
    store = open_store(args.db or f"sqlite:///{work / 'report.db'}")
    await store.open()
    config = load_config()
    out: dict[str, Any] = {"homes": args.homes, "days": args.days, "seconds": {}, "files": {"html": [], "pdf": [],
                           "csv": []}, "pdf_pages": 0, "phases": {}}  # fmt: skip
    try:
        t0 = time.monotonic()
        await fill(store, spec)
        out["fill_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        ends = range(spec.first_day + 7, spec.first_day + spec.days + 1, 7)
        for day in [*ends, spec.first_day + spec.days]:
            await evaluate(insights(store), config, as_of=day * DAY, workers=args.workers)
        out["evaluate_s"] = round(time.monotonic() - t0, 1)
        for kind, period in (("week", week_of(end)), ("month", month_of(end))):
            t0 = time.monotonic()
            built = await build(store, period, config, pdf=not args.no_pdf)
            folder = work / period.name
            paths = built.write(folder)
            out["seconds"][kind] = round(time.monotonic() - t0, 2)
            out["phases"][kind] = built.seconds
            for p in paths:
                key = p.suffix[1:]
                if key in out["files"]:
                    out["files"][key].append(str(p) if args.keep else p.name)
                if key == "pdf":
                    out["pdf_pages"] += pdf_pages(p)
    finally:
        await store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--areas", type=int, default=20, help="CRM areas the homes spread over")
    parser.add_argument("--workers", type=int, default=1, help="evaluation worker processes")
    parser.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--no-pdf", action="store_true")
    parser.add_argument("--keep", help="keep the store and the report files in this directory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        out = asyncio.run(run(args, work))
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
