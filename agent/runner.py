"""The clock-aligned loop: sample at every window end, spool, and let the publisher send.

Windows are aligned to the wall clock (``[k*interval, (k+1)*interval)``) so that every
gateway's reports line up in the collector; publication is spread per gateway.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from agent import __version__
from agent.config import AgentConfig
from agent.logger import Logger
from agent.publisher.compaction import Compactor, window_envelope
from agent.publisher.outbox import Outbox
from agent.publisher.publisher import Publisher
from agent.reporter import Reporter
from agent.samplers import SampleContext
from agent.stationwatch import StationWatch
from agent.system import System, SystemAccessError
from protocol.codec import encode
from protocol.topics import Kind

log = Logger(__name__)

#: Station join/leave is checked this often, so events arrive within a minute, not a window.
WATCH_INTERVAL_S = 60.0
#: A wall-clock move this much larger or smaller than the monotonic clock's is a jump.
CLOCK_JUMP_S = 30


def next_boundary(now: float, interval: int) -> int:
    """The first window end strictly after ``now``."""
    return (math.floor(now / interval) + 1) * interval


def report_frame(
    gateway_id: str,
    epoch: int,
    seq: int,
    window: tuple[int, int],
    uptime_s: int,
    body: dict[str, Any],
    now: int,
) -> bytes:
    """Frame one report in the plain form (the compact one is :meth:`Compactor.frame`'s)."""
    return encode(window_envelope(Kind.REPORT, gateway_id, epoch, seq, window, uptime_s, now, body))


def event_frame(
    gateway_id: str,
    epoch: int,
    seq: int,
    window: tuple[int, int],
    uptime_s: int,
    events: list[dict[str, Any]],
    now: int,
) -> bytes:
    """Frame one event batch envelope."""
    return encode(
        window_envelope(Kind.EVENT, gateway_id, epoch, seq, window, uptime_s, now, {"events": events})
    )


class Runner:
    """One agent: reporter + outbox + publisher, driven by the clock."""

    def __init__(
        self,
        config: AgentConfig,
        system: System,
        reporter: Reporter,
        outbox: Outbox,
        publisher: Publisher | None,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.system = system
        self.reporter = reporter
        self.outbox = outbox
        self.publisher = publisher
        self._wall = wall
        self._monotonic = monotonic
        self._last_clock: tuple[float, float] | None = None
        self._unsent_events: list[dict[str, Any]] = []  # events the outbox could not store yet
        self.window_start = int(wall())
        self.watch = StationWatch() if "stations" not in config.disabled_samplers else None
        #: Frames reports in the compact form (protocol 1.2); ``None``: the ordinary form.
        self.compactor = Compactor() if config.compact_reports else None
        if self.compactor is not None and publisher is not None:
            publisher.on_ack.append(self.compactor.acked)
        self._next_watch = 0.0

    def _uptime(self) -> int:
        try:
            return int(float(self.system.read("/proc/uptime").split()[0]))
        except (SystemAccessError, ValueError, IndexError):
            return int(self._monotonic())

    def _self_health(self) -> dict[str, Any]:
        records, size, dropped = self.outbox.stats()
        times = os.times()
        health: dict[str, Any] = {
            "version": __version__,
            "cpu_s": round(times.user + times.system, 3),
            "outbox_records": records,
            "outbox_bytes": size,
            "dropped_records": dropped,
        }
        try:
            for line in self.system.read("/proc/self/status").splitlines():
                if line.startswith("VmRSS:"):
                    health["rss_kib"] = int(line.split()[1])
        except (SystemAccessError, ValueError, IndexError):
            pass
        return health

    def _pending_events(self, now: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        mono = self._monotonic()
        if self._last_clock is not None:
            drift = (now - self._last_clock[0]) - (mono - self._last_clock[1])
            if abs(drift) >= CLOCK_JUMP_S:
                log.warning("wall clock jumped by %+.0f s", drift)
                events.append({"type": "clock_jump", "ts": int(now), "delta_s": int(drift)})
        self._last_clock = (now, mono)
        return events

    def cycle(self, window_end: int) -> int | None:
        """Sample the window ending at ``window_end`` and spool its report; return its seq."""
        window = (min(self.window_start, window_end), window_end)
        ctx = SampleContext(self.system, self.config, window[0], window[1])
        body = self.reporter.collect(ctx)
        body.setdefault("system", {})["agent"] = self._self_health()
        now = self._wall()
        uptime = self._uptime()
        gid = self.config.gateway_id
        events = self._unsent_events + self._pending_events(now)
        gap = self.outbox.gap()
        if gap is not None:
            event: dict[str, Any] = {
                "type": "gap",
                "ts": int(now),
                "dropped": gap.dropped,
                "reason": gap.reason,
            }
            if gap.first_seq is not None and gap.last_seq is not None:
                event.update(first_seq=gap.first_seq, last_seq=gap.last_seq)
            events.append(event)
        if events:
            stored = self.outbox.append(
                "event",
                lambda epoch, seq: event_frame(gid, epoch, seq, window, uptime, events, int(now)),
                clears_gap=gap is not None,
            )
            # Not stored (disk full): keep the events for the next window; the gap itself is
            # still counted by the outbox and rebuilt then.
            self._unsent_events = (
                [] if stored is not None else [e for e in events if e["type"] != "gap"][-64:]
            )
        framing = self.compactor.frame if self.compactor is not None else report_frame
        seq = self.outbox.append(
            "report", lambda epoch, seq: framing(gid, epoch, seq, window, uptime, body, int(now))
        )
        self.window_start = window_end
        if seq is not None and self.publisher is not None:
            self.publisher.hold(seq, window_end + self.config.publish_offset_s())
        return seq

    def watch_tick(self) -> None:
        """Every minute: let samplers that track time tick, and spool station join/leave events."""
        mono, now = self._monotonic(), self._wall()
        for sampler in self.reporter.samplers:
            tick = getattr(sampler, "tick", None)
            if callable(tick):
                try:
                    tick(self.system, mono)
                except Exception as exc:  # a tick is best effort; the window's sample still runs
                    log.debug("tick of %s failed: %s", sampler.name, exc)
        if self.watch is None:
            return
        try:
            events = self.watch.poll(self.system, int(now))
        except Exception as exc:
            log.warning("station watch failed: %s", exc)
            return
        if events:
            window, uptime, gid = (self.window_start, int(now)), self._uptime(), self.config.gateway_id
            seq = self.outbox.append(
                "event", lambda e, s: event_frame(gid, e, s, window, uptime, events, int(now))
            )
            if seq is None:  # kept for the next report's event batch
                self._unsent_events = (self._unsent_events + events)[-64:]

    def prime(self) -> None:
        """Take a first reading so the first report already has rates (CPU)."""
        ctx = SampleContext(self.system, self.config, self.window_start, self.window_start)
        self.reporter.collect(ctx)
        self._last_clock = (self._wall(), self._monotonic())

    def run(self, stop: threading.Event, max_windows: int | None = None) -> None:
        """Loop until ``stop`` is set (or ``max_windows`` reports were made)."""
        self.prime()
        if self.publisher is not None:
            self.publisher.start()
        windows = 0
        boundary = next_boundary(self._wall(), self.config.interval_s)
        log.info(
            "agent %s: reporting every %d s, next window ends at %d",
            self.config.gateway_id,
            self.config.interval_s,
            boundary,
        )
        while not stop.is_set():
            now = self._wall()
            if now >= boundary:
                self.cycle(boundary)
                windows += 1
                boundary = next_boundary(now, self.config.interval_s)
                if max_windows is not None and windows >= max_windows:
                    break
            elif boundary - now > 2 * self.config.interval_s:
                boundary = next_boundary(now, self.config.interval_s)  # the clock went backwards
            if self._monotonic() >= self._next_watch:
                self._next_watch = self._monotonic() + WATCH_INTERVAL_S
                self.watch_tick()
            if self.publisher is not None:
                self.publisher.pump()
            stop.wait(min(1.0, max(0.01, boundary - self._wall())))
        if self.publisher is not None:
            self._drain(stop)
            self.publisher.stop()
        if self.watch is not None:
            self.watch.close()
        for sampler in self.reporter.samplers:  # long-running event commands and capture threads
            close = getattr(sampler, "close", None)
            if callable(close):
                close()

    def _drain(self, stop: threading.Event, timeout: float = 3.0) -> None:
        # On a clean stop, give the last report a moment to be acked; the outbox keeps it anyway.
        assert self.publisher is not None
        deadline = self._monotonic() + timeout
        self.publisher.release_at = 0.0
        while self._monotonic() < deadline and self.outbox.stats()[0] and self.publisher.transport.connected:
            self.publisher.pump()
            time.sleep(0.05)
