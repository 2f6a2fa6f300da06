"""Processes and audits for the fault tests.

- :class:`CollectorProc`: ``homescope-collector serve`` as a subprocess (kill -9 it, read its
  ``/healthz``, its peak RSS).
- :class:`FleetProc`: ``tests/faults/fleetproc.py``, N gateways with durable file outboxes.
- :class:`Partition`: a network namespace on a veth pair, cut and healed with nftables.
- :func:`spool_truth` + :func:`read_store` + :func:`audit`: "0 lost" judged end to end, from
  what the agents committed to their outboxes to what the collector's store holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.store import open_store
from protocol.codec import decode
from tests.broker import Broker, free_port

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
Key = tuple[str, int, int]


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll until ``predicate()`` is truthy; return the seconds it took, fail after ``timeout``."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(interval)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HOMESCOPE_CRASH_AT"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def peak_rss_kib(pid: int) -> int:
    """VmHWM of a live process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


#: The bearer token fault tests' collectors accept, so /healthz shows its counts.
HEALTH_TOKEN = "faults-health-token-0123456789"


class CollectorProc:
    """``python -m collector.cli serve`` with its own SQLite file and a persistent MQTT session."""

    def __init__(self, workdir: Path, mqtt_url: str, *, db: Path | None = None, **settings: str) -> None:
        self.workdir = workdir
        self.mqtt_url = mqtt_url
        self.db = db or workdir / "collector.db"
        self.http_port = free_port()
        self.log_path = workdir / "collector.log"
        self.settings = {"mqtt_client_id": f"collector-{workdir.name}", "batch_wait_ms": "100", **settings}
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_rss_kib = 0
        self.starts = 0
        self._last: dict[str, Any] = {}
        #: Counters summed over every process this object started (as last seen before each exit).
        self.totals: dict[str, int] = {}

    def start(self, crash_at: str = "", wait: bool = True) -> None:
        self._fold()
        env = {f"HOMESCOPE_{k.upper()}": v for k, v in self.settings.items()}
        env["HOMESCOPE_USERS"] = "op:faults-long-password"
        env["HOMESCOPE_API_TOKENS"] = HEALTH_TOKEN  # /healthz tells its figures to signed-in callers only
        if crash_at:
            env["HOMESCOPE_CRASH_AT"] = crash_at
        argv = ["serve", "--db", f"sqlite:///{self.db}", "--mqtt", self.mqtt_url]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [PY, "-m", "collector.cli", *argv, "--http", f"127.0.0.1:{self.http_port}"],
                cwd=ROOT,
                env=_env(env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        # sample /healthz (and the RSS) while it runs, so a kill -9 loses at most 0.3 s of counts
        threading.Thread(target=self._poll, args=(self.proc,), daemon=True).start()
        if wait:
            wait_until(lambda: (self.health() or {}).get("mqtt_connected"), 20, "collector connected")

    def _poll(self, proc: subprocess.Popen[bytes]) -> None:
        while proc.poll() is None:
            if proc is self.proc:
                self.health()
            time.sleep(0.3)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self) -> dict[str, Any] | None:
        """The ``/healthz`` JSON (200 or 503), or None when it does not answer."""
        if self.proc is not None:
            self.peak_rss_kib = max(self.peak_rss_kib, peak_rss_kib(self.proc.pid))
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.http_port}/healthz",
                headers={"Authorization": f"Bearer {HEALTH_TOKEN}"},
            )
            with urllib.request.urlopen(request, timeout=2) as r:
                self._last = dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            self._last = dict(json.loads(exc.read()))
        except (OSError, ValueError):
            return None
        return self._last

    def _fold(self) -> None:
        for key in ("received", "stored", "duplicates", "quarantined", "quarantined_acked", "retries"):
            self.totals[key] = self.totals.get(key, 0) + int(self._last.get(key) or 0)
        self._last = {}

    def total(self, key: str) -> int:
        """A counter summed over all runs, including the live one."""
        return self.totals.get(key, 0) + int((self.health() or {}).get(key) or 0)

    def kill(self) -> None:
        """kill -9."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class FleetProc:
    """``tests/faults/fleetproc.py`` as a subprocess (optionally inside a network namespace)."""

    def __init__(
        self,
        workdir: Path,
        mqtt_url: str,
        *,
        prefix: str,
        gateways: int,
        reports: int,
        spool_root: Path | None = None,
        **opts: Any,
    ) -> None:
        self.workdir = workdir
        self.spool_dir = (spool_root or workdir) / f"spool-{prefix}"
        self.status_file = workdir / f"fleet-{prefix}.json"
        self.log_path = workdir / f"fleet-{prefix}.log"
        self.mqtt_url = mqtt_url
        self.prefix = prefix
        self.gateways = gateways
        self.reports = reports
        self.opts = opts
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, wrap: list[str] | None = None, crash_at: str = "") -> None:
        argv = [
            PY, "-m", "tests.faults.fleetproc", "--mqtt", self.mqtt_url, "--spool-dir", str(self.spool_dir),
            "--prefix", self.prefix, "--gateways", str(self.gateways), "--reports", str(self.reports),
            "--status-file", str(self.status_file),
        ]  # fmt: skip
        for key, value in self.opts.items():
            flag = "--" + key.replace("_", "-")
            argv += [flag] if value is True else [flag, str(value)]
        env = {"HOMESCOPE_CRASH_AT": crash_at} if crash_at else {}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*(wrap or []), *argv], cwd=ROOT, env=_env(env), stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> dict[str, int]:
        try:
            return dict(json.loads(self.status_file.read_text()))
        except (OSError, ValueError):
            return {}

    def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def kill_broker(broker: Broker) -> None:
    """kill -9 the broker (and close the pipe tests.broker leaves open, so it can start again)."""
    broker.kill()
    if broker.proc is not None and broker.proc.stderr is not None:
        broker.proc.stderr.close()


# -- the truth on each side -------------------------------------------------------------


@dataclass
class Spool:
    """One outbox file as the agent left it."""

    gateway_id: str
    epoch: int
    next_seq: int
    pending: int
    bytes: int
    dropped: int

    def keys(self) -> set[Key]:
        """Every record this outbox ever committed (seqs are only consumed by commits)."""
        return {(self.gateway_id, self.epoch, s) for s in range(1, self.next_seq)}


def read_spool(path: Path, gateway_id: str | None = None) -> Spool:
    db = sqlite3.connect(path, timeout=10)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        pending = int(db.execute("SELECT count(*) FROM records").fetchone()[0])
    finally:
        db.close()
    return Spool(
        gateway_id or path.stem,
        int(meta["epoch"]),
        int(meta["next_seq"]),
        pending,
        int(meta.get("bytes", 0)),
        int(meta.get("dropped_total", 0)),
    )


def spool_truth(spool_dir: Path) -> list[Spool]:
    return [read_spool(p) for p in sorted(spool_dir.glob("*.db"))]


@dataclass
class StoreView:
    keys: set[Key]
    report_keys: set[Key]
    gateways: dict[str, dict[str, Any]]
    counts: dict[str, int]
    quarantine: list[dict[str, Any]] = field(default_factory=list)


def read_store(db: Path) -> StoreView:
    """The collector's store, read through the Store interface (``stored_keys`` et al.)."""

    async def go() -> StoreView:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        try:
            keys = await store.stored_keys()
            reports = await store.stored_keys("report")
            gateways = {g["gateway_id"]: g for g in await store.list_gateways(limit=1_000_000)}
            counts = await store.counts()
            quarantine = await store.quarantine(limit=1_000_000)
        finally:
            await store.close()
        return StoreView(set(keys), set(reports), gateways, counts, quarantine)

    return asyncio.run(go())


