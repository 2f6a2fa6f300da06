"""The station watch reads association lists after hostapd notifications, not every minute."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

from agent.stationwatch import LEAVE_AFTER_POLLS, SAFETY_POLL_S, StationWatch
from agent.subscription import Subscription, notification
from tests.agent.samplers.conftest import ARCHER
from tests.agent.samplers.recorded import RecordedSystem, recorded

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ubus" / "subscribe-hostapd.txt"
NOW = 1_795_437_060


class Feed:
    """A ``ubus subscribe`` whose lines the test sends; ``close`` ends it like a killed process."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.argv: list[str] = []

    def __call__(self, argv: list[str]) -> Feed:
        self.argv = argv
        return self

    def __iter__(self) -> Iterator[str]:
        while (line := self.lines.get()) is not None:
            yield line

    def close(self) -> None:
        self.lines.put(None)


class Subscribing(RecordedSystem):
    """The recorded router, plus a long-running command fed by the test."""

    def __init__(self, base: RecordedSystem, feed: Feed) -> None:
        super().__init__()
        self.__dict__.update(base.__dict__)
        self.stream = feed


def runs(system: RecordedSystem) -> int:
    return sum(1 for c in system.calls if c.startswith(("ubus", "iw")))


def settle(watch: StationWatch) -> None:
    time.sleep(0.05)  # let the reader thread take the line


def test_notification_lines() -> None:
    methods = [notification(line) for line in FIXTURE.read_text().splitlines()]
    assert methods == ["probe", "auth", "assoc", "disassoc"]
    assert notification("Command failed: Not found") is None


def test_the_lists_are_read_after_a_notification_and_every_few_minutes_otherwise() -> None:
    feed = Feed()
    system = Subscribing(recorded(ARCHER), feed)
    watch = StationWatch()
    try:
        assert watch.poll(system, NOW) == []  # baseline read, and the subscription starts
        assert feed.argv[:2] == ["ubus", "subscribe"] and all(a.startswith("hostapd.") for a in feed.argv[2:])
        baseline = runs(system)
        for minute in range(1, 4):
            assert watch.poll(system, NOW + 60 * minute) == []
        assert runs(system) == baseline, "quiet minutes ran commands"
        probe, _, assoc, _ = FIXTURE.read_text().splitlines()
        feed.lines.put(probe)  # probes do not change who is associated
        settle(watch)
        watch.poll(system, NOW + 240)
        assert runs(system) == baseline
        feed.lines.put(assoc)
        settle(watch)
        watch.poll(system, NOW + 300)
        assert runs(system) > baseline
        for n in range(LEAVE_AFTER_POLLS):  # follow-up reads, so a leave is confirmed in minutes
            before = runs(system)
            watch.poll(system, NOW + 360 + 60 * n)
            assert runs(system) > before
        before = runs(system)
        watch.poll(system, NOW + 360 + 60 * LEAVE_AFTER_POLLS)
        assert runs(system) == before
        last_read = NOW + 360 + 60 * (LEAVE_AFTER_POLLS - 1)
        watch.poll(system, last_read + SAFETY_POLL_S - 60)
        assert runs(system) == before
        watch.poll(system, last_read + SAFETY_POLL_S)  # the safety read
        assert runs(system) > before
    finally:
        watch.close()


def test_a_subscription_that_ends_falls_back_to_reading_every_minute() -> None:
    feed = Feed()
    system = Subscribing(recorded(ARCHER), feed)
    watch = StationWatch()
    watch.poll(system, NOW)
    feed.close()  # hostapd restarted: the command exits
    deadline = time.monotonic() + 5
    while watch._events is not None and watch._events.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    before = runs(system)
    watch.poll(system, NOW + 60)
    assert runs(system) > before


def test_subscription_reports_a_command_that_cannot_start() -> None:
    def missing(argv: list[str]) -> Iterator[str]:
        raise FileNotFoundError(2, "no ubus")

    sub = Subscription(missing, ["ubus", "subscribe", "hostapd.x"], frozenset({"assoc"}))
    deadline = time.monotonic() + 5
    while sub.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sub.alive and sub.take()


def test_the_wan_is_looked_at_after_netifd_events_and_every_few_minutes() -> None:
    from agent.samplers.wan import SAFETY_TICK_S, WanSampler

    feed = Feed()
    system = Subscribing(recorded(ARCHER), feed)
    wan = WanSampler()

    def looks() -> int:
        return sum(1 for c in system.calls if c.startswith("ubus call network.interface"))

    try:
        wan.tick(system, 1000.0)
        assert feed.argv == ["ubus", "listen", "network.interface"] and looks() == 1
        for minute in range(1, 4):
            wan.tick(system, 1000.0 + 60 * minute)
        assert looks() == 1, "quiet minutes ran commands"
        feed.lines.put('{ "network.interface": {"action":"ifdown","interface":"wan"} }')
        time.sleep(0.05)
        wan.tick(system, 1240.0)
        assert looks() == 2
        wan.tick(system, 1240.0 + SAFETY_TICK_S - 60)
        assert looks() == 2
        wan.tick(system, 1240.0 + SAFETY_TICK_S)
        assert looks() == 3
    finally:
        wan.close()
