"""The collector's batch loop: receive, store, then acknowledge.

The MQTT session (``mqtt.py``) runs on the event loop: a QoS 1 message is PUBACKed to
the broker, and an application ``ack`` is published to the gateway, only after the
batch holding it has committed. The session is persistent (clean start off, a week's
expiry), so what we had not PUBACKed when we died is delivered again. Received
messages wait in an inbox; a batch is flushed when it reaches ``batch_max`` (at most the
in-flight window we grant the broker) or ``batch_wait_ms`` after its first message,
whichever comes first.

What a batch becomes before its commit (triage, quota, the privacy rewrite, quarantine) is
``intake.py``; committing it, with retries while the store fails and record by record when it
refuses some, is ``commit.py``. Nothing is ever acknowledged on behalf of another identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from collector.ingest.clock import ClockWatch
from collector.ingest.commit import BatchWriter, Committer, IngestStats
from collector.ingest.crash import crash_point
from collector.ingest.intake import Intake, Prepared
from collector.ingest.mqtt import MqttSession, SessionOptions
from collector.ingest.quota import IngestQuota
from collector.ingest.tls import broker_address
from collector.ingest.triage import OVERSIZE_HEAD, Incoming, Key, ack_ranges
from collector.privacy.scrub import Scrubber
from collector.settings import Settings
from collector.store import BatchResult, Store
from protocol.codec import MAX_FRAME, encode, envelope
from protocol.topics import SPOOLED_KINDS, Kind, subscription, topic_for

log = logging.getLogger(__name__)
_REPLY_SUFFIX = "/" + Kind.REPLY.value
#: (topic, payload, packet id, qos, connection) -> None: takes a command's reply (on the loop)
OnReply = Callable[[str, bytes, int, int, int], None]


#: Ranges per ack message (the v1 model allows 4096).
ACK_RANGES_MAX = 1000


class Ingest:
    """Owns the collector's MQTT connection and the batch loop."""

    def __init__(self, settings: Settings, store: Store, writer: BatchWriter | None = None) -> None:
        self.settings = settings
        self.store = store
        #: What commits batches: the store itself, or a writer process in front of it.
        self.writer: BatchWriter = writer or store
        #: Batches handed to the writer at once: a writer process takes them in order through
        #: its pipe, commits as many at once as the store allows and holds one more ready;
        #: the store itself gets one at a time (its commits could finish out of order).
        self.depth = 1 + store.concurrent_writes if writer is not None else 1
        #: In-flight messages we let the broker send us unacknowledged (MQTT 5 Receive Maximum):
        #: the batches handed to the writer, one being triaged and one arriving, all at once.
        self.window = max(20, min(65535, settings.batch_max * (self.depth + 2)))
        self.stats = IngestStats()
        #: What a batch becomes before its commit (triage, quota, privacy rewrite: intake.py).
        self.intake = Intake(settings, self.stats)
        self.committer = Committer(self.writer, self.stats)
        self.batch_max = min(settings.batch_max, self.window)
        self._inbox: deque[Incoming] = deque()
        self._ready = asyncio.Event()
        self._want = 1
        self._waiting = False
        self._produced = 0
        self._consumed = 0
        self._committing = 0
        self._task: asyncio.Task[None] | None = None
        #: Who takes replies to commands (``collector.installer.channel``); acked and dropped if none.
        self.replies: OnReply | None = None
        broker = broker_address(settings)
        group = settings.share_group or None
        self._client = MqttSession(
            SessionOptions(
                host=broker.host,
                port=broker.port,
                tls=broker.tls,
                client_id=settings.mqtt_client_id,
                subscriptions=tuple(
                    subscription(kind, group) for kind in (*SPOOLED_KINDS, Kind.STATUS, Kind.REPLY)
                ),
                username=settings.mqtt_username,
                password=settings.mqtt_password,
                receive_maximum=self.window,
            ),
            self._on_message,
        )

    @property
    def scrubber(self) -> Scrubber:
        """The privacy rewrite every stored message goes through (``privacy/scrub.py``)."""
        return self.intake.scrubber

    @scrubber.setter
    def scrubber(self, scrubber: Scrubber) -> None:
        self.intake.scrubber = scrubber

    @property
    def clock(self) -> ClockWatch:
        return self.intake.clock

    @property
    def quota(self) -> IngestQuota:
        return self.intake.quota

    @property
    def connected(self) -> bool:
        return self._client.connected

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish on this session at QoS 0 (commands to gateways)."""
        self._client.publish(topic, payload, qos=0)

    def ack(self, mid: int, qos: int, connection: int) -> None:
        """Acknowledge a message this session delivered to :attr:`replies`."""
        self._client.ack(mid, qos, connection)

    def _on_message(
        self, topic: str, payload: bytes, mid: int, qos: int, retain: bool, connection: int
    ) -> None:
        if topic.endswith(_REPLY_SUFFIX):
            # answers to commands share this session: the generated broker config gives each
            # account one connection (use_username_as_clientid), and they are not reports
            if self.replies is None:
                self._client.ack(mid, qos, connection)
            else:
                self.replies(topic, payload, mid, qos, connection)
            return
        size = -1
        if len(payload) > MAX_FRAME:
            # keep only what the quarantine stores: a 10 MB blob must not wait in our queue
            payload, size = payload[:OVERSIZE_HEAD], len(payload)
        if qos == 0 and self.queued >= 4 * self.window:
            # QoS 1 is bounded by the window we grant the broker; QoS 0 is not, and no agent uses it
            if not self.stats.shed:
                log.warning("collector mqtt: queue full, shedding QoS 0 messages")
            self.stats.shed += 1
            return
        self._produced += 1
        self._inbox.append(Incoming(topic, payload, mid, qos, time.time(), size, retain, connection))
        if self._waiting and len(self._inbox) >= self._want:
            self._waiting = False
            self._ready.set()

    # -- asyncio side -----------------------------------------------------------------
    async def start(self) -> None:
        self._client.start()
        self._task = asyncio.create_task(self._batches(), name="ingest-batches")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.stop()

    @property
    def queued(self) -> int:
        """Messages received and not yet taken into a batch."""
        return self._produced - self._consumed

    @property
    def busy(self) -> bool:
        """Messages wait, or a batch is being stored (other work should wait its turn)."""
        return self._produced > self._consumed or self._committing > 0

    def health(self) -> dict[str, Any]:
        """Figures for ``/healthz``: counts, queue, clock skew; cheap and never raising."""
        s = self.stats
        return {
            "quarantined_acked": s.quarantined_acked,
            "quarantine_reasons": dict(s.by_reason),
            "retries": s.retries,
            "shed": s.shed,
            "queued": self.queued,
            "last_commit_age_s": round(time.time() - s.last_commit, 1) if s.last_commit else None,
            "first_received_at": s.first_received or None,
            "last_commit_at": s.last_commit or None,
            "quota_exceeded_gateways": len(self.quota.flagged()),
            **self.clock.health(),
        }

    async def _until(self, want: int, timeout: float | None) -> None:
        """Return once ``want`` messages wait in the inbox, or after ``timeout`` seconds."""
        if len(self._inbox) >= want:
            return
        self._ready.clear()
        self._want, self._waiting = want, True
        try:
            if len(self._inbox) >= want:  # arrived between the check and the flag
                return
            if timeout is None:
                await self._ready.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), timeout)
        finally:
            self._waiting = False

    async def _collect(self, limit: int | None = None) -> list[Incoming]:
        limit = limit or self.batch_max
        await self._until(1, None)
        await self._until(limit, self.settings.batch_wait_ms / 1000)
        n = min(limit, len(self._inbox))
        batch = [self._inbox.popleft() for _ in range(n)]
        self._consumed += n
        return batch

    async def _batches(self) -> None:
        # Pipelined: while batch N commits (in the store's writer thread or process), batch
        # N+1 is received and triaged. With a writer process, N+1 is handed over as soon as it
        # is triaged and waits in its pipe, so the child never waits for this loop. Acks stay
        # in arrival order whatever order retries finish in (each batch acks after the one before).
        pending: deque[asyncio.Task[BatchResult]] = deque()
        try:
            while True:
                # An idle writer gets at most a quarter batch: it starts sooner, and the next
                # batches fill while it works (a full first batch took ~0.1 s to triage while
                # the writer and the database waited; +7% in alternating bench runs).
                idle = all(task.done() for task in pending)
                batch = await self._collect(max(1, self.batch_max // 4) if idle else None)
                prepared = self.intake.prepare(batch)
                while len(pending) >= self.depth:
                    await pending.popleft()
                pending.append(
                    asyncio.create_task(self._finish(batch, prepared, pending[-1] if pending else None))
                )
                # Let the commit start now: without a yield here, a full inbox means the next
                # _collect returns at once and the next batch's triage ran before it.
                await asyncio.sleep(0)
        finally:
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def handle(self, batch: list[Incoming]) -> BatchResult:
        """Triage, store (retrying transient failures) and acknowledge one batch."""
        return await self._finish(batch, self.intake.prepare(batch))

    async def _finish(
        self, batch: list[Incoming], prepared: Prepared, after: asyncio.Task[BatchResult] | None = None
    ) -> BatchResult:
        if prepared.views or prepared.pending:
            await self.intake.settle(prepared, self.store, self.committer)
        messages, quarantined, statuses, quarantine_acks = (
            prepared.messages,
            prepared.quarantined,
            prepared.statuses,
            prepared.quarantine_acks,
        )
        crash_point("ingest.before_commit")
        self._committing += 1
        try:
            result, handled, quarantine_ok = await self.committer.commit(messages, quarantined, statuses)
        finally:
            self._committing -= 1
        crash_point("ingest.after_commit")
        self.stats.batches += 1
        self.stats.last_commit = time.time()
        self.stats.stored += len(result.inserted)
        self.stats.duplicates += len(result.duplicates)
        if any(m.kind == Kind.EVENT.value for m in messages):
            new = set(result.inserted)
            for m in messages:
                key = (m.gateway_id, m.epoch, m.seq)
                if key in new:  # once per stored key: a resend in the same batch is a duplicate
                    new.discard(key)
                    self.clock.jumped(m)
        self.stats.quarantined += result.quarantined
        self.stats.statuses += len(statuses)
        if quarantine_ok:
            handled += quarantine_acks
            self.stats.quarantined_acked += len(quarantine_acks)
        if after is not None:  # MQTT: PUBACKs in the order the PUBLISHes came
            await asyncio.wait([after])
        self._acknowledge(batch, handled)
        return result

    def _acknowledge(self, batch: list[Incoming], handled: list[Key]) -> None:
        # Application acks first: committed (new, duplicate or quarantined-for-good) spooled
        # records, per gateway and epoch; then the MQTT PUBACKs.
        per: dict[tuple[str, int], list[int]] = defaultdict(list)
        for gateway_id, epoch, seq in handled:
            per[(gateway_id, epoch)].append(seq)
        now = int(time.time())
        for (gateway_id, epoch), seqs in per.items():
            ranges = ack_ranges(seqs)
            for i in range(0, len(ranges), ACK_RANGES_MAX):
                frame = encode(
                    envelope(
                        Kind.ACK, gateway_id, epoch=epoch, ranges=ranges[i : i + ACK_RANGES_MAX], sent_at=now
                    ),
                    compress=False,
                )
                # QoS 0: an ack is itself the delivery guarantee; one lost (the gateway was
                # offline) means a resend, which is stored once and acknowledged again
                self._client.publish(topic_for(gateway_id, Kind.ACK), frame, qos=0)
        for item in batch:
            if item.qos > 0:
                self._client.ack(item.mid, item.qos, item.connection)
