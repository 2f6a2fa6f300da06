"""kill -9 of the agent, the collector and the broker during runs of thousands of reports.

Judged end to end: every (gateway, epoch, seq) an agent committed to its outbox is in the
collector's store exactly once, and each gateway's report counter equals its stored rows.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from agent.publisher.crash import LABELS
from protocol.topics import topic_for
from tests.broker import Broker
from tests.faults.fleetproc import report_for
from tests.faults.harness import (
    PY,
    ROOT,
    CollectorProc,
    FleetProc,
    _env,
    audit,
    kill_broker,
    publish_once,
    read_spool,
    read_store,
    spool_truth,
    stored_count,
    wait_until,
)

GATEWAYS = 20
REPORTS = 100  # per gateway: 2,000 reports per test


def _finish(fleet: FleetProc, collector: CollectorProc, timeout: float = 60) -> float:
    """Let the fleet run to the end (everything spooled and acknowledged); return how long it took."""
    started = time.monotonic()
    if not fleet.alive:
        fleet.start()
    assert fleet.wait(timeout) == 0, fleet.log_path.read_text()[-3000:]
    return time.monotonic() - started


def _assert_exact(
    fleet: FleetProc, collector: CollectorProc, figures: Callable[..., None], **extra: object
) -> None:
    spools = spool_truth(fleet.spool_dir)
    result = audit(spools, read_store(collector.db))
    figures(**result.figures(), duplicates_acked_again=collector.total("duplicates"), **extra)
    assert result.spooled == GATEWAYS * REPORTS
    assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
    assert result.stored == result.spooled and result.dropped_by_quota == 0


@pytest.mark.timeout(150)
def test_agent_killed_at_random_loses_and_doubles_nothing(
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
        prefix="ak",
        spool_root=fast_spool,
        gateways=GATEWAYS,
        reports=REPORTS,
        period=0.04,
    )
    rng = random.Random(5)
    kills = 0
    for _ in range(5):
        fleet.start()
        time.sleep(rng.uniform(0.6, 1.6))
        if fleet.alive:
            fleet.kill()
            kills += 1
    took = _finish(fleet, collector_proc)
    _assert_exact(fleet, collector_proc, figures, kills=kills, final_run_s=round(took, 1))


@pytest.mark.timeout(120)
def test_agent_killed_at_each_labelled_crash_point(
    fault_broker: Broker, collector_proc: CollectorProc, tmp_path: Path, figures: Callable[..., None]
) -> None:
    """The real agent (``homescope-agent run``) dies at each labelled point, then runs again."""
    collector_proc.start()

    def agent(label: str, crash: bool) -> subprocess.Popen[bytes]:
        gid = "crash-" + label.replace(".", "-").replace("_", "-")
        env = {"HOMESCOPE_RESEND_AFTER_S": "2", "HOMESCOPE_PUBLISH_SPREAD_S": "0"}
        if crash:
            env["HOMESCOPE_CRASH_AT"] = f"{label}:3"
        argv = ["run", "--mqtt", fault_broker.url, "--interval", "1", "--no-jitter"]
        argv += [
            "--spool",
            str(tmp_path / f"{gid}.db"),
            "--gateway-id",
            gid,
            "--windows",
            "8" if crash else "4",
        ]
        with (tmp_path / f"{gid}.log").open("ab") as log:
            return subprocess.Popen(
                [PY, "-m", "agent.cli", *argv], cwd=ROOT, env=_env(env), stdout=log, stderr=subprocess.STDOUT
            )

    crashed = {label: agent(label, crash=True) for label in LABELS}
    codes = {label: p.wait(40) for label, p in crashed.items()}
    assert all(code == -9 for code in codes.values()), codes  # every point was reached and killed
    spools: dict[str, Path] = {
        label: tmp_path / f"crash-{label.replace('.', '-').replace('_', '-')}.db" for label in LABELS
    }
    left = dict.fromkeys(LABELS, 1)
    for _ in range(3):  # run again (without a crash) until each outbox is empty
        todo = [label for label in LABELS if left[label]]
        if not todo:
            break
        again = {label: agent(label, crash=False) for label in todo}
        assert all(p.wait(40) == 0 for p in again.values())
        left = {label: read_spool(spools[label]).pending for label in LABELS}
    truth = [
        read_spool(path, f"crash-{label.replace('.', '-').replace('_', '-')}")
        for label, path in spools.items()
    ]
    result = audit(truth, read_store(collector_proc.db))
    figures(labels=len(LABELS), **result.figures())
    assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
    assert result.spooled >= 5 * len(LABELS)


@pytest.mark.timeout(150)
def test_collector_killed_mid_batch_loses_and_doubles_nothing(
    fault_broker: Broker,
    collector_proc: CollectorProc,
    tmp_path: Path,
    fast_spool: Path,
    figures: Callable[..., None],
) -> None:
    collector_proc.start(crash_at="ingest.after_commit:4")  # committed, neither app ack nor PUBACK sent
    fleet = FleetProc(
        tmp_path,
        fault_broker.url,
        prefix="ck",
        spool_root=fast_spool,
        gateways=GATEWAYS,
        reports=REPORTS,
        period=0.04,
        resend_after=2,
    )
    fleet.start()
    wait_until(lambda: not collector_proc.alive, 20, "labelled collector crash after commit")
    collector_proc.start(crash_at="ingest.before_commit:6")  # a batch in hand, nothing committed
    wait_until(lambda: not collector_proc.alive, 20, "labelled collector crash before commit")
    rng = random.Random(11)
    kills = 2
    for _ in range(2):  # and at random moments
        collector_proc.start()
        time.sleep(rng.uniform(0.5, 1.5))
        collector_proc.kill()
        kills += 1
    collector_proc.start()
    took = _finish(fleet, collector_proc)
    _assert_exact(fleet, collector_proc, figures, collector_kills=kills, after_last_restart_s=round(took, 1))


@pytest.mark.timeout(150)
def test_broker_killed_loses_and_doubles_nothing(
    fault_broker: Broker,
    collector_proc: CollectorProc,
    tmp_path: Path,
    fast_spool: Path,
    figures: Callable[..., None],
) -> None:
    """Mosquitto may lose what it acknowledged on kill -9; the agents' outboxes make up for it."""
    collector_proc.start()
    fleet = FleetProc(
        tmp_path,
        fault_broker.url,
        prefix="bk",
        spool_root=fast_spool,
        gateways=GATEWAYS,
        reports=REPORTS,
        period=0.04,
        resend_after=2,
    )
    fleet.start()
    rng = random.Random(17)
    for _ in range(2):
        wait_until(lambda: stored_count(collector_proc.db, "bk-") > 0, 20, "traffic flowing")
        time.sleep(rng.uniform(0.5, 1.5))
        kill_broker(fault_broker)
        time.sleep(0.5)
        fault_broker.start()
    took = _finish(fleet, collector_proc)
    assert collector_proc.alive
    _assert_exact(fleet, collector_proc, figures, broker_kills=2, after_last_restart_s=round(took, 1))


