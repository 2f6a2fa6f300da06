"""The cost of pseudonymising a report at ingest (collector/privacy/scrub.py), per report.

    python bench/privacy.py --reports 5000 --json

Emulator reports (stations, radios, app categories, neighbours; the ones bench/ingest.py
sends) are triaged as ingest triages them, then rewritten by the Scrubber. Prints one JSON
object: CPU microseconds per report (time.process_time, which holds on a shared machine),
medians of --repeat, for triage alone, for the whole ``Scrubber.message`` (rewrite +
deflate; ``python_scrub``: the same the Python way), and for the rewrite alone (unframed msgpack in, unframed msgpack out) both ways,
timed alternately in this one process: ``c_rewrite`` (the C extension ``_scrub``: one pass
over the bytes) and ``python_rewrite`` (its reference: decode the personal parts, rewrite
them, encode). ``c_share`` is the share of reports the C pass took (the rest it left to
Python); ``byte_identical`` whether both ways wrote the same bytes for every report.
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
from collector.privacy.scrub import Scrubber, _compiled, terminal_names  # noqa: E402
from collector.store import SpooledMessage  # noqa: E402
from collector.store.frames import frame_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reports = make_reports(args.reports, args.homes)
    scrubber = Scrubber(b"k" * 32)
    triage_us, scrub_us, python_scrub_us, c_us, py_us = [], [], [], [], []
    identical, c_share = True, None
    for _ in range(args.repeat):
        start = time.process_time()
        messages = [
            triage(Incoming(topic, frame, i, 1, time.time())).out
            for i, (topic, frame, _) in enumerate(reports)
        ]
        triage_us.append((time.process_time() - start) * 1e6 / len(reports))
        spooled = [m for m in messages if isinstance(m, SpooledMessage)]
        if c_share is None:  # once: which way each report takes, and whether both write the same
            c_share = sum(_takes_c(scrubber, m) for m in spooled) / len(spooled)
            identical = all(
                scrubber.rewritten(m)[0] == scrubber.rewritten(m, compiled=False)[0] for m in spooled
            )
        start = time.process_time()
        for m in spooled:
            scrubber.message(m)
        scrub_us.append((time.process_time() - start) * 1e6 / len(spooled))
        for compiled, into in ((True, c_us), (False, py_us)):  # alternated, run after run
            start = time.process_time()
            for m in spooled:
                scrubber.rewritten(m, compiled=compiled)
            into.append((time.process_time() - start) * 1e6 / len(spooled))
        start = time.process_time()  # the whole message the Python way, as before the C pass
        for m in spooled:
            frame_of(scrubber.rewritten(m, compiled=False)[0])
        python_scrub_us.append((time.process_time() - start) * 1e6 / len(spooled))
    size = median(len(frame) for _, frame, _ in reports)
    out = {
        "bench": "privacy",
        "reports": len(reports),
        "frame_bytes_median": size,
        "triage_us_per_report": round(median(triage_us), 1),
        "scrub_us_per_report": round(median(scrub_us), 1),
        "python_scrub_us_per_report": round(median(python_scrub_us), 1),
        "c_rewrite_us_per_report": round(median(c_us), 1),
        "python_rewrite_us_per_report": round(median(py_us), 1),
        "c_share": c_share,
        "byte_identical": identical,
        "runs_scrub_us": [round(x, 1) for x in scrub_us],
        "runs_c_rewrite_us": [round(x, 1) for x in c_us],
        "runs_python_rewrite_us": [round(x, 1) for x in py_us],
    }
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


def _takes_c(scrubber: Scrubber, message: SpooledMessage) -> bool:
    if _compiled is None:
        return False
    try:
        _compiled.report(message.packed, {}, scrubber.mac, terminal_names, scrubber.keep_neighbour_names)
    except _compiled.Unsupported:
        return False
    return True


if __name__ == "__main__":
    main()
