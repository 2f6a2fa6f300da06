"""The command channel: "measure now" out to a gateway, its reply back into the store.

Commands go out at QoS 0 on ``homescope/v1/{gw}/cmd`` (an interactive command must not
wait in a broker queue for a gateway that is away: the page says "offline" at once
instead, from the gateway's retained status). Replies come in on
``homescope/v1/+/reply`` through a session of their own (shared by the collectors'
group when several run, so exactly one stores each reply); the store is where the page
that asked finds the answer, whichever collector received it. A reply is acknowledged
to the broker only after it is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from collector.ingest.mqtt import MqttSession, SessionOptions
from collector.installer.records import CommandRecord, InstallerRecords
from collector.settings import Settings
from collector.store import StoreError
from protocol.commands import command_frame, parse_reply
from protocol.errors import ProtocolError
from protocol.topics import Kind, subscription, topic_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """Why a command was not sent (the page shows it at once)."""

    reason: str  # unknown_gateway, offline, no_broker
    detail: str


class CommandChannel:
    """Sends commands and stores their replies."""

    def __init__(self, settings: Settings, records: InstallerRecords) -> None:
        self.records = records
        self.ttl_s = settings.command_ttl_s
        self.key = settings.command_key.encode() or None
        url = urlsplit(settings.mqtt)
        group = settings.share_group and f"{settings.share_group}-replies"
        self.session = MqttSession(
            SessionOptions(
                host=url.hostname or "127.0.0.1",
                port=url.port or 1883,
                client_id=f"{settings.mqtt_client_id}-commands",
                subscriptions=(subscription(Kind.REPLY, group or None),),
                username=settings.mqtt_username,
                password=settings.mqtt_password,
                receive_maximum=100,
                session_expiry_s=300,  # replies are worth little once the installer has gone
            ),
            self._on_publish,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.replies = 0

    def start(self) -> None:
        self.session.start()

    async def stop(self) -> None:
        await self.session.stop()
        for task in list(self._tasks):
            task.cancel()

    async def measure_now(self, gateway_id: str, user: str) -> CommandRecord | Refusal:
        """Ask ``gateway_id`` for a fresh measurement, or say at once why not."""
        status = await self.records.gateway_status(gateway_id)
        if status is None:
            return Refusal("unknown_gateway", f"no gateway {gateway_id} has reported")
        if status.get("status") != "online":
            return Refusal("offline", f"{gateway_id} is {status.get('status') or 'not connected'}")
        if not self.session.connected:
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
        self.session.publish(topic_for(gateway_id, Kind.CMD), frame)
        log.info("measure now sent to %s by %s (%s)", gateway_id, user, record.command_id)
        return record

    def _on_publish(self, topic: str, payload: bytes, mid: int, qos: int, retain: bool, connection: int) -> None:
        task = asyncio.get_running_loop().create_task(self._store(topic, payload, mid, qos, connection))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store(self, topic: str, payload: bytes, mid: int, qos: int, connection: int) -> None:
        try:
            reply = parse_reply(payload, topic)
        except ProtocolError as exc:
            log.warning("dropped a bad reply on %s: %s", topic[:120], exc)
            self.session.ack(mid, qos, connection)
            return
        try:
            stored = await self.records.answer(reply.gateway_id, reply.id, time.time(), reply.result, reply.error)
        except StoreError as exc:
            # not acknowledged: the broker delivers it again on the next connection
            log.warning("could not store the reply to %s: %s", reply.id, exc)
            return
        if not stored:
            log.info("reply from %s to %s matched no waiting command", reply.gateway_id, reply.id)
        self.replies += stored
        self.session.ack(mid, qos, connection)
