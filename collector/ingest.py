"""MQTT ingest: receive, validate, store in batches, then acknowledge.

paho-mqtt runs its network loop in its own thread with ``manual_ack``: a QoS 1 message
is PUBACKed to the broker, and an application ``ack`` is published to the gateway, only
after the batch holding it has committed. Messages flow to the asyncio side through a
queue; a batch is flushed when it reaches ``batch_max`` or ``batch_wait_ms`` after its
first message, whichever comes first. A batch that fails transiently (store locked,
disk full) is retried and never acknowledged meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collector.settings import Settings
from collector.store import BatchResult, QuarantinedMessage, SpooledMessage, StatusChange, Store, StoreError
from protocol.codec import encode, envelope, open_envelope
from protocol.errors import ProtocolError
from protocol.models import EventBatch, Report, Status, validate
from protocol.topics import SPOOLED_KINDS, Kind, parse_topic, subscription, topic_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: float


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    statuses: int = 0
    batches: int = 0
    retries: int = 0
    last_error: str = ""
    by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def ack_ranges(seqs: list[int]) -> list[list[int]]:
    """Compress sequence numbers into inclusive ``[low, high]`` ranges."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def classify(item: Incoming) -> SpooledMessage | QuarantinedMessage | StatusChange | None:
    """Decode and validate one message into what the store keeps."""
    gateway_id: str | None = None
    try:
        gateway_id = parse_topic(item.topic).gateway_id
        message = validate(open_envelope(item.payload, item.topic))
    except ProtocolError as exc:
        return QuarantinedMessage(
            item.received_at, item.topic, gateway_id, exc.reason.value, exc.detail, item.payload
        )
    if isinstance(message, Report | EventBatch):
        return SpooledMessage(
            gateway_id=message.gateway_id,
            epoch=message.epoch,
            seq=message.seq,
            kind=message.kind,
            window_start=message.window_start,
            window_end=message.window_end,
            uptime_s=message.uptime_s,
            sent_at=message.sent_at,
            received_at=item.received_at,
            body=message.body.model_dump(exclude_none=True, exclude_defaults=False),
            payload=item.payload,
        )
    if isinstance(message, Status):
        return StatusChange(message.gateway_id, message.state, item.received_at, message.agent_version)
    return None  # ack/cmd are ours; the subscription does not carry them


class Ingest:
    """Owns the collector's MQTT connection and the batch loop."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.stats = IngestStats()
        self.connected = False
        self._queue: asyncio.Queue[Incoming] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        url = urlsplit(settings.mqtt)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 1883
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if settings.mqtt_username:
            self._client.username_pw_set(settings.mqtt_username, settings.mqtt_password or None)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- paho thread ------------------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("collector mqtt: connection refused: %s", reason)
            return
        self.connected = True
        log.info(
            "collector mqtt: connected to %s:%d (session present: %s)",
            self._host,
            self._port,
            flags.session_present,
        )
        group = self.settings.share_group or None
        client.subscribe([(subscription(kind, group), 1) for kind in (*SPOOLED_KINDS, Kind.STATUS)])

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self.connected:
            log.warning("collector mqtt: connection lost: %s", reason)
        self.connected = False

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        item = Incoming(message.topic, bytes(message.payload), message.mid, message.qos, time.time())
        assert self._loop is not None and self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    # -- asyncio side -----------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 7 * 24 * 3600  # keep our queue while we restart
        props.ReceiveMaximum = max(20, min(65535, self.settings.batch_max * 2))
        self._client.connect_async(self._host, self._port, keepalive=30, clean_start=False, properties=props)
        self._client.loop_start()
        self._task = asyncio.create_task(self._batches(), name="ingest-batches")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._client.disconnect()
        self._client.loop_stop()

    async def _collect(self) -> list[Incoming]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.settings.batch_wait_ms / 1000
        while len(batch) < self.settings.batch_max:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _batches(self) -> None:
        while True:
            batch = await self._collect()
            await self.handle(batch)

    async def handle(self, batch: list[Incoming]) -> BatchResult:
        """Validate, store (retrying transient failures) and acknowledge one batch."""
        self.stats.received += len(batch)
        messages: list[SpooledMessage] = []
        quarantined: list[QuarantinedMessage] = []
        statuses: list[StatusChange] = []
        for item in batch:
            out = classify(item)
            if isinstance(out, SpooledMessage):
                messages.append(out)
            elif isinstance(out, QuarantinedMessage):
                quarantined.append(out)
                self.stats.by_reason[out.reason] += 1
                log.info("quarantined a message on %s: %s %s", item.topic, out.reason, out.detail[:120])
            elif isinstance(out, StatusChange):
                statuses.append(out)
        delay = 0.2
        while True:
            try:
                result = await self.store.write_batch(messages, quarantined, statuses)
                break
            except StoreError as exc:
                if not exc.transient:
                    raise
                if self.stats.last_error != str(exc):
                    log.error("store unavailable, holding acknowledgements: %s", exc)
                self.stats.last_error = str(exc)
                self.stats.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if self.stats.last_error:
            log.info("store available again")
            self.stats.last_error = ""
        self.stats.batches += 1
        self.stats.stored += len(result.inserted)
        self.stats.duplicates += len(result.duplicates)
        self.stats.quarantined += result.quarantined
        self.stats.statuses += len(statuses)
        self._acknowledge(batch, messages)
        return result

    def _acknowledge(self, batch: list[Incoming], messages: list[SpooledMessage]) -> None:
        # Application acks first: committed (new or duplicate) spooled messages, per gateway and epoch.
        per: dict[tuple[str, int], list[int]] = defaultdict(list)
        for m in messages:
            per[(m.gateway_id, m.epoch)].append(m.seq)
        now = int(time.time())
        for (gateway_id, epoch), seqs in per.items():
            frame = encode(
                envelope(Kind.ACK, gateway_id, epoch=epoch, ranges=ack_ranges(seqs), sent_at=now),
                compress=False,
            )
            self._client.publish(topic_for(gateway_id, Kind.ACK), frame, qos=1)
        for item in batch:
            if item.qos > 0:
                self._client.ack(item.mid, item.qos)
