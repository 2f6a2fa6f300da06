"""The agent's first window waits for NTP: the ntp hotplug hook marks the sync, wait-for-time waits for it.

Both scripts run as on the router, with the state directory (``/var/state`` there) in the test's directory
and ``logger`` recorded.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

from tests.packaging.conftest import FEED

FILES = FEED / "homescope-agent" / "files"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    logger = bin_dir / "logger"
    logger.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/log\n')
    logger.chmod(0o755)
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOMESCOPE_STATE_DIR": str(tmp_path / "state"),
        **extra,
    }


def _hotplug(tmp_path: Path, **env: str) -> None:
    # hotplug-call sources each script in a subshell with the event's variables set
    subprocess.run(
        ["sh", "-c", f". {FILES / 'homescope.ntp-hotplug'}"],
        env=_env(tmp_path, **env),
        check=True,
        timeout=10,
    )


def test_only_a_synchronised_stratum_marks_the_clock(tmp_path: Path) -> None:
    marker = tmp_path / "state" / "homescope-time"
    _hotplug(tmp_path, ACTION="periodic", stratum="2")
    _hotplug(tmp_path, ACTION="stratum", stratum="16")  # 16: not synchronised
    assert not marker.exists()
    _hotplug(tmp_path, ACTION="stratum", stratum="2")
    assert marker.exists()


def _wait(tmp_path: Path, limit: int) -> tuple[float, str]:
    started = time.monotonic()
    out = subprocess.run(
        ["sh", str(FILES / "wait-for-time"), str(limit), "echo", "agent", "started"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return time.monotonic() - started, out


def test_an_already_synchronised_clock_starts_the_agent_at_once(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "dnsmasqsec").touch()  # dnsmasq's own hook counts too
    took, out = _wait(tmp_path, 600)
    assert out == "agent started\n" and took < 4.5  # no 5 s poll
    assert not (tmp_path / "log").exists()


def test_the_agent_waits_for_the_sync_then_starts(tmp_path: Path) -> None:
    timer = threading.Timer(1.0, _hotplug, (tmp_path,), {"ACTION": "stratum", "stratum": "3"})
    timer.start()
    try:
        took, out = _wait(tmp_path, 600)
    finally:
        timer.cancel()
    assert out == "agent started\n"
    assert 1.0 <= took < 10  # noticed on the next 5 s poll, not after the 600 s limit
    assert "waiting up to 600 s for NTP" in (tmp_path / "log").read_text()


def test_without_ntp_the_agent_starts_after_the_limit_and_says_so(tmp_path: Path) -> None:
    took, out = _wait(tmp_path, 5)
    assert out == "agent started\n" and took >= 5
    assert "no NTP synchronisation after 5 s" in (tmp_path / "log").read_text()