def _reports(prefix: str, n: int) -> list[tuple[str, bytes]]:
    return [
        (
            topic_for(f"{prefix}-{i % 10:03d}", "report"),
            report_for(f"{prefix}-{i % 10:03d}", 900, 1_700_000_100, 4, 5, i // 10 + 1),
        )
        for i in range(n)
    ]


@pytest.mark.timeout(60)
def test_broker_redelivers_what_a_killed_collector_had_not_acknowledged(
    fault_broker: Broker, collector_proc: CollectorProc, figures: Callable[..., None]
) -> None:
    """No agent resends here: every message reaches the store only through the broker's session."""
    collector_proc.start(crash_at="ingest.before_commit:1")  # dies holding its first batch
    items = _reports("rd", 300)
    publish_once(fault_broker.port, items)
    wait_until(lambda: not collector_proc.alive, 20, "collector killed before its first commit")
    assert stored_count(collector_proc.db, "rd-") == 0
    collector_proc.start()
    took = wait_until(lambda: stored_count(collector_proc.db, "rd-") == len(items), 30, "redelivered")
    health = collector_proc.health() or {}
    figures(
        published_once=len(items),
        stored=len(items),
        redelivered_to_restarted_collector=health.get("received"),
        seconds=round(took, 1),
    )
    assert health.get("received", 0) >= len(items)


@pytest.mark.timeout(60)
def test_what_mosquitto_itself_loses_on_kill_9(
    fault_broker: Broker, collector_proc: CollectorProc, figures: Callable[..., None]
) -> None:
    """Measured, not hidden: messages queued for an offline collector, then kill -9 of the broker.

    With ``autosave_interval 1`` Mosquitto loses what arrived since its last save; the test
    above and the fleet tests show why homescope does not depend on it (agents resend
    anything the collector has not acknowledged).
    """
    collector_proc.start()  # persistent session with subscriptions
    collector_proc.stop()
    items = _reports("bl", 200)
    publish_once(fault_broker.port, items[:100])
    time.sleep(2.5)  # saved by the broker's autosave
    publish_once(fault_broker.port, items[100:])
    kill_broker(fault_broker)  # within a second of the last PUBACK
    fault_broker.start()
    collector_proc.start()
    wait_until(lambda: stored_count(collector_proc.db, "bl-") >= 100, 20, "saved messages delivered")
    time.sleep(1.0)  # anything more the broker kept would arrive with them
    stored = stored_count(collector_proc.db, "bl-")
    figures(
        queued_then_saved=100,
        queued_within_last_second=100,
        survived_kill_9=stored,
        lost_by_broker=200 - stored,
    )
    assert stored >= 100  # what was saved survives; the rest is the agents' job


def _writer_pid(collector: CollectorProc) -> int:
    """The store writer child of a running collector (spawned by multiprocessing)."""
    assert collector.proc is not None
    children = psutil.Process(collector.proc.pid).children()
    found = [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]
    assert len(found) == 1, [c.cmdline() for c in children]
    return found[0]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(150)
def test_the_whole_collector_killed_before_a_commit_had_acknowledged_nothing_of_it(
    fault_broker: Broker,
    collector_proc: CollectorProc,
    tmp_path: Path,
    fast_spool: Path,
    figures: Callable[..., None],
) -> None:
    """The writer child dies with a batch in hand and kills its parent first: nothing of the
    collector lives on to finish that batch (a parent-only kill leaves the child committing).

    The restart uses a NEW MQTT session, so what the dead one had received stays with the
    broker for good and only the agents' resends bring it back: an agent resends only what was
    not acknowledged, so a record acknowledged before its commit is lost, and the audit says so
    (checked by moving the app ack before the commit in client.py: lost > 0).
    """
    collector_proc.start(crash_at="writer.before_commit:4")
    writer = _writer_pid(collector_proc)
    fleet = FleetProc(
        tmp_path,
        fault_broker.url,
        prefix="wk",
        spool_root=fast_spool,
        gateways=GATEWAYS,
        reports=REPORTS,
        period=0.04,
        resend_after=2,
    )
    fleet.start()
    wait_until(lambda: not collector_proc.alive, 30, "the writer's crash point took the collector down")
    wait_until(lambda: _gone(writer), 10, "the writer process gone too")
    stored_at_crash = stored_count(collector_proc.db, "wk-")
    collector_proc.settings["mqtt_client_id"] += "-new-session"
    collector_proc.start()
    took = _finish(fleet, collector_proc)
    _assert_exact(
        fleet, collector_proc, figures, stored_at_crash=stored_at_crash, after_restart_s=round(took, 1)
    )
