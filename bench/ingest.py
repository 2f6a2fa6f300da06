"""Ingest throughput: the full collector path against a bare paho QoS 1 subscriber.

    python bench/ingest.py --reports 20000 --json

Method: for each consumer, a persistent MQTT 5 session is created and left offline, the
N reports are queued in a private Mosquitto on loopback, then the consumer connects and
the time until its last message is counted (baseline) or committed (collector) is measured.
The queue is filled before the clock starts, so the publisher's speed does not count.
Reports are the emulator's (stations, radios, app categories), ~2-4 KB each; ``--compact``
sends them as agents of protocol 1.2 do (~0.6-1 KB).
Prints one JSON line: a list with one object per store (and per collector count).
Collectors run with their default settings (``BENCH_BATCH_MAX`` sets ``HOMESCOPE_BATCH_MAX``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from statistics import median

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.publisher.compaction import Compactor  # noqa: E402
from agent.runner import report_frame  # noqa: E402
from emulator.home import VirtualHome  # noqa: E402
from protocol.topics import subscription, topic_for  # noqa: E402
from tests.broker import Broker, free_port  # noqa: E402

PY = sys.executable


def make_reports(n: int, homes: int, compact: bool = False) -> list[tuple[str, bytes, tuple[str, int, int]]]:
    """``compact``: as agents of protocol 1.2 send them, each acknowledged at once (so a home's
    first report and every 16th carry the static view, the others name it)."""
    out = []
    houses = [VirtualHome(f"bench-{i:05d}", 1000 + i) for i in range(homes)]
    compactors = {h.gateway_id: Compactor() for h in houses}
    # Windows that end before now, as an agent's backlog does: reports from years ago (as this bench
    # sent until session 9) were past every retention, so the collector's retention pass deleted the
    # day rollups being written while the run was timed (it stalled some runs for seconds).
    windows = n // homes + 1
    t0 = int(time.time()) // 900 * 900 - 900 * windows
    for w in range(windows):
        for h in houses:
            if len(out) == n:
                return out
            seq = w + 1
            framing = compactors[h.gateway_id].frame if compact else report_frame
            end = t0 + 900 * (w + 1)
            frame = framing(h.gateway_id, 1, seq, (end - 900, end), h.uptime_s, h.report_body(900, end), end)
            compactors[h.gateway_id].acked(1, [(seq, seq)])
            out.append((topic_for(h.gateway_id, "report"), frame, (h.gateway_id, 1, seq)))
    return out


def connect_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    return props


def forget_session(port: int, client_id: str) -> None:
    """End a persistent session, so the next runs' reports are not also queued for it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    client.connect("127.0.0.1", port, clean_start=True, properties=props)
    client.loop_start()
    deadline = time.monotonic() + 5
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()


def publish_all(port: int, reports: list[tuple[str, bytes, tuple[str, int, int]]]) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, frame, qos=1) for topic, frame, _ in reports]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


BASELINE = r"""
import sys, time, resource
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
port, n, cid, topic = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
seen = 0
first = None
def on_message(c, u, m):
    global seen, first
    if first is None:
        first = time.perf_counter()
    seen += 1
props = Properties(PacketTypes.CONNECT); props.SessionExpiryInterval = 3600
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
c.on_message = on_message
c.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
start = time.perf_counter()
c.connect("127.0.0.1", port, clean_start=False, properties=props)
if sys.argv[5] == "subscribe-only":
    while not c.is_connected(): c.loop(0.1)
    c.loop(0.5); c.disconnect(); sys.exit(0)
while seen < n and time.perf_counter() - start < 300:
    c.loop(0.05)
end = time.perf_counter()
start = first or start  # first message to last, as the collector is timed
ru = resource.getrusage(resource.RUSAGE_SELF)
print(seen, end - start, ru.ru_maxrss, ru.ru_utime + ru.ru_stime)
"""


