"""The cost of pseudonymising a report at ingest (collector/privacy/scrub.py), per report.

    python bench/privacy.py --reports 5000 --json

Emulator reports (stations, radios, app categories, neighbours; the ones bench/ingest.py
sends) are triaged as ingest triages them, then rewritten by the Scrubber (decode the
msgpack, replace MACs, hostnames and SSIDs, re-encode, re-compress). Prints one JSON
object: CPU microseconds per report (time.process_time, which holds on a shared machine) for
triage alone and for the rewrite, medians of --repeat.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_reports  # noqa: E402
from collector.ingest.triage import Incoming, triage  # noqa: E402
from collector.privacy.scrub import Scrubber  # noqa: E402
from collector.store import SpooledMessage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reports = make_reports(args.reports, args.homes)
    scrubber = Scrubber(b"k" * 32)
    triage_us, scrub_us = [], []
    for _ in range(args.repeat):
        start = time.process_time()
        messages = [
            triage(Incoming(topic, frame, i, 1, time.time())).out
            for i, (topic, frame, _) in enumerate(reports)
        ]
        triage_us.append((time.process_time() - start) * 1e6 / len(reports))
        spooled = [m for m in messages if isinstance(m, SpooledMessage)]
        start = time.process_time()
        for m in spooled:
            scrubber.message(m)
        scrub_us.append((time.process_time() - start) * 1e6 / len(spooled))
    size = median(len(frame) for _, frame, _ in reports)
    out = {
        "bench": "privacy",
        "reports": len(reports),
        "frame_bytes_median": size,
        "triage_us_per_report": round(median(triage_us), 1),
        "scrub_us_per_report": round(median(scrub_us), 1),
        "runs_scrub_us": [round(x, 1) for x in scrub_us],
    }
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
