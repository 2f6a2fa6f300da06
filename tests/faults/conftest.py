"""Fault-test fixtures, and the figures every fault test reports in ``make test`` output.

Each test calls ``figures(name=value, ...)``; the values are printed in a "fault figures"
section at the end of the run (shown with or without ``-s``/``-q``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.broker import Broker
from tests.faults.harness import CollectorProc

FIGURES: list[tuple[str, dict[str, object]]] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record measured figures for the terminal summary."""

    def record(**values: object) -> None:
        FIGURES.append((request.node.name, values))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault figures")
    for name, values in FIGURES:
        terminalreporter.write_line(f"{name}:")
        terminalreporter.write_line("    " + ", ".join(f"{k}={v}" for k, v in values.items()))


@pytest.fixture
def fault_broker(mosquitto_binary: str, tmp_path: Path) -> Iterator[Broker]:
    """A broker of the test's own (persistence on, autosave every second), started."""
    b = Broker(mosquitto_binary, tmp_path / "mosquitto")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def collector_proc(fault_broker: Broker, tmp_path: Path) -> Iterator[CollectorProc]:
    """A collector subprocess on the test's broker (not started: tests choose when)."""
    c = CollectorProc(tmp_path, fault_broker.url)
    yield c
    c.stop()


@pytest.fixture
def fast_spool(tmp_path: Path) -> Iterator[Path]:
    """Where fleets of virtual gateways keep their outboxes: tmpfs when there is one.

    Twenty outboxes committing hundreds of records a second each with fsync saturate a
    small VM's disk (~470 commits/s here). A kill -9 is a process crash, not a power cut:
    what a process wrote is in the page cache either way, so tmpfs tests the same thing
    (power-loss durability rests on ``synchronous=FULL``; see docs/reliability.md).
    """
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="homescope-faults-", dir="/dev/shm"))
    else:
        path = tmp_path / "spool"
        path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
