"""Full disks and locked stores: on the gateway's flash and under the collector's database."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from protocol.codec import decode
from tests.broker import Broker
from tests.faults.harness import (
    PY,
    ROOT,
    AckWatcher,
    CollectorProc,
    FleetProc,
    _env,
    audit,
    read_spool,
    read_store,
    spool_truth,
    stored_count,
    stored_keys_now,
    wait_until,
)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (root only; skips otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("a small tmpfs needs root (mount)")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=False, capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system is full; return it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\0" * 4096
        with contextlib.suppress(OSError):
            while os.write(fd, chunk):
                pass
    finally:
        os.close(fd)
    return filler


class Watcher:
    """Every report and event a gateway publishes, decoded (duplicates included)."""

    def __init__(self, port: int, gateway_id: str) -> None:
        self.messages: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watch-{gateway_id}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"homescope/v1/{gateway_id}/+", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith(("/report", "/event")):
            with self._lock:
                self.messages.append(decode(message.payload))

    def unique(self, kind: str) -> dict[int, dict[str, object]]:
        with self._lock:
            return {int(m["seq"]): m for m in self.messages if m["kind"] == kind}  # type: ignore[call-overload]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.root
@pytest.mark.timeout(120)
def test_agent_disk_full_keeps_running_counts_a_gap_and_resumes(
    fault_broker: Broker, collector_proc: CollectorProc, tmp_path: Path, figures: Callable[..., None]
) -> None:
    gid = "df-agent"
    with small_tmpfs(tmp_path / "flash", "512k") as flash:
        collector_proc.start()
        watcher = Watcher(fault_broker.port, gid)
        argv = ["run", "--mqtt", fault_broker.url, "--interval", "1", "--no-jitter"]
        argv += ["--spool", str(flash / "outbox.db"), "--gateway-id", gid]
        env = _env({"HOMESCOPE_RESEND_AFTER_S": "2", "HOMESCOPE_PUBLISH_SPREAD_S": "0"})
        log = (tmp_path / "agent.log").open("wb")
        agent = subprocess.Popen(
            [PY, "-m", "agent.cli", *argv], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: stored_count(collector_proc.db, gid) >= 3, 30, "first reports stored")
            filler = fill(flash)
            full_at = time.monotonic()
            time.sleep(4.5)  # four or five windows with no room on the flash
            assert agent.poll() is None, "the agent died on a full disk"
            seqs_while_full = read_spool(flash / "outbox.db", gid).next_seq
            filler.unlink()
            full_s = time.monotonic() - full_at

            def gap_stored() -> bool:
                return any(
                    e.get("type") == "gap"
                    for m in watcher.unique("event").values()
                    for e in m["body"]["events"]  # type: ignore[index]
                )

            wait_until(gap_stored, 20, "gap event")
            after = read_spool(flash / "outbox.db", gid).next_seq
            wait_until(
                lambda: read_spool(flash / "outbox.db", gid).next_seq >= after + 3, 20, "reports resumed"
            )
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(20) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            log.close()
            watcher.stop()
        spool = read_spool(flash / "outbox.db", gid)
        result = audit([spool], read_store(collector_proc.db))
        gaps = [
            e
            for m in watcher.unique("event").values()
            for e in m["body"]["events"]
            if e["type"] == "gap"  # type: ignore[index]
        ]
        reports = watcher.unique("report")
        # A failed append consumes no seq, and the next report's window starts where the
        # last attempted one ended: every lost window shows as a hole between two reports.
        windows = [(int(r["window_start"]), int(r["window_end"])) for _, r in sorted(reports.items())]  # type: ignore[call-overload]
        holes = [b[0] - a[1] for a, b in itertools.pairwise(windows) if b[0] != a[1]]
        dropped = sum(int(g["dropped"]) for g in gaps)
        figures(
            full_for_s=round(full_s, 1),
            gap_events=len(gaps),
            reports_lost_and_counted=dropped,
            gap_reason=gaps[0]["reason"] if gaps else None,
            window_holes=len(holes),
            seconds_in_holes=sum(holes),
            seqs_during_full=seqs_while_full - 1,
            **result.figures(),
        )
        assert len(gaps) == 1 and gaps[0]["reason"] == "disk_error"
        assert len(holes) >= 1 and sum(holes) >= dropped >= len(holes)  # every hole is counted
        assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
        assert spool.pending == 0


@pytest.mark.timeout(120)
def test_collector_store_locked_stays_up_holds_acks_then_loses_nothing(
    fault_broker: Broker,
    collector_proc: CollectorProc,
    tmp_path: Path,
    fast_spool: Path,
    figures: Callable[..., None],
) -> None:
    collector_proc.start()
    fleet = FleetProc(
        tmp_path,
        fault_broker.url,
        prefix="sl",
        spool_root=fast_spool,
        gateways=10,
        reports=80,
        period=0.05,
        resend_after=2,
    )
    acks = AckWatcher(fault_broker.port, "sl-")
    fleet.start()
    wait_until(lambda: stored_count(collector_proc.db, "sl-") >= 100, 30, "traffic stored")
    lock = sqlite3.connect(collector_proc.db, isolation_level=None, timeout=10)
    lock.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    locked_at = time.monotonic()
    try:
        degraded_s = wait_until(
            lambda: (collector_proc.health() or {}).get("status") == "degraded", 30, "health degraded"
        )
        frozen = stored_count(collector_proc.db, "sl-")
        pending_before = fleet.status().get("pending", 0)
        time.sleep(2.0)
        health = collector_proc.health() or {}
        assert collector_proc.alive and health.get("store_error")
        assert stored_count(collector_proc.db, "sl-") == frozen
        pending_during = fleet.status().get("pending", 0)
        # held, not just counted: every key acknowledged so far was committed before the lock
        held_until = time.monotonic()
        stored_while_locked = stored_keys_now(collector_proc.db, "sl-")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    acked_while_locked = acks.keys(locked_at, held_until)
    acked_unstored = acks.keys(until=held_until) - stored_while_locked
    locked_s = time.monotonic() - locked_at
    released = time.monotonic()
    assert fleet.wait(60) == 0
    drain_s = time.monotonic() - released
    acks.stop()
    wait_until(lambda: (collector_proc.health() or {}).get("status") == "ok", 10, "health ok again")
    result = audit(spool_truth(fleet.spool_dir), read_store(collector_proc.db))
    figures(
        locked_s=round(locked_s, 1),
        degraded_after_s=round(degraded_s, 1),
        unacked_at_agents_while_locked=f"{pending_before}->{pending_during}",
        acked_while_locked=len(acked_while_locked),
        acked_before_commit=len(acked_unstored),
        store_retries=collector_proc.total("retries"),
        drained_after_release_s=round(drain_s, 1),
        **result.figures(),
    )
    assert result.spooled == 800 and result.stored == 800
    assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
    assert acks.keys(until=locked_at), "the watcher saw no ack at all: it proves nothing"
    assert acked_unstored == set(), f"{len(acked_unstored)} keys acknowledged before their commit"
    assert pending_during >= pending_before  # nothing the agents spooled was let go meanwhile


@pytest.mark.root
@pytest.mark.timeout(120)
def test_collector_store_disk_full_stays_up_holds_acks_then_loses_nothing(
    fault_broker: Broker, tmp_path: Path, fast_spool: Path, figures: Callable[..., None]
) -> None:
    with small_tmpfs(tmp_path / "dbdisk", "16m") as disk:
        collector = CollectorProc(tmp_path, fault_broker.url, db=disk / "collector.db")
        fleet = FleetProc(
            tmp_path,
            fault_broker.url,
            prefix="sf",
            spool_root=fast_spool,
            gateways=10,
            reports=80,
            period=0.05,
            resend_after=2,
        )
        acks: AckWatcher | None = None
        try:
            collector.start()
            acks = AckWatcher(fault_broker.port, "sf-")
            fleet.start()
            wait_until(lambda: stored_count(collector.db, "sf-") >= 100, 30, "traffic stored")
            filler = fill(disk)
            full_at = time.monotonic()
            degraded_s = wait_until(
                lambda: (collector.health() or {}).get("status") == "degraded", 30, "store failure reported"
            )
            error = (collector.health() or {}).get("store_error")
            pending_before = fleet.status().get("pending", 0)
            time.sleep(2.0)
            assert collector.alive and (collector.health() or {}).get("status") == "degraded"
            pending_during = fleet.status().get("pending", 0)
            # held, not just counted: every key acknowledged so far is in the store
            held_until = time.monotonic()
            stored_while_full = stored_keys_now(collector.db, "sf-")
            acked_while_full = acks.keys(full_at, held_until)
            acked_unstored = acks.keys(until=held_until) - stored_while_full
            filler.unlink()
            full_s = time.monotonic() - full_at
            released = time.monotonic()
            assert fleet.wait(60) == 0
            drain_s = time.monotonic() - released
            result = audit(spool_truth(fleet.spool_dir), read_store(collector.db))
            figures(
                full_s=round(full_s, 1),
                store_error=repr(str(error)[:60]),
                degraded_after_s=round(degraded_s, 1),
                store_retries=collector.total("retries"),
                drained_after_release_s=round(drain_s, 1),
                unacked_at_agents_while_full=f"{pending_before}->{pending_during}",
                acked_while_full=len(acked_while_full),
                acked_before_commit=len(acked_unstored),
                **result.figures(),
            )
            assert result.spooled == 800 and result.stored == 800
            assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
            assert acks.keys(until=full_at), "the watcher saw no ack at all: it proves nothing"
            assert acked_unstored == set(), f"{len(acked_unstored)} keys acknowledged before their commit"
            assert pending_during >= pending_before  # nothing the agents spooled was let go meanwhile
        finally:
            if acks is not None:
                acks.stop()
            fleet.stop()
            collector.stop()
