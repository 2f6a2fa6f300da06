"""A fleet of virtual gateways, each with the agent's own outbox and publisher.

Every virtual gateway is a real MQTT client with its own identity, spools to its own
outbox and deletes a record only on the collector's ack, exactly like the agent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from agent.publisher.outbox import Outbox
from agent.publisher.paho_transport import PahoTransport
from agent.publisher.publisher import Publisher, status_frame
from agent.runner import report_frame
from emulator import __version__
from emulator.home import VirtualHome
from protocol.topics import Kind, topic_for

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    home: VirtualHome
    outbox: Outbox
    publisher: Publisher


def _frame(
    gateway_id: str, window: tuple[int, int], uptime: int, body: dict[str, Any], now: int, epoch: int, seq: int
) -> bytes:
    return report_frame(gateway_id, epoch, seq, window, uptime, body, now)


class Fleet:
    """N homes reporting every ``interval_s`` real seconds."""

    def __init__(
        self, homes: int, mqtt_url: str, *, interval_s: float = 1.0, prefix: str = "emu", seed: int = 1
    ) -> None:
        self.interval_s = interval_s
        self.gateways: list[Gateway] = []
        for i in range(homes):
            gid = f"{prefix}-{i:05d}"
            outbox = Outbox(":memory:", 2 * 1024 * 1024)
            will = (topic_for(gid, Kind.STATUS), status_frame(gid, "offline", outbox.epoch, __version__, 0))
            transport = PahoTransport(mqtt_url, gid, username=gid, will=will)
            publisher = Publisher(
                gid, outbox, transport, resend_after_s=max(5.0, 10 * interval_s), version=__version__
            )
            self.gateways.append(Gateway(VirtualHome(gid, seed * 1_000_003 + i), outbox, publisher))

    def start(self) -> None:
        for gw in self.gateways:
            gw.publisher.start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(gw.publisher.transport.connected for gw in self.gateways):
                return True
            time.sleep(0.05)
        return False

    def report_all(self, window_end: int, window_s: int) -> list[tuple[str, int]]:
        """Spool one report per home for the window ending at ``window_end``; publish."""
        spooled: list[tuple[str, int]] = []
        now = int(time.time())
        for gw in self.gateways:
            body = gw.home.report_body(window_s)
            gid = gw.home.gateway_id
            uptime = gw.home.uptime_s
            window = (window_end - window_s, window_end)
            seq = gw.outbox.append("report", partial(_frame, gid, window, uptime, body, now))
            if seq is not None:
                spooled.append((gid, seq))
            gw.publisher.pump()
        return spooled

    def pending(self) -> int:
        """Records not yet acknowledged by the collector, over the whole fleet."""
        return sum(gw.outbox.stats()[0] for gw in self.gateways)

    def pump(self) -> None:
        for gw in self.gateways:
            gw.publisher.pump()

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
            self.pump()
            stop.wait(min(0.2, max(0.01, next_at - time.monotonic())))
        return count

    def drain(self, timeout: float = 10.0) -> int:
        """Keep sending until every record is acknowledged or ``timeout``; return what is left."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            self.pump()
            time.sleep(0.05)
        return self.pending()

    def stop(self) -> None:
        for gw in self.gateways:
            gw.publisher.stop()
            gw.outbox.close()
