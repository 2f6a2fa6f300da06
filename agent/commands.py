"""Commands from the collector: checked on arrival, run one at a time off the main loop.

The only command is ``measure_now``: the installer's "measure now" button. It samples the
home network at once (interfaces, radios, stations, topology and link quality, with fresh
sampler instances so the 15-minute windows' counters are not disturbed) on a thread of its
own, so a window boundary is never late because of it, and answers on the ``reply`` topic.

What is refused (``protocol.commands.parse_command``): another gateway's command, an
expired one, one that claims too long a life, an unknown command, a bad signature when a
command key is configured, and any id already seen (replays). Refusals that carry a usable
id are answered with the reason, so the installer's page says why; the rest are logged.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from agent.config import AgentConfig
from agent.logger import Logger
from agent.samplers.base import SampleContext
from agent.system import System
from protocol.commands import Command, CommandRefused, parse_command, reply_frame
from protocol.topics import Kind, topic_for

log = Logger(__name__)

#: Command ids remembered against replays (each lives at most protocol.commands.MAX_TTL_S).
REMEMBER_IDS = 256
#: Samplers a measurement runs, in registry order.
MEASURE_SAMPLERS = ("interfaces", "radios", "stations", "topology", "quality")

#: (topic, frame) -> None; publishes a reply (QoS 1), raising on failure.
Send = Callable[[str, bytes], None]
#: () -> report sections; takes the measurement.
Measure = Callable[[], dict[str, Any]]


def measure(system: System, config: AgentConfig) -> dict[str, Any]:
    """One measurement of the home network now, with fresh samplers (see the module doc)."""
    from agent.reporter import Reporter
    from agent.samplers import build_samplers

    wanted = set(MEASURE_SAMPLERS) - set(config.disabled_samplers)
    now = int(time.time())
    # a window of one second: samplers that skip the start-up priming read (window_end <=
    # window_start) must run; rates need two readings and are left out
    ctx = SampleContext(system, config, now - 1, now)
    return Reporter([s for s in build_samplers() if s.name in wanted]).collect(ctx)


class CommandDesk:
    """Receives command frames (transport thread) and runs them on a worker thread."""

    def __init__(
        self,
        gateway_id: str,
        measure: Measure,
        send: Send,
        *,
        key: bytes | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.gateway_id = gateway_id
        self.topic = topic_for(gateway_id, Kind.CMD)
        self._reply_topic = topic_for(gateway_id, Kind.REPLY)
        self._measure = measure
        self._send = send
        self._key = key
        self._wall = wall
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._busy: threading.Thread | None = None
        self.ran = 0
        self.refused = 0

    def receive(self, topic: str, frame: bytes) -> None:
        """Check one command frame and start it, or refuse it (never raises)."""
        now = self._wall()
        try:
            command = parse_command(frame, topic, self.gateway_id, now, self._key)
        except CommandRefused as exc:
            self.refused += 1
            log.warning("refused a command on %s: %s", topic, exc)
            return
        with self._lock:
            if command.id in self._seen:
                self.refused += 1
                log.warning("refused a replayed command %s", command.id)
                return
            self._seen[command.id] = None
            while len(self._seen) > REMEMBER_IDS:
                self._seen.popitem(last=False)
            if self._busy is not None and self._busy.is_alive():
                self._reply(command.id, error="busy: a measurement is running")
                return
            self._busy = threading.Thread(target=self._run, args=(command,), name="command", daemon=True)
            self._busy.start()

    def _run(self, command: Command) -> None:
        started = time.monotonic()
        try:
            sections = self._measure()
        except Exception as exc:  # a failed measurement is an answer, not a crash
            log.warning("command %s failed: %s", command.id, exc)
            self._reply(command.id, error=f"{type(exc).__name__}: {exc}")
            return
        if self._wall() > command.expires_at:
            log.info("command %s finished after its expiry; answered anyway", command.id)
        sections["measured_s"] = round(time.monotonic() - started, 3)
        self.ran += 1
        self._reply(command.id, result=sections)

    def _reply(self, cid: str, *, result: dict[str, Any] | None = None, error: str = "") -> None:
        frame = reply_frame(self.gateway_id, cid, sent_at=int(self._wall()), result=result, error=error)
        try:
            self._send(self._reply_topic, frame)
        except Exception as exc:  # offline: the collector times the command out
            log.warning("could not answer command %s: %s", cid, exc)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for a running command to finish (tests, clean stop)."""
        busy = self._busy
        if busy is not None:
            busy.join(timeout)
