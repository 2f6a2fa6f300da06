"""Profile accuracy and evaluation time: emulator -> Mosquitto -> collector -> evaluate -> truth.

    python bench/insight.py --homes 1000 --days 7 --json
    python bench/insight.py --scale 100000 --json     # evaluation time only (no broker)

Accuracy: a private Mosquitto and a ``homescope-collector serve`` process (SQLite) are
started; a persona-mixed fleet back-fills ``--days`` of 15-minute windows through the real
agent outbox/publisher over MQTT, as fast as the collector acknowledges; the emulator's
CRM export is imported; a full evaluation runs as of the end of the back-fill; every
label, flag and warning is scored against the emulator's ground truth.

Scale: ``--sample`` homes are simulated in-process (report body -> rollup, the ingest
path without the broker), their day rows are copied to ``--scale`` gateway ids in a fresh
store, and a full evaluation of all of them is timed.

Prints one JSON object (``--json``) or a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.crm import parse_subscribers  # noqa: E402
from collector.profiles.config import load_config  # noqa: E402
from collector.profiles.evaluate import evaluate  # noqa: E402
from collector.profiles.rollup import day_of, merge_day, split_day, window_contribution  # noqa: E402
from collector.store import open_store  # noqa: E402
from collector.store.base import drain_folds, insights  # noqa: E402
from emulator.clock import SimClock  # noqa: E402
from emulator.days import is_weekday  # noqa: E402
from emulator.fleet import Fleet  # noqa: E402
from emulator.home import VirtualHome  # noqa: E402
from emulator.personas import parse_mix  # noqa: E402
from emulator.truth import OUTCOMES, crm_rows, fleet_specs, write_crm, write_truth  # noqa: E402
from tests.broker import Broker, free_port  # noqa: E402

NO_SCHEDULE = "[schedule]\nevaluate_every_s = 0\n"


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def score(truth: dict[str, list[str]], got: dict[str, set[str]]) -> dict[str, dict[str, float | int | None]]:
    """Precision, recall and support of every outcome."""
    out: dict[str, dict[str, float | int | None]] = {}
    for name in OUTCOMES:
        tp = sum(1 for g, t in truth.items() if name in t and name in got.get(g, set()))
        fp = sum(1 for g, t in truth.items() if name not in t and name in got.get(g, set()))
        fn = sum(1 for g, t in truth.items() if name in t and name not in got.get(g, set()))
        out[name] = {
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "support": tp + fn,
        }
    return out


async def _import_and_evaluate(
    db: str, crm_text: str, as_of: int, workers: int | None
) -> tuple[dict[str, Any], dict[str, set[str]]]:
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        ins = insights(store)
        await ins.upsert_subscribers(parse_subscribers(crm_text).rows)
        await drain_folds(ins)  # what the collector had not yet folded when it stopped
        cpu = _cpu() + _cpu(resource.RUSAGE_CHILDREN)
        report = await evaluate(ins, load_config(), as_of=as_of, workers=workers)
        # the workers are children: their CPU counts once they have exited
        figures = {**report.to_dict(), "cpu_s": round(_cpu() + _cpu(resource.RUSAGE_CHILDREN) - cpu, 2)}
        found: dict[str, set[str]] = {}
        listing = await ins.homes(limit=10**7)
        for home in listing["homes"]:
            found[home["gateway_id"]] = set(home["label"]) | set(home["flag"]) | set(home["warning"])
        return figures, found
    finally:
        await store.close()


#: /healthz tells its figures to signed-in callers only: the collector accepts this token.
HEALTH_TOKEN = "bench-health-token-0123456789"
HEALTH_HEADERS = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


def _wait_ready(port: int, timeout: float = 30.0) -> None:
    # reports published before the collector has subscribed would wait for a resend
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS)
            with urllib.request.urlopen(request, timeout=1) as r:
                if json.loads(r.read()).get("mqtt_connected"):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError("the collector did not connect to the broker in time")


def accuracy(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Back-fill through the broker and the collector, evaluate, score against the truth."""
    end = int(time.time()) // 86400 * 86400  # whole UTC days, so every window day is complete
    clock = SimClock.for_days(args.days, end)
    specs = fleet_specs(parse_mix(args.mix), args.homes, "bench", args.seed)
    write_truth(work / "truth.json", specs, clock.span)
    write_crm(work / "subscribers.csv", specs, clock.end)
    broker = Broker(args.mosquitto, work / "mosquitto")
    broker.start()
    config = work / "profiles.toml"
    config.write_text(NO_SCHEDULE)  # the bench runs one full evaluation itself, after the back-fill
    env = {**os.environ, "HOMESCOPE_USERS": "bench:only-for-measuring-42", "HOMESCOPE_API_TOKENS": HEALTH_TOKEN, "HOMESCOPE_PROFILES_CONFIG": str(config),
           "HOMESCOPE_BATCH_MAX": "500"}  # fmt: skip
    db = work / "collector.db"
    port = free_port()
    collector = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "serve", "--db", f"sqlite:///{db}", "--mqtt", broker.url,
         "--http", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "collector.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    try:
        _wait_ready(port)
        fleet = Fleet(len(specs), broker.url, specs=specs, span=clock.span, resend_after_s=120.0)
        fleet.start()
        fleet.wait_connected(max(20.0, len(specs) / 40))
        started, cpu, children = time.monotonic(), _cpu(), _cpu(resource.RUSAGE_CHILDREN)

        def progress(done: int, total: int) -> None:
            if not args.json and done % max(1, total // 10) == 0:
                print(
                    f"  back-fill {done}/{total} windows, {time.monotonic() - started:.0f} s", file=sys.stderr
                )

        reports = fleet.backfill(clock.first_end, clock.windows, clock.window_s, progress=progress)
        left = fleet.drain(timeout=300.0)
        backfill_s = time.monotonic() - started
        fleet.stop()
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(60)
        broker.stop()
    figures, found = asyncio.run(
        _import_and_evaluate(str(db), (work / "subscribers.csv").read_text(), clock.end, args.workers)
    )
    truth = {g: h["truth"] for g, h in json.loads((work / "truth.json").read_text())["homes"].items()}
    return {
        "mode": "accuracy",
        "homes": len(specs),
        "days": args.days,
        "reports": reports,
        "unacknowledged": left,
        "backfill_s": round(backfill_s, 1),
        "reports_per_s": round(reports / backfill_s, 1),
        "emulator_cpu_s": round(_cpu() - cpu, 1),
        "collector_and_broker_cpu_s": round(_cpu(resource.RUSAGE_CHILDREN) - children, 1),
        # soho judges work hours on weekdays: a span of only Saturday and Sunday cannot show them
        "weekdays": sum(is_weekday(d) for d in range(clock.start // 86400, clock.end // 86400)),
        "evaluation_s": figures["seconds"],
        "evaluation": figures,
        "metrics": score(truth, found),
    }


def _simulate(specs: list[Any], clock: SimClock) -> list[list[tuple[int, str, str]]]:
    out = []
    for i, spec in enumerate(specs):
        home = VirtualHome(spec.gateway_id, i, spec, clock.span)
        days: dict[int, dict[str, Any]] = {}
        for k in range(clock.windows):
            start, end = clock.window(k)
            if not home.powered(start):
                home.skip(clock.window_s)
                continue
            body = home.report_body(clock.window_s, end)
            home.take_events()
            day = day_of(start)
            days[day] = merge_day(days.get(day), window_contribution(body, start, end))
        rows = []
        for day, data in sorted(days.items()):
            core, detail = split_day(data)
            rows.append(
                (day, json.dumps(core, separators=(",", ":")), json.dumps(detail, separators=(",", ":")))
            )
        out.append(rows)
    return out


def scale(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Time a full evaluation of ``--scale`` homes whose day rows come from simulated personas."""
    import sqlite3

    end = int(time.time()) // 86400 * 86400
    clock = SimClock.for_days(args.days, end)
    sample = fleet_specs(parse_mix(args.mix), args.sample, "sample", args.seed)
    t0 = time.monotonic()
    rows = _simulate(sample, clock)
    simulate_s = time.monotonic() - t0
    db = work / "scale.db"

    async def create() -> None:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        await store.close()

    asyncio.run(create())
    crm = crm_rows(sample, clock.end)
    conn = sqlite3.connect(db)
    conn.execute("BEGIN")
    lines = ["gateway_id,subscriber_id,plan_down_mbps,price,contract_end,area,community"]
    count = 0
    for n in range(args.scale):
        gid = f"gw-{n:07d}"
        conn.executemany(
            "INSERT INTO home_days (gateway_id, day, data, detail, updated_at) VALUES (?, ?, ?, ?, 0)",
            [(gid, day, core, detail) for day, core, detail in rows[n % len(rows)]],
        )
        count += len(rows[n % len(rows)])
        c = crm[n % len(crm)]
        lines.append(
            f"{gid},sub-{n},{c['plan_down_mbps']},{c['price']},{c['contract_end']},{c['area']},{c['community']}"
        )
    conn.execute("COMMIT")
    conn.close()
    figures, _ = asyncio.run(_import_and_evaluate(str(db), "\n".join(lines) + "\n", clock.end, args.workers))
    return {
        "mode": "scale",
        "homes": args.scale,
        "days": args.days,
        "day_rows": count,
        "sample_homes": args.sample,
        "simulate_s": round(simulate_s, 1),
        "evaluation_s": figures["seconds"],
        # CPU of the evaluation, its workers' included (forkserver workers are not our children,
        # so the evaluation's own "cpu_s" misses them); with load_average, what the time meant
        "evaluation_cpu_s": figures["cpu_seconds"],
        "evaluation": figures,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--mix", default="mix", help="persona mix (see homescope-emulator run --help)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, help="evaluation worker processes (default: one per CPU)")
    parser.add_argument(
        "--scale", type=int, help="time the evaluation of this many homes instead (no broker)"
    )
    parser.add_argument("--sample", type=int, default=200, help="--scale: homes actually simulated")
    parser.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    parser.add_argument("--keep", help="keep the work files in this directory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="insight-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        out = scale(args, work) if args.scale else accuracy(args, work)
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps({k: v for k, v in out.items() if k != "metrics"}, indent=1))
        for name, m in out.get("metrics", {}).items():
            print(f"{name:22} precision {m['precision']}  recall {m['recall']}  support {m['support']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
