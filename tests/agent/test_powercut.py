"""The outbox after a power cut at every sync point: no seq it returned is reused or lost.

How the power cut is modelled: the outbox runs in a child process with ``powercut.c`` loaded
by ``LD_PRELOAD``. That shim wraps ``fsync``/``fdatasync`` (the only calls SQLite and the
outbox use to make anything durable) and keeps a second copy of the spool directory as a
power cut would leave it: each file's content as of its last sync (per inode), and the
directory's names (creations, unlinks, renames) as of the last sync of the directory
itself. Anything written but not synced, including an unlink that was never followed by a
directory sync, is dropped. After every sync it writes that durable state out as a
snapshot, so a power cut between sync N and N+1 is "reboot from snapshot N". The child logs
which seqs ``append`` had returned, and acks it had begun, by snapshot number; the test then
reopens every snapshot and checks what the collector could already have stored.

On the old outbox (``journal_mode=DELETE``: the commit point is the journal's unlink,
never synced) the snapshot taken right after a commit still holds the hot journal: SQLite
rolls the returned record back and the next append reuses its seq for different content.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.publisher import outbox as outbox_module
from agent.publisher.outbox import Outbox

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys
from pathlib import Path
from agent.publisher.outbox import Outbox

spool, shadow = sys.argv[1], Path(sys.argv[2])

def syncs():
    path = shadow / "count"
    return int(path.read_text()) if path.exists() else 0

log = []
box = Outbox(spool + "/outbox.db")
for n in range(1, 9):
    content = f"first-life report {n}"
    seq = box.append("report", lambda epoch, seq: f"{content}|{epoch}|{seq}".encode())
    log.append({"op": "append", "epoch": box.epoch, "seq": seq, "content": content, "at": syncs()})
    if n % 3 == 0:  # the collector acked everything so far
        log.append({"op": "ack", "epoch": box.epoch, "upto": seq, "at": syncs()})
        box.ack(box.epoch, [(1, seq)])
print(json.dumps(log))
"""


@pytest.fixture(scope="session")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("powercut") / "powercut.so"
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed to build the power-cut shim (scripts/system-deps.sh)"
    subprocess.run(
        [cc, "-shared", "-fPIC", "-O1", "-o", str(out), str(Path(__file__).with_name("powercut.c")), "-ldl"],
        check=True,
    )
    return out


def run_first_life(shim: Path, tmp_path: Path) -> tuple[list[dict[str, object]], Path]:
    spool, shadow = (tmp_path / "spool").resolve(), (tmp_path / "shadow").resolve()
    spool.mkdir()
    shadow.mkdir()
    env = {
        **os.environ,
        "LD_PRELOAD": str(shim),
        "POWERCUT_DIR": str(spool),
        "POWERCUT_SHADOW": str(shadow),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(spool), str(shadow)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout), shadow


def test_no_returned_seq_is_reused_or_lost_after_a_power_cut_at_any_sync(shim: Path, tmp_path: Path) -> None:
    log, shadow = run_first_life(shim, tmp_path)
    snapshots = sorted(shadow.glob("snap-*"))
    assert len(snapshots) >= 16, "the shim saw too few syncs to model anything"
    problems: list[str] = []
    for snap in snapshots:
        cut = int(snap.name.split("-")[1])  # power lost after sync number `cut`
        returned = [e for e in log if e["op"] == "append" and int(e["at"]) <= cut]  # type: ignore[call-overload]
        first_ack = {int(e["upto"]): int(e["at"]) for e in log if e["op"] == "ack"}  # type: ignore[call-overload]
        disk = tmp_path / f"reboot-{cut}"
        shutil.copytree(snap, disk)
        box = Outbox(str(disk / "outbox.db"))
        kept = {(r.epoch, r.seq): r.frame for r in box.pending(limit=1000)}
        # the second life: the next report gets a new key, never one the collector may hold
        seq = box.append("report", lambda epoch, seq: f"second-life report|{epoch}|{seq}".encode())
        key = (box.epoch, seq)
        for e in returned:
            old = (int(e["epoch"]), int(e["seq"]))  # type: ignore[call-overload]
            if old == key:
                problems.append(
                    f"cut after sync {cut}: seq {seq} of epoch {box.epoch} reused for other content"
                )
            acked_from = min((at for upto, at in first_ack.items() if upto >= old[1]), default=None)
            if old not in kept and (acked_from is None or acked_from >= cut):
                problems.append(f"cut after sync {cut}: committed seq {old[1]} lost without an ack")
            if old in kept and not kept[old].startswith(str(e["content"]).encode()):
                problems.append(f"cut after sync {cut}: seq {old[1]} holds other content")
        box.close()
    assert not problems, "\n".join(problems)


def test_durability_settings_are_pinned(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.db"))
    mode = box._db.execute("PRAGMA journal_mode").fetchone()[0]
    sync = box._db.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("truncate", 2), "the commit point must be a synced journal truncation (FULL)"
    assert outbox_module.JOURNAL_MODE == "truncate" and outbox_module.SYNCHRONOUS == 2


@pytest.mark.parametrize("damage", ["garbage", "torn_page"])
def test_a_corrupt_outbox_is_moved_aside_and_a_gap_names_the_lost_epoch(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "outbox.db"
    box = Outbox(str(path))
    for _ in range(20):
        box.append("report", lambda epoch, seq: b"r" * 1500)
    old_epoch = box.epoch
    box.close()
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data[:100] = b"\xff" * 100  # the header: "file is not a database"
    else:
        data[4096:8192] = os.urandom(4096)  # a torn b-tree page: found by quick_check
    path.write_bytes(bytes(data))

    again = Outbox(str(path))  # raised (and procd restarted the agent forever) before
    assert again.epoch != old_epoch
    assert (tmp_path / "outbox.db.corrupt").exists(), "the corrupt file is kept aside for a post-mortem"
    gap = again.gap()
    assert gap is not None and "outbox_corrupt epoch=" in gap.reason
    # what could still be read is counted: the torn page is the meta page, the records survive
    assert gap.dropped == (20 if damage == "torn_page" else 0)
    assert again.append("report", lambda epoch, seq: b"new") == 1
    assert again.append("event", lambda epoch, seq: b"gap", clears_gap=True) == 2
    assert again.gap() is None
    again.close()
    third = Outbox(str(path))  # the new file is healthy: no second move
    assert third.epoch == again.epoch and [r.seq for r in third.pending()] == [1, 2]


def test_a_file_that_cannot_be_opened_for_other_reasons_still_fails_at_start(tmp_path: Path) -> None:
    # a directory where the file should be: not corruption, so nothing is moved aside
    (tmp_path / "o.db").mkdir()
    with pytest.raises(sqlite3.OperationalError):
        Outbox(str(tmp_path / "o.db"))
