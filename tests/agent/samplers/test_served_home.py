"""The footprint bench serves the home from JSON exactly as recorded, and measures no harness module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

from agent.system import SystemAccessError
from bench.footprint.home import home
from bench.footprint.served import ServedSystem, UnknownAccess, snapshot, write_homes
from tests.agent.fakesystem import UnknownAccess as RecordedUnknown
from tests.broker import Broker

ROOT = Path(__file__).resolve().parents[3]


def _answer(call: Callable[..., object], *args: object) -> object:
    """What a System call gives: its value, or the kind and message of what it raised."""
    try:
        return call(*args)
    except SystemAccessError as exc:
        return ("SystemAccessError", str(exc))
    except (UnknownAccess, RecordedUnknown) as exc:
        return ("unknown", str(exc))


def test_a_served_home_answers_every_call_as_the_recorded_one(tmp_path: Path) -> None:
    write_homes(str(tmp_path), 2)
    recorded, served = home(2), ServedSystem.load(str(tmp_path), 2)
    paths = [*recorded.files, *recorded.dirs, *recorded.absent_dirs, "/not/recorded"]
    commands = [list(argv) for argv in (*recorded.commands, *recorded.failing)] + [["not", "recorded"]]
    assert len(paths) > 100 and len(commands) > 40 and recorded.failing and recorded.absent_dirs
    for path in paths:
        for method in ("read", "listdir", "exists"):
            got = _answer(getattr(served, method), path)
            assert got == _answer(getattr(recorded, method), path), (method, path)
    for argv in commands:
        assert _answer(served.run, argv) == _answer(recorded.run, argv), argv
    assert snapshot(recorded) == json.loads((tmp_path / "home-2.json").read_text())


def test_the_daemon_run_imports_no_harness_module(private_broker: Broker, tmp_path: Path) -> None:
    """pathlib and the fixture loaders (~0.2 MiB on 32-bit) are the bench's, not the daemon's.

    Without ``site`` (-S), as bench/agent.py's 32-bit run has no venv: this venv's ``.pth`` files import
    pathlib before any code runs; paho and msgpack come from site-packages on PYTHONPATH instead.
    """
    private_broker.start()  # the test's own: the daemon's client id is a fixed one (gw-bench)
    write_homes(str(tmp_path / "homes"), 1)
    (tmp_path / "spool").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            "-m",
            "bench.footprint.daemon",
            "--broker",
            private_broker.url,
            "--spool",
            str(tmp_path / "spool"),
            "--home",
            str(tmp_path / "homes"),
            "--windows",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]},
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["published"] > 0
    assert result["harness_modules"] == []