def stored_count(db: Path, prefix: str = "") -> int:
    """A cheap live count of stored records (for polling while the collector writes)."""
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT count(*) FROM reports WHERE gateway_id LIKE ?", (prefix + "%",)).fetchone()
        return int(row[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


@dataclass
class Audit:
    spooled: int
    stored: int
    lost: int
    unexpected: int
    double_counted: int
    dropped_by_quota: int

    def figures(self) -> dict[str, int]:
        return dict(self.__dict__)


def audit(spools: list[Spool], view: StoreView) -> Audit:
    """Compare what the agents committed with what the store holds, per key and per aggregate."""
    expected: set[Key] = set().union(*(s.keys() for s in spools)) if spools else set()
    ids = {s.gateway_id for s in spools}
    stored = {k for k in view.keys if k[0] in ids}
    double = 0
    for gid in ids:
        rows = sum(1 for k in view.report_keys if k[0] == gid)
        counted = int(view.gateways.get(gid, {}).get("reports") or 0)
        double += abs(counted - rows)
    return Audit(
        spooled=len(expected),
        stored=len(stored & expected),
        lost=len(expected - stored),
        unexpected=len(stored - expected),
        double_counted=double,
        dropped_by_quota=sum(s.dropped for s in spools),
    )


class AckWatcher:
    """Every application ack the collector publishes to gateways whose id starts with ``prefix``.

    Held acks are judged against the store, not by time: every key acknowledged before a
    moment must be in the store read after that moment (an ack is sent only after its commit).
    """

    def __init__(self, port: int, prefix: str) -> None:
        self.prefix = prefix
        self._acks: list[tuple[float, Key]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"acks-{prefix}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("homescope/v1/+/ack", qos=0)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        gid = message.topic.split("/")[2]
        if not gid.startswith(self.prefix):
            return
        now = time.monotonic()
        ack = decode(message.payload)
        keys = [(gid, int(ack["epoch"]), s) for low, high in ack["ranges"] for s in range(low, high + 1)]
        with self._lock:
            self._acks.extend((now, key) for key in keys)

    def keys(self, since: float = 0.0, until: float = float("inf")) -> set[Key]:
        """Keys acknowledged between two ``time.monotonic()`` readings."""
        with self._lock:
            return {key for at, key in self._acks if since <= at < until}

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored_keys_now(db: Path, prefix: str) -> set[Key]:
    """The keys in the store at this moment (a read-only connection: works while another holds the write lock)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT gateway_id, epoch, seq FROM reports WHERE gateway_id LIKE ?", (prefix + "%",)
        ).fetchall()
    finally:
        conn.close()
    return {(str(g), int(e), int(s)) for g, e, s in rows}


# -- network partitions ------------------------------------------------------------------


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=20)


class Partition:
    """A network namespace joined to ours by a veth pair (10.233.<n>.1 here, .2 there).

    ``cut()`` drops every packet on the veth with nftables (a silent outage, like a dead
    uplink: no RST, TCP just waits); ``heal()`` removes the rule. Root only.
    """

    def __init__(self, n: int) -> None:
        tag = f"{os.getpid() % 10000}{n}"
        self.ns = f"hsf{tag}"
        self.host_if, self.ns_if = f"hsf{tag}a", f"hsf{tag}b"
        self.table = f"hsf{tag}"
        self.host_ip, self.ns_ip = f"10.233.{n}.1", f"10.233.{n}.2"
        self.is_cut = False

    def up(self) -> None:
        if os.geteuid() != 0:
            pytest.skip("network partitions need root (ip netns, nftables)")
        self.down()  # a namespace left behind by a run that was killed
        try:
            _run("ip", "netns", "add", self.ns)
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.ns)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            _run("ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            _run("ip", "netns", "exec", self.ns, "ip", "link", "set", self.ns_if, "up")
            _run("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")
            _run("nft", "--version")
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            self.down()
            detail = getattr(exc, "stderr", b"") or str(exc)
            pytest.skip(f"cannot build a network namespace here: {detail!r}")

    def wrap(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns]

    def cut(self) -> None:
        rules = (
            f"table inet {self.table} {{\n"
            f" chain input {{ type filter hook input priority 0; policy accept; iifname {self.host_if} drop; }}\n"
            f" chain output {{ type filter hook output priority 0; policy accept; oifname {self.host_if} drop; }}\n"
            "}\n"
        )
        subprocess.run(["nft", "-f", "-"], input=rules.encode(), check=True, capture_output=True, timeout=20)
        self.is_cut = True

    def heal(self) -> None:
        if self.is_cut:
            subprocess.run(
                ["nft", "delete", "table", "inet", self.table], check=False, capture_output=True, timeout=20
            )
            self.is_cut = False

    def down(self) -> None:
        self.heal()
        subprocess.run(["ip", "netns", "del", self.ns], check=False, capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "del", self.host_if], check=False, capture_output=True, timeout=20)


def publish_once(port: int, items: list[tuple[str, bytes]]) -> None:
    """A publisher with no outbox: each message is sent once, so only the broker can redeliver it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="once", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for info in [client.publish(topic, payload, qos=1) for topic, payload in items]:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()
