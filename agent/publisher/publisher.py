"""Moves outbox records to the broker and deletes them on the collector's ``ack``.

A broker PUBACK only says the broker has the message, and Mosquitto can still lose it
(``kill -9`` before its autosave, or past ``max_queued_messages`` for an offline
collector); so a record leaves the outbox only when the collector says it is committed.
Unacked records are sent again after ``resend_after_s`` and after every reconnection,
oldest first, with at most ``max_inflight`` outstanding: after an outage the backlog
drains at the pace the collector acknowledges, never as one burst.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from agent.logger import Logger
from agent.publisher.crash import crash_point
from agent.publisher.outbox import Outbox
from agent.publisher.transport import PublishError, Transport
from protocol.codec import encode, envelope, open_envelope
from protocol.errors import ProtocolError
from protocol.topics import Kind, topic_for

log = Logger(__name__)


def status_frame(gateway_id: str, state: str, epoch: int, version: str, now: int) -> bytes:
    """The retained status message (also used as the MQTT last will)."""
    message = envelope(Kind.STATUS, gateway_id, state=state, sent_at=now, agent_version=version, epoch=epoch)
    return encode(message, compress=False)


def parse_ack(message: dict[str, Any]) -> tuple[int, list[tuple[int, int]]]:
    """The (epoch, ranges) of an ack envelope, checked by hand (no pydantic on the gateway)."""
    epoch = message.get("epoch")
    ranges = message.get("ranges")
    if not isinstance(epoch, int) or not isinstance(ranges, list):
        raise ValueError("ack lacks an integer epoch or a list of ranges")
    out: list[tuple[int, int]] = []
    for item in ranges:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
        ):
            raise ValueError("ack range must be [low, high]")
        out.append((int(item[0]), int(item[1])))
    return epoch, out


class Publisher:
    """Drives one gateway's outbox over one transport."""

    def __init__(
        self,
        gateway_id: str,
        outbox: Outbox,
        transport: Transport,
        *,
        max_inflight: int = 16,
        resend_after_s: float = 60.0,
        version: str = "",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.gateway_id = gateway_id
        self.outbox = outbox
        self.transport = transport
        self.max_inflight = max_inflight
        self.resend_after_s = resend_after_s
        self.version = version
        self._clock = clock
        self._wall = wall
        self._lock = threading.RLock()
        self._inflight: dict[int, float] = {}  # seq -> monotonic time sent
        self.release_at = 0.0  # wall time before which the held record waits (publish spread)
        self._held_seq: int | None = None
        self.acked = 0
        self.sent = 0
        self._ack_topic = topic_for(gateway_id, Kind.ACK)
        #: Other downlink topics (e.g. commands) and who takes their messages (transport thread).
        self.handlers: dict[str, Callable[[str, bytes], None]] = {}
        #: Told of every ack after the outbox has taken it: ``(epoch, ranges)`` (transport thread).
        self.on_ack: list[Callable[[int, list[tuple[int, int]]], None]] = []

    def start(self) -> None:
        self.transport.start(self._on_message, self._on_connect, self._on_disconnect)

    def stop(self) -> None:
        try:
            if self.transport.connected:
                frame = status_frame(
                    self.gateway_id, "offline", self.outbox.epoch, self.version, int(self._wall())
                )
                self.transport.publish(topic_for(self.gateway_id, Kind.STATUS), frame, retain=True)
        except PublishError:
            pass
        self.transport.stop()

    # -- transport callbacks (transport thread) ---------------------------------------
    def _on_connect(self) -> None:
        self.transport.subscribe(self._ack_topic, qos=1)
        for topic in self.handlers:
            self.transport.subscribe(topic, qos=1)
        frame = status_frame(self.gateway_id, "online", self.outbox.epoch, self.version, int(self._wall()))
        try:
            self.transport.publish(topic_for(self.gateway_id, Kind.STATUS), frame, retain=True)
        except PublishError:
            return
        with self._lock:
            self._inflight.clear()  # whatever was in flight on the old connection goes again
        self.pump()

    def _on_disconnect(self, reason: str) -> None:
        with self._lock:
            self._inflight.clear()

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic != self._ack_topic:
            handler = self.handlers.get(topic)
            if handler is None:
                log.debug("ignoring message on %s", topic)
            else:
                handler(topic, payload)
            return
        try:
            epoch, ranges = parse_ack(open_envelope(payload, topic))
        except (ProtocolError, ValueError) as exc:
            log.warning("ignoring a malformed ack: %s", exc)
            return
        removed = self.outbox.ack(epoch, ranges)
        for listener in self.on_ack:
            listener(epoch, ranges)
        with self._lock:
            self.acked += removed
            for low, high in ranges:
                for seq in [s for s in self._inflight if low <= s <= high]:
                    del self._inflight[seq]
        self.pump()

    # -- the pump (any thread) --------------------------------------------------------
    def pump(self) -> int:
        """Send what may be sent now; return how many records were published."""
        if not self.transport.connected:
            return 0
        now = self._clock()
        published = 0
        with self._lock:
            expired = [s for s, t in self._inflight.items() if now - t >= self.resend_after_s]
            for seq in expired:
                del self._inflight[seq]
            room = self.max_inflight - len(self._inflight)
            if room <= 0:
                return 0
            held = self._held_seq if self._wall() < self.release_at else None
            for record in self.outbox.pending(limit=room + len(self._inflight)):
                if room <= 0:
                    break
                if record.seq in self._inflight:
                    continue
                if record.seq == held:
                    continue
                try:
                    self.transport.publish(topic_for(self.gateway_id, record.kind), record.frame, qos=1)
                except PublishError as exc:
                    log.debug("publish deferred: %s", exc)
                    break
                crash_point("publisher.after_publish")
                self._inflight[record.seq] = now
                room -= 1
                published += 1
        self.sent += published
        return published

    def hold(self, seq: int, until: float) -> None:
        """Keep the new record ``seq`` back until wall time ``until`` (this gateway's offset).

        Windows are clock-aligned across the fleet; publishing at a per-gateway offset
        keeps every quarter hour from becoming one spike at the broker.
        """
        with self._lock:
            self._held_seq = seq
            self.release_at = until

    @property
    def inflight(self) -> int:
        with self._lock:
            return len(self._inflight)