def baseline(broker: Broker, reports: list[tuple[str, bytes, tuple[str, int, int]]]) -> dict[str, float]:
    cid = f"baseline-{uuid.uuid4().hex[:6]}"
    topic = subscription("report")
    subprocess.run([PY, "-c", BASELINE, str(broker.port), "0", cid, topic, "subscribe-only"], check=True)
    publish_all(broker.port, reports)
    since, stolen = time.perf_counter(), stolen_s()
    done = subprocess.run(
        [PY, "-c", BASELINE, str(broker.port), str(len(reports)), cid, topic, "count"],
        check=True,
        capture_output=True,
        text=True,
    )
    seen, seconds, rss_kib, cpu_s = done.stdout.split()
    forget_session(broker.port, cid)
    return {
        "cpu_s": float(cpu_s),
        "received": int(seen),
        "seconds": float(seconds),
        "per_s": int(seen) / float(seconds),
        "rss_mib": int(rss_kib) / 1024,
        "steal_pct": steal_pct(since, stolen),
    }


#: /healthz tells its figures to signed-in callers only: the collector accepts this token.
HEALTH_TOKEN = "bench-health-token-0123456789"
HEALTH_HEADERS = {"Authorization": f"Bearer {HEALTH_TOKEN}"}


def health(port: int) -> dict[str, object] | None:
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS)
        with urllib.request.urlopen(request, timeout=1) as response:
            return dict(json.load(response))
    except OSError:
        return None
    except json.JSONDecodeError:
        return None


def start_collector(
    db: str, broker: Broker, cid: str, share: str, workdir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "HOMESCOPE_USERS": "bench:only-for-measuring-42",
        "HOMESCOPE_API_TOKENS": HEALTH_TOKEN,
        "HOMESCOPE_MQTT_CLIENT_ID": cid,
        "HOMESCOPE_SHARE_GROUP": share,
        **({"HOMESCOPE_BATCH_MAX": os.environ["BENCH_BATCH_MAX"]} if "BENCH_BATCH_MAX" in os.environ else {}),
        "HOMESCOPE_BATCH_WAIT_MS": "100",
    }
    log = open(workdir / f"{cid}.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [PY, "-m", "collector.cli", "serve", "--db", db, "--mqtt", broker.url, "--http", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120  # a loaded shared machine took over 30 s to start one
    while time.monotonic() < deadline:
        state = health(port)
        if state and state.get("mqtt_connected"):
            return proc, port
        if proc.poll() is not None:  # it failed to start: say why now, not after the deadline
            tail = (workdir / f"{cid}.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"collector exited with {proc.returncode}: {' | '.join(tail)}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"collector did not come up; see {workdir / (cid + '.log')}")


def family(pid: int) -> list[int]:
    """A live process and its descendants (the collector's store writer process)."""
    out = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            out += family(int(child))
    return out


def cpu_of(pid: int) -> float:
    """User + system CPU of one live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and its live descendants."""
    return sum(cpu_of(member) for member in family(pid))


def cpu_seconds_one(pid: int) -> float:
    """User + system CPU of one process (0 once it is gone: a trace outlives its processes)."""
    try:
        return cpu_of(pid)
    except OSError:
        return 0.0


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of a live process and its descendants, added up."""
    total = 0.0
    for member in family(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def cpu_ticks() -> list[int]:
    """The whole machine's CPU time so far, by kind (/proc/stat's first line: user, nice, system,
    idle, iowait, irq, softirq, steal, ...), in clock ticks."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def stolen_s() -> float:
    """CPU seconds the hypervisor gave to other guests while this machine wanted them (every core;
    /proc/stat's steal): the share of a run's cores a shared host took, for judging its figures."""
    ticks = cpu_ticks()
    return ticks[7] / os.sysconf("SC_CLK_TCK") if len(ticks) > 7 else 0.0


