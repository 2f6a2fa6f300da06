"""A fleet of virtual gateways, each with the agent's own outbox and publisher.

Every virtual gateway is a real MQTT client with its own identity, spools to its own
outbox and deletes a record only on the collector's ack, exactly like the agent. One
:class:`~emulator.transport.TransportLoop` thread drives all the connections; the
fleet's own thread only spools (outboxes are thread-safe) and asks the loop to pump.

Two ways to run: live (:meth:`Fleet.run`, a report per home every ``interval_s`` real
seconds) and back-fill (:meth:`Fleet.backfill`, simulated 15-minute windows as fast as
the collector acknowledges them).
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from agent.commands import CommandDesk
from agent.publisher.compaction import Compactor
from agent.publisher.outbox import Outbox
from agent.publisher.publisher import Publisher, status_frame
from agent.publisher.transport import PublishError
from agent.runner import event_frame, report_frame
from emulator import __version__
from emulator.home import VirtualHome
from emulator.household import HomeSpec
from emulator.transport import PolledTransport, TransportLoop
from protocol.topics import Kind, topic_for

log = logging.getLogger(__name__)
#: The window a "measure now" answer covers (rates over the last minute).
MEASURE_WINDOW_S = 60


@dataclass
class Gateway:
    """One virtual gateway: its home, its outbox and its publisher."""

    home: VirtualHome
    outbox: Outbox
    publisher: Publisher
    #: Answers the collector's commands ("measure now") as the agent does.
    commands: CommandDesk | None = None
    #: Frames reports in the compact form of protocol 1.2, as the agent does; ``None``: the old form.
    compactor: Compactor | None = None


def _send(transport: PolledTransport, topic: str, frame: bytes) -> None:
    # paho clients are only touched on the loop thread; a reply comes from the command's thread
    def publish() -> None:
        try:
            transport.publish(topic, frame, qos=1)
        except PublishError as exc:  # offline: the collector times the command out
            log.warning("%s: reply not sent: %s", transport.client_id, exc)

    transport.loop.call(publish)


def _report(
    gid: str, window: tuple[int, int], uptime: int, body: dict[str, Any], now: int, epoch: int, seq: int
) -> bytes:
    return report_frame(gid, epoch, seq, window, uptime, body, now)


def _events(
    gid: str,
    window: tuple[int, int],
    uptime: int,
    events: list[dict[str, Any]],
    now: int,
    epoch: int,
    seq: int,
) -> bytes:
    return event_frame(gid, epoch, seq, window, uptime, events, now)


class Fleet:
    """N virtual homes, each a real MQTT client; ``specs`` give them personas (default: ordinary)."""

    def __init__(
        self,
        homes: int,
        mqtt_url: str,
        *,
        interval_s: float = 1.0,
        prefix: str = "emu",
        seed: int = 1,
        specs: list[HomeSpec] | None = None,
        span: tuple[int, int] | None = None,
        resend_after_s: float | None = None,
        compact: bool = True,
        unclassified: int = 0,
    ) -> None:
        self.interval_s = interval_s
        self._spooled = 0
        # a measurement (command thread) reads a home while the fleet thread advances it
        self._homes_lock = threading.Lock()
        self.loop = TransportLoop()
        self.gateways: list[Gateway] = []
        resend = resend_after_s or max(5.0, 10 * interval_s)
        for i in range(homes):
            spec = specs[i] if specs else None
            gid = spec.gateway_id if spec else f"{prefix}-{i:05d}"
            outbox = Outbox(":memory:", 4 * 1024 * 1024)
            will = (topic_for(gid, Kind.STATUS), status_frame(gid, "offline", outbox.epoch, __version__, 0))
            transport = PolledTransport(self.loop, mqtt_url, gid, username=gid, will=will)
            publisher = Publisher(gid, outbox, transport, resend_after_s=resend, version=__version__)
            home = VirtualHome(gid, seed * 1_000_003 + i, spec, span, unclassified)
            desk = CommandDesk(gid, partial(self._measure, home), partial(_send, transport))
            publisher.handlers[desk.topic] = desk.receive
            # compact: what agents of protocol 1.2 send; not: what older agents send (both accepted)
            compactor = Compactor() if compact else None
            if compactor is not None:
                publisher.on_ack.append(compactor.acked)
            self.gateways.append(Gateway(home, outbox, publisher, desk, compactor))
        # unacknowledged records are sent again after ``resend_after_s``; the loop checks every second
        self.loop.idle_hooks.append(self._pump_now)

    def start(self) -> None:
        """Connect every gateway (in the background)."""
        for gw in self.gateways:
            gw.publisher.start()
        self.loop.start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until every gateway is connected; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(gw.publisher.transport.connected for gw in self.gateways):
                return True
            time.sleep(0.05)
        return False

    def _measure(self, home: VirtualHome) -> dict[str, Any]:
        """What "measure now" sees: the home's next minute, without advancing the home itself."""
        with self._homes_lock:
            twin = copy.deepcopy(home)
        body = twin.report_body(MEASURE_WINDOW_S, int(time.time()))
        body.pop("apps", None)  # a measurement is about the network, not the traffic
        return body

    def spool(self, gw: Gateway, window_end: int, window_s: int, now: int) -> int | None:
        """Spool one window of one home (its report, then its events); return the report's seq."""
        home = gw.home
        gid = home.gateway_id
        window = (window_end - window_s, window_end)
        with self._homes_lock:
            body = home.report_body(window_s, window_end)
        uptime, compactor = home.uptime_s, gw.compactor
        if compactor is not None:
            seq = gw.outbox.append(
                "report", lambda epoch, seq: compactor.frame(gid, epoch, seq, window, uptime, body, now)
            )
        else:
            seq = gw.outbox.append("report", partial(_report, gid, window, uptime, body, now))
        events = home.take_events()
        if events and gw.outbox.append("event", partial(_events, gid, window, home.uptime_s, events, now)):
            self._spooled += 1
        self._spooled += seq is not None
        return seq

    def report_all(self, window_end: int, window_s: int) -> list[tuple[str, int]]:
        """Spool one report per home for the window ending at ``window_end``; publish."""
        spooled: list[tuple[str, int]] = []
        now = int(time.time())
        for gw in self.gateways:
            if not gw.home.powered(window_end - window_s):
                gw.home.skip(window_s)
                continue
            seq = self.spool(gw, window_end, window_s, now)
            if seq is not None:
                spooled.append((gw.home.gateway_id, seq))
        self.pump()
        return spooled

    def keys(self, spooled: list[tuple[str, int]]) -> set[tuple[str, int, int]]:
        """The idempotency keys ``(gateway, epoch, seq)`` of what :meth:`report_all` spooled."""
        epochs = {gw.home.gateway_id: gw.outbox.epoch for gw in self.gateways}
        return {(gid, epochs[gid], seq) for gid, seq in spooled}

    def pending(self) -> int:
        """Records not yet acknowledged by the collector, over the whole fleet."""
        return sum(gw.outbox.stats()[0] for gw in self.gateways)

    def _unacked(self) -> int:
        # cheap form of pending() for the back-fill's pacing: spooled minus acknowledged
        return self._spooled - sum(gw.publisher.acked for gw in self.gateways)

    def _pump_now(self) -> None:
        for gw in self.gateways:
            gw.publisher.pump()

    def pump(self) -> None:
        """Ask the loop thread to send what may be sent."""
        self.loop.call(self._pump_now)

    def run(self, stop: threading.Event, duration_s: float | None = None) -> int:
        """Report every interval until ``stop`` or ``duration_s``; return reports spooled."""
        self.start()
        window_s = max(1, math.ceil(self.interval_s))
        started = time.monotonic()
        count = 0
        next_at = time.monotonic()
        while not stop.is_set():
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            if time.monotonic() >= next_at:
                count += len(self.report_all(int(time.time()), window_s))
                next_at += self.interval_s
            stop.wait(min(0.2, max(0.01, next_at - time.monotonic())))
        return count

    def backfill(
        self,
        first_end: int,
        windows: int,
        window_s: int = 900,
        *,
        backlog: int = 4,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Spool ``windows`` simulated windows per home as fast as the collector acknowledges.

        At most ``backlog`` unacknowledged records per home are outstanding before the next
        window is spooled, so outboxes stay small. Returns the reports spooled.
        """
        count = 0
        limit = backlog * len(self.gateways)
        now = int(time.time())
        for k in range(windows):
            end = first_end + k * window_s
            for gw in self.gateways:
                if not gw.home.powered(end - window_s):
                    gw.home.skip(window_s)
                    continue
                if self.spool(gw, end, window_s, now) is not None:
                    count += 1
            self.pump()
            while self._unacked() > limit:
                time.sleep(0.002)
            if progress is not None:
                progress(k + 1, windows)
        return count

    def drain(self, timeout: float = 10.0) -> int:
        """Keep sending until every record is acknowledged or ``timeout``; return what is left."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            self.pump()
            time.sleep(0.05)
        return self.pending()

    def stop(self) -> None:
        """Say offline, disconnect every gateway and close the outboxes."""

        def stop_all() -> None:
            for gw in self.gateways:
                gw.publisher.stop()

        self.loop.call_wait(stop_all)
        # let the loop flush the offline statuses and disconnects it queued
        time.sleep(0.2)
        self.loop.stop()
        for gw in self.gateways:
            gw.outbox.close()
