"""The command channel: "measure now" out to a gateway, its reply back into the store.

Commands and replies ride on the ingest's own MQTT session: the generated broker
configuration gives each account one connection (``use_username_as_clientid``), and only
the collector's account may write ``homescope/v1/+/cmd``. Commands go out at QoS 0 (an
interactive command must not wait in a broker queue for a gateway that is away: the page
says "offline" at once instead, from the gateway's retained status). Replies arrive on
``homescope/v1/+/reply`` (shared by the collectors' group when several run, so exactly
one stores each); the store is where the page that asked finds the answer, whichever
collector received it. A reply is acknowledged to the broker only after it is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from collector.installer.records import CommandRecord, InstallerRecords
from collector.store import StoreError
from protocol.commands import command_frame, parse_reply
from protocol.errors import ProtocolError
from protocol.topics import Kind, topic_for

log = logging.getLogger(__name__)


class Link(Protocol):
    """The MQTT session commands go out on and replies come in on (``collector.ingest.Ingest``)."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes) -> None: ...

    def ack(self, mid: int, qos: int, connection: int) -> None: ...


@dataclass(frozen=True)
class Refusal:
    """Why a command was not sent (the page shows it at once)."""

    reason: str  # unknown_gateway, offline, no_broker
    detail: str


class CommandChannel:
    """Sends commands and stores their replies."""

    def __init__(
        self, link: Link, records: InstallerRecords, *, ttl_s: float = 60, key: bytes | None = None
    ) -> None:
        self.link = link
        #: Rewrites a reply's result in place before it is stored (the collector's privacy scrub).
        self.scrub: Callable[[dict[str, Any]], None] | None = None
        self.records = records
        self.ttl_s = ttl_s
        self.key = key
        self._tasks: set[asyncio.Task[None]] = set()
        self.replies = 0

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def measure_now(self, gateway_id: str, user: str) -> CommandRecord | Refusal:
        """Ask ``gateway_id`` for a fresh measurement, or say at once why not."""
        status = await self.records.gateway_status(gateway_id)
        if status is None:
            return Refusal("unknown_gateway", f"no gateway {gateway_id} has reported")
        if status.get("status") != "online":
            return Refusal("offline", f"{gateway_id} is {status.get('status') or 'not connected'}")
        if not self.link.connected:
            return Refusal("no_broker", "the collector is not connected to the broker")
        now = time.time()
        record = await self.records.issue(gateway_id, "measure_now", user, now, self.ttl_s)
        frame = command_frame(
            gateway_id,
            record.command_id,
            "measure_now",
            sent_at=int(now),
            expires_at=int(record.expires_at),
            key=self.key,
        )
        self.link.publish(topic_for(gateway_id, Kind.CMD), frame)
        log.info("measure now sent to %s by %s (%s)", gateway_id, user, record.command_id)
        return record

    def on_reply(self, topic: str, payload: bytes, mid: int, qos: int, connection: int) -> None:
        """Take one reply (on the event loop); it is stored, then acknowledged."""
        task = asyncio.get_running_loop().create_task(self._store(topic, payload, mid, qos, connection))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store(self, topic: str, payload: bytes, mid: int, qos: int, connection: int) -> None:
        try:
            reply = parse_reply(payload, topic)
        except ProtocolError as exc:
            log.warning("dropped a bad reply on %s: %s", topic[:120], exc)
            self.link.ack(mid, qos, connection)
            return
        if reply.result is not None and self.scrub is not None:
            self.scrub(reply.result)  # terminal MACs and hostnames as the store keeps them (privacy/scrub.py)
        try:
            stored = await self.records.answer(
                reply.gateway_id, reply.id, time.time(), reply.result, reply.error
            )
        except StoreError as exc:
            # not acknowledged: the broker delivers it again on the next connection
            log.warning("could not store the reply to %s: %s", reply.id, exc)
            return
        if not stored:
            log.info("reply from %s to %s matched no waiting command", reply.gateway_id, reply.id)
        self.replies += stored
        self.link.ack(mid, qos, connection)