def steal_pct(since: float, stolen: float) -> float:
    """The machine's cores stolen since ``since`` (perf_counter) as a percentage of them all."""
    span = (time.perf_counter() - since) * (os.cpu_count() or 1)
    return round(100 * (stolen_s() - stolen) / span, 1) if span > 0 else 0.0


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every core; /proc/stat, idle and iowait excluded)."""
    ticks = cpu_ticks()
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class Trace:
    """``--trace``: what each of a run's processes did, sample by sample (every ~0.1 s): its CPU
    share of a core, the whole machine's, and the reports stored and folded so far. Shows which
    side bounds a run (a process near 100% while the other waits) and how long the fold's tail is."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = [p for pid in pids for p in family(pid)]  # each collector, then its writer process
        self.started = time.perf_counter()
        self.rows: list[dict[str, object]] = []
        self._last = (self.started, [cpu_seconds_one(p) for p in self.pids], machine_busy_s())

    def sample(self, states: list[dict[str, object]]) -> None:
        now, busy = time.perf_counter(), machine_busy_s()
        cpu = [cpu_seconds_one(p) for p in self.pids]
        then, before, machine = self._last
        if now - then < 0.09:
            return
        span = now - then
        self.rows.append(
            {
                "t": round(now - self.started, 2),
                "cpu_pct": [round((c - b) / span * 100) for c, b in zip(cpu, before, strict=True)],
                "machine_pct": round((busy - machine) / span * 100),
                "stored": sum(int(s.get("stored", 0)) for s in states),  # type: ignore[call-overload]
                "folded": sum(int(s.get("folded", 0)) for s in states),  # type: ignore[call-overload]
            }
        )
        self._last = (now, cpu, busy)


