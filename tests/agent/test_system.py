"""The real system: commands started together, and files read line by line."""

from __future__ import annotations

import time
from pathlib import Path

from agent.system import LocalSystem, SystemAccessError


def test_run_all_starts_every_command_before_waiting_for_any(tmp_path: Path) -> None:
    # each waiter ends only once the last command has run: one at a time, the first would time out
    flag = tmp_path / "go"
    waiters = [["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.02; done; echo waited {n}"] for n in range(3)]
    results = LocalSystem().run_all([*waiters, ["touch", str(flag)]], timeout=20)
    assert results[:3] == ["waited 0\n", "waited 1\n", "waited 2\n"] and results[3] == ""


def test_run_all_reports_each_failure_in_its_place(tmp_path: Path) -> None:
    results = LocalSystem().run_all(
        [
            ["sh", "-c", "echo ok"],
            ["no-such-command-here"],
            ["sh", "-c", "echo bad >&2; exit 3"],
            ["sleep", "5"],
        ],
        timeout=1,
    )
    assert results[0] == "ok\n"
    assert isinstance(results[1], SystemAccessError) and results[1].errno == 2
    assert isinstance(results[2], SystemAccessError) and "exited 3: bad" in str(results[2])
    assert isinstance(results[3], SystemAccessError) and "timed out" in str(results[3])


def test_a_stream_yields_lines_as_they_come_and_close_stops_the_command() -> None:
    from agent.subscription import Subscription

    stream = LocalSystem().stream(
        ["sh", "-c", 'echo \'{ "assoc": {"address":"aa:bb:cc:dd:ee:ff"} }\'; exec sleep 30']
    )
    sub = Subscription(lambda argv: stream, ["ubus", "subscribe"], frozenset({"assoc"}))
    deadline = time.monotonic() + 10
    while not sub.take() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sub.alive
    sub.close()
    while sub.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sub.alive, "close left the command running"