def collector_run(
    store_url: str,
    broker: Broker,
    reports: list[tuple[str, bytes, tuple[str, int, int]]],
    collectors: int,
    workdir: Path,
    trace: bool = False,
) -> dict[str, object]:
    share = f"bench{uuid.uuid4().hex[:6]}" if collectors > 1 else ""
    cids = [f"collector-{uuid.uuid4().hex[:6]}" for _ in range(collectors)]
    # Start-up CPU (imports, opening the store, connecting), measured on the first start of
    # each collector, is taken off the figures: on a loaded machine the health check that
    # says a collector is up can come after it has already stored much of the backlog.
    start_up = 0.0
    for cid in cids:  # create the sessions, then go offline so the reports queue up
        proc, _ = start_collector(store_url, broker, cid, share, workdir)
        start_up += cpu_seconds(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    publish_all(broker.port, reports)
    started = time.perf_counter()
    stolen = stolen_s()
    procs = [start_collector(store_url, broker, cid, share, workdir) for cid in cids]
    cpu_at_start = start_up  # imports and start-up excluded
    tracer = Trace([p.pid for p, _ in procs]) if trace else None
    n = len(reports)
    stored = 0
    while time.perf_counter() - started < 600:
        states = [health(port) or {} for _, port in procs]
        stored = sum(int(s.get("stored", 0)) + int(s.get("duplicates", 0)) for s in states)  # type: ignore[call-overload]
        if tracer is not None:
            tracer.sample(states)
        if stored >= n:
            break
        time.sleep(0.05)
    # first message received to last commit (the collector's own clock): start-up excluded,
    # as the baseline is timed from its first message
    seconds = max(float(s["last_commit_at"]) for s in states) - min(  # type: ignore[arg-type]
        float(s["first_received_at"])
        for s in states
        if s.get("first_received_at")  # type: ignore[arg-type]
    )
    cpu_at_commit = sum(cpu_seconds(p.pid) for p, _ in procs) - cpu_at_start
    # home-profile folding follows the ingest (acks first): time until it has caught up too,
    # on the collectors' own clock from the first message received, as the ingest rate is
    # (the collectors' start-up excluded)
    folded_s = None
    cpu_at_fold = None
    while time.perf_counter() - started < 900:
        states = [health(port) or {} for _, port in procs]
        if "folded" not in states[0]:
            break
        if tracer is not None:
            tracer.sample(states)
        if sum(int(s.get("folded", 0)) for s in states) >= n:  # type: ignore[call-overload]
            folded_s = max(float(s["last_fold_at"] or 0) for s in states) - min(  # type: ignore[arg-type]
                float(s["first_received_at"])
                for s in states
                if s.get("first_received_at")  # type: ignore[arg-type]
            )
            cpu_at_fold = sum(cpu_seconds(p.pid) for p, _ in procs) - cpu_at_start
            break
        time.sleep(0.05)
    rss = max(peak_rss_mib(p.pid) for p, _ in procs)
    stolen_pct = steal_pct(started, stolen)
    for p, _ in procs:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    for cid in cids:  # or every later run's reports would be queued for these sessions too
        forget_session(broker.port, cid)
    lost, duplicated = audit(store_url, reports)
    return {
        "seconds": seconds,
        "per_s": n / seconds,
        "peak_rss_mib": rss,
        "lost": lost,
        "duplicated": duplicated,
        "committed": stored,
        "folded_s": folded_s,
        "cpu_s": cpu_at_commit,
        "cpu_folded_s": cpu_at_fold,
        "steal_pct": stolen_pct,
        **({"trace": tracer.rows} if tracer is not None else {}),
    }


def audit(store_url: str, reports: list[tuple[str, bytes, tuple[str, int, int]]]) -> tuple[int, int]:
    import asyncio

    from collector.store import open_store

    async def keys() -> tuple[list[tuple[str, int, int]], int]:
        store = open_store(store_url)
        await store.open()
        try:
            stored = await store.stored_keys("report")
            counted = sum(g["reports"] for g in await store.list_gateways(limit=100_000))
            return stored, counted
        finally:
            await store.close()

    stored, counted = asyncio.run(keys())
    published = {k for _, _, k in reports}
    return len(published - set(stored)), counted - len(set(stored))


def pg_database() -> str | None:
    try:
        import psycopg

        admin = os.environ.get("HOMESCOPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
        name = f"hs_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return admin.rsplit("/", 1)[0] + "/" + name
    except Exception as exc:
        print(f"PostgreSQL not available for the bench: {exc}", file=sys.stderr)
        return None


def drop_pg_database(url: str) -> None:
    """Drop a database :func:`pg_database` made (each run's: left behind, they filled the disk and
    their autovacuum and checkpoints ran into later runs)."""
    import psycopg

    admin = os.environ.get("HOMESCOPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def summary(
    store: str,
    collectors: int,
    pairs: list[tuple[dict[str, float], dict[str, object]]],
    n: int,
    sizes: list[int],
) -> dict[str, object]:
    """One row of the output: medians over its runs (ratio = median rate / median baseline)."""
    rates = [float(full["per_s"]) for _, full in pairs]  # type: ignore[arg-type]
    bases = [base["per_s"] for base, _ in pairs]
    folded = [n / float(full["folded_s"]) for _, full in pairs if full["folded_s"]]  # type: ignore[arg-type]
    return {
        "store": store,
        "collectors": collectors,
        "reports": n,
        "runs": len(pairs),
        "report_bytes_median": sizes[len(sizes) // 2],
        "reports_per_s": round(median(rates), 1),
        "baseline_per_s": round(median(bases), 1),
        "ratio": round(median(rates) / median(bases), 3),
        "ratios": [round(r / b, 3) for r, b in zip(rates, bases, strict=True)],
        "lost": sum(int(full["lost"]) for _, full in pairs),  # type: ignore[call-overload]
        "duplicated": sum(int(full["duplicated"]) for _, full in pairs),  # type: ignore[call-overload]
        "with_profiles_per_s": round(median(folded), 1) if folded else None,
        # the sustained rate with home profiles folded (every report stored AND folded), as a
        # ratio to the same bare paho baseline as ``ratio``
        "folded_ratio": round(median(folded) / median(bases), 3) if folded else None,
        "folded_ratios": [
            round(n / float(full["folded_s"]) / base["per_s"], 3) for base, full in pairs if full["folded_s"]
        ],  # type: ignore[arg-type]
        # CPU per message (the collector's includes folding, which runs when ingest idles):
        # steadier than rates where other work shares the cores
        "cpu_us_per_report": round(median(float(full["cpu_s"]) for _, full in pairs) / n * 1e6, 1),  # type: ignore[arg-type]
        # all of it, stored and folded: the collector's processes' CPU until the last fold
        "cpu_folded_us_per_report": round(
            median(float(full["cpu_folded_s"]) for _, full in pairs if full["cpu_folded_s"]) / n * 1e6, 1
        )
        if folded
        else None,  # type: ignore[arg-type]
        # folded rate / ingest rate of the same run: steadier than either ratio on a shared machine
        "folded_per_ingested": [
            round(n / float(full["folded_s"]) / float(full["per_s"]), 3)
            for _, full in pairs
            if full["folded_s"]
        ],  # type: ignore[arg-type]
        "baseline_cpu_us_per_message": round(median(base["cpu_s"] for base, _ in pairs) / n * 1e6, 1),
        "collector_peak_rss_mib": round(max(float(full["peak_rss_mib"]) for _, full in pairs), 1),  # type: ignore[arg-type]
        "baseline_rss_mib": round(max(base["rss_mib"] for base, _ in pairs), 1),
        # the share of the machine's cores a shared host took during each run (/proc/stat steal):
        # runs with much of it say more about the host than about the code
        "steal_pct": [full["steal_pct"] for _, full in pairs],
        "baseline_steal_pct": [base["steal_pct"] for base, _ in pairs],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20000)
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--collectors", default="1,2", help="collector processes per run (shared subscription)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each row, interleaved; figures are their medians"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="print each run's per-process CPU, stored and folded every ~0.1 s (stderr)",
    )
    parser.add_argument(
        "--compact", action="store_true", help="compact reports (protocol 1.2), as agents now send"
    )
    args = parser.parse_args()
    reports = make_reports(args.reports, min(args.homes, args.reports), args.compact)
    sizes = sorted(len(f) for _, f, _ in reports)
    workdir = Path(tempfile.mkdtemp(prefix="hs-bench-"))
    broker = Broker(
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else "mosquitto",
        workdir / "broker",
        extra_config="listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_queued_bytes 0",
    )
    broker.start()
    try:
        counts = [int(c) for c in args.collectors.split(",")]
        rows = [(store, c) for store in ("sqlite", "postgresql") if store in args.stores for c in counts]
        samples: dict[tuple[str, int], list[tuple[dict[str, float], dict[str, object]]]] = {
            row: [] for row in rows
        }
        for rep in range(args.repeat):  # rounds of every row, so each row meets the machine's moods
            for store, collectors in rows:
                # N processes on one SQLite file: each batch is one write transaction (BEGIN IMMEDIATE)
                url = (
                    f"sqlite:///{workdir}/bench-{collectors}-{rep}.db" if store == "sqlite" else pg_database()
                )
                if url is None:
                    continue
                base = baseline(broker, reports)
                try:
                    full = collector_run(url, broker, reports, collectors, workdir, args.trace)
                finally:
                    if store == "postgresql":
                        drop_pg_database(url)
                for row in full.pop("trace", []):  # type: ignore[attr-defined]
                    print(f"  trace {json.dumps(row)}", file=sys.stderr)
                samples[(store, collectors)].append((base, full))
                print(
                    f"{store} x{collectors} run {rep + 1}/{args.repeat}: {float(full['per_s']):.1f}/s vs baseline "  # type: ignore[arg-type]
                    f"{base['per_s']:.1f}/s (ratio {float(full['per_s']) / base['per_s']:.3f}), "  # type: ignore[arg-type]
                    f"folded {len(reports) / float(full['folded_s'] or 'inf'):.1f}/s, "  # type: ignore[arg-type]
                    f"lost {full['lost']}, duplicated {full['duplicated']}",
                    file=sys.stderr,
                )
        results = [
            summary(store, collectors, pairs, len(reports), sizes)
            for (store, collectors), pairs in samples.items()
            if pairs
        ]
        for r in results:
            print(
                f"{r['store']} x{r['collectors']}: {r['reports_per_s']}/s vs baseline {r['baseline_per_s']}/s "
                f"(ratio {r['ratio']}; runs {r['ratios']}), folded ratio {r['folded_ratio']} (runs {r['folded_ratios']}), "
                f"lost {r['lost']}, duplicated {r['duplicated']}",
                file=sys.stderr,
            )
    finally:
        broker.stop()
    print(json.dumps(results) if args.json else json.dumps(results, indent=2))
    return 0 if all(r["lost"] == 0 and r["duplicated"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
