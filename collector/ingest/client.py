"""The collector's batch loop: receive, store, then acknowledge.

The MQTT session (``mqtt.py``) runs on the event loop: a QoS 1 message is PUBACKed to
the broker, and an application ``ack`` is published to the gateway, only after the
batch holding it has committed. The session is persistent (clean start off, a week's
expiry), so what we had not PUBACKed when we died is delivered again. Received
messages wait in an inbox; a batch is flushed when it reaches ``batch_max`` (at most the
in-flight window we grant the broker) or ``batch_wait_ms`` after its first message,
whichever comes first.

Failures are sorted, never fatal: a transient store failure (locked, disk full) is
retried with back-off and nothing is acknowledged meanwhile; a permanent one is retried
record by record and a record the store refuses is quarantined (``store_rejected``); a
payload that breaks the contract is quarantined with its reason and, when its envelope
is readable and its identity is the topic's, acknowledged so the gateway stops
resending it. Nothing is ever acknowledged on behalf of another identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from collector.ingest.clock import ClockWatch
from collector.ingest.crash import crash_point
from collector.ingest.keywatch import KeyWatch
from collector.ingest.mqtt import MqttSession, SessionOptions
from collector.ingest.quota import IngestQuota
from collector.ingest.tls import broker_address
from collector.ingest.triage import OVERSIZE_HEAD, Incoming, IngestReason, Key, Triage, ack_ranges, triage
from collector.ingest.views import UNRESOLVED, Pending, StaticViews, Unresolved, settle
from collector.privacy.keys import load_key
from collector.privacy.scrub import Scrubber
from collector.settings import Settings
from collector.store import (
    Batch,
    BatchResult,
    QuarantinedMessage,
    SpooledMessage,
    StatusChange,
    Store,
    StoreError,
)
from collector.store.sql import Statement
from protocol.codec import MAX_FRAME, encode, envelope
from protocol.topics import SPOOLED_KINDS, Kind, subscription, topic_for

log = logging.getLogger(__name__)
_REPLY_SUFFIX = "/" + Kind.REPLY.value
#: (topic, payload, packet id, qos, connection) -> None: takes a command's reply (on the loop)
OnReply = Callable[[str, bytes, int, int, int], None]


class BatchWriter(Protocol):
    """What commits a batch: a :class:`Store`, or a writer process in front of one."""

    async def write_batch(self, batch: Batch) -> BatchResult: ...


#: Ranges per ack message (the v1 model allows 4096).
ACK_RANGES_MAX = 1000


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    #: Quarantined spooled records acknowledged to their own gateway (so it stops resending).
    quarantined_acked: int = 0
    statuses: int = 0
    batches: int = 0
    retries: int = 0
    #: QoS 0 messages dropped because the queue was full (genuine agents publish QoS 1).
    shed: int = 0
    last_error: str = ""
    last_commit: float = 0.0
    #: Wall time of the first message this process received (for throughput figures).
    first_received: float = 0.0
    by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))


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
        self.clock = ClockWatch(settings.max_clock_skew_s)
        self.keys = KeyWatch()  # reused keys and shared gateway ids (keywatch.py)
        self.batch_max = min(settings.batch_max, self.window)
        self._inbox: deque[Incoming] = deque()
        self._ready = asyncio.Event()
        self._want = 1
        self._waiting = False
        self._produced = 0
        self._consumed = 0
        self._committing = 0
        self._task: asyncio.Task[None] | None = None
        self._store_failing = False
        # Recently quarantined-and-acked keys: a resend is acked again without a new row.
        self._recent_quarantine: OrderedDict[Key, None] = OrderedDict()
        self._logged: set[tuple[str | None, str]] = set()
        self.quota = IngestQuota(settings.ingest_quota_per_hour, settings.ingest_quota_burst)
        self.scrubber = Scrubber(load_key(settings), settings.keep_neighbour_names, settings.store_dpi_debug)
        self.views = StaticViews()  # compact reports' static views (protocol 1.2)
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
                prepared = self._prepare(batch)
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
        return await self._finish(batch, self._prepare(batch))

    def _prepare(self, batch: list[Incoming]) -> _Prepared:
        if not self.stats.first_received:
            self.stats.first_received = batch[0].received_at
        self.stats.received += len(batch)
        messages: list[SpooledMessage] = []
        quarantined: list[QuarantinedMessage] = []
        statuses: list[StatusChange] = []
        quarantine_acks: list[Key] = []
        pending: list[Pending] = []
        for item in batch:
            t = triage(item)
            self.clock.observe(item, t)
            if isinstance(t.out, SpooledMessage) and not self.quota.admit(t.out.gateway_id, item.received_at):
                over = t.out
                self.stats.by_reason[IngestReason.QUOTA] += 1
                if t.ack is not None:
                    quarantine_acks.append(t.ack)
                if self.quota.keep(over.gateway_id, item.received_at):
                    detail = f"over {self.quota.per_hour} messages/hour (burst {self.quota.burst})"
                    head = self.scrubber.message(over).payload[:OVERSIZE_HEAD]  # pseudonyms here too
                    topic = item.topic
                    quarantined.append(
                        QuarantinedMessage(
                            item.received_at, topic, over.gateway_id, IngestReason.QUOTA, detail, head
                        )
                    )
                continue
            if isinstance(t.out, SpooledMessage):
                try:  # pseudonyms before anything is written; a compact report's view merged (views.py)
                    scrubbed = self.scrubber.message(t.out, self.views.complete)
                except Unresolved as exc:
                    t = Triage(QuarantinedMessage(item.received_at, item.topic, t.out.gateway_id, UNRESOLVED,
                                                  str(exc)[:500], item.payload), t.ack)  # fmt: skip
                else:
                    # its view is not cached: fetched before the commit (a report naming a view is
                    # decoded whole by the scrubber; reading .body of another would decode it again)
                    if scrubbed.decoded is not None and "view" in scrubbed.decoded:
                        pending.append(Pending(item.topic, scrubbed, t.ack))
                    else:
                        messages.append(scrubbed)
                    continue
            if isinstance(t.out, QuarantinedMessage):
                self.stats.by_reason[t.out.reason] += 1
                if t.ack is not None:
                    quarantine_acks.append(t.ack)
                    if t.ack in self._recent_quarantine:
                        continue  # the gateway resent it before our ack arrived: ack, keep one row
                    self._recent_quarantine[t.ack] = None
                    if len(self._recent_quarantine) > 10_000:
                        self._recent_quarantine.popitem(last=False)
                kept = self.scrubber.quarantined(t.out)  # pseudonyms: the quarantine is a table too
                quarantined.append(kept)
                self._log_quarantine(kept)
            elif isinstance(t.out, StatusChange):
                statuses.append(t.out)
        messages, flagged, reused = self.keys.check(messages)
        for q in flagged:
            self.stats.by_reason[q.reason] += 1
        quarantined += flagged
        quarantine_acks += reused
        return _Prepared(messages, quarantined, statuses, quarantine_acks, self.views.take_unsaved(), pending)

    async def _views(self, prepared: _Prepared) -> None:
        """Save the views this batch carried, and complete its reports whose view was not cached,
        before the batch commits (an agent omits a view only once its carrier was acknowledged)."""
        delay = 0.2
        while True:
            try:
                if prepared.views:
                    await self.store.db.transaction(prepared.views)
                    prepared.views = []
                done, refused, acks = await settle(
                    self.views, self.store.db, prepared.pending, self.scrubber.reframe
                )
                break
            except Exception as exc:  # the store is down: nothing of this batch is acknowledged meanwhile
                self._store_down(f"static views: {type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        prepared.pending = []
        kept, flagged, reused = self.keys.check(done)
        for q in [*refused, *flagged]:
            self.stats.by_reason[q.reason] += 1
            self._log_quarantine(q)
        prepared.messages += kept
        prepared.quarantined += refused + flagged
        prepared.quarantine_acks += acks + reused

    async def _finish(
        self, batch: list[Incoming], prepared: _Prepared, after: asyncio.Task[BatchResult] | None = None
    ) -> BatchResult:
        if prepared.views or prepared.pending:
            await self._views(prepared)
        messages, quarantined, statuses, quarantine_acks = (
            prepared.messages,
            prepared.quarantined,
            prepared.statuses,
            prepared.quarantine_acks,
        )
        crash_point("ingest.before_commit")
        self._committing += 1
        try:
            result, handled, quarantine_ok = await self._commit(messages, quarantined, statuses)
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

    def _log_quarantine(self, q: QuarantinedMessage) -> None:
        # one line per gateway and reason: a hostile flood must not become a log flood
        if (q.gateway_id, q.reason) in self._logged:
            return
        if len(self._logged) > 10_000:
            self._logged.clear()
        self._logged.add((q.gateway_id, q.reason))
        log.info("quarantined a message on %s: %s %s", q.topic[:120], q.reason, q.detail[:120])

    def _store_down(self, error: str) -> None:
        if not self._store_failing:
            log.error("store unavailable, holding acknowledgements: %s", error)
        self._store_failing = True
        self.stats.last_error = error[:300]
        self.stats.retries += 1

    def _store_up(self) -> None:
        if self._store_failing:
            log.warning("store available again after %d retries; acknowledging", self.stats.retries)
        self._store_failing = False
        self.stats.last_error = ""

    async def _write(
        self,
        messages: list[SpooledMessage],
        quarantined: list[QuarantinedMessage],
        statuses: list[StatusChange],
    ) -> BatchResult:
        """One transaction, retried with back-off until it commits or is refused for good."""
        delay = 0.2
        while True:
            try:
                result = await self.writer.write_batch(Batch(messages, quarantined, statuses))
            except StoreError as exc:
                # A failed ROLLBACK hides the error behind it (SQLite rolls back by itself on
                # SQLITE_FULL, then "no transaction is active"): the cause is unknown, so wait.
                if not exc.transient and "rollback" not in str(exc).lower():
                    raise
                error = str(exc)
            except Exception as exc:  # untranslated driver errors: assume they may pass
                error = f"{type(exc).__name__}: {exc}"
            else:
                self._store_up()
                return result
            self._store_down(error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _commit(
        self,
        messages: list[SpooledMessage],
        quarantined: list[QuarantinedMessage],
        statuses: list[StatusChange],
    ) -> tuple[BatchResult, list[Key], bool]:
        """Store a batch; return the result, the spooled keys handled for good, and whether
        the quarantine rows were stored.

        A batch the store refuses for good is tried record by record, and a record it
        refuses while others of the batch are stored is quarantined (``store_rejected``). If
        not one record can be stored, the store is failing, not the records: wait and retry.
        """
        delay = 0.2
        total, quarantine_ok = BatchResult(), True
        while True:
            try:
                _merge(total, await self._write(messages, quarantined, statuses))
                return total, [(m.gateway_id, m.epoch, m.seq) for m in messages], quarantine_ok
            except StoreError as exc:
                error = str(exc)
            log.error("store refused a batch for good (%s); trying its records one by one", error)
            if quarantined or statuses:
                try:
                    _merge(total, await self._write([], quarantined, statuses))
                except StoreError as exc:
                    log.error(
                        "store refused %d quarantine/status rows: %s", len(quarantined) + len(statuses), exc
                    )
                    quarantine_ok = False
                quarantined, statuses = [], []
            handled: list[Key] = []
            refused: list[tuple[SpooledMessage, str]] = []
            for m in messages:
                try:
                    _merge(total, await self._write([m], [], []))
                    handled.append((m.gateway_id, m.epoch, m.seq))
                except StoreError as exc:
                    refused.append((m, str(exc)))
            if refused and not handled and len(messages) > 1:
                self._store_down(f"store refuses every record of a batch: {error}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for m, detail in refused:
                key = (m.gateway_id, m.epoch, m.seq)
                reason = IngestReason.STORE_REJECTED.value
                q = QuarantinedMessage(
                    m.received_at,
                    topic_for(m.gateway_id, m.kind),
                    m.gateway_id,
                    reason,
                    detail[:500],
                    m.payload,
                )
                try:
                    _merge(total, await self._write([], [q], []))
                except StoreError:
                    log.error("record %s could be neither stored nor quarantined; left unacknowledged", key)
                    continue
                self.stats.by_reason[reason] += 1
                handled.append(key)
            return total, handled, quarantine_ok

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


@dataclass
class _Prepared:
    """A triaged batch waiting for its commit."""

    messages: list[SpooledMessage]
    quarantined: list[QuarantinedMessage]
    statuses: list[StatusChange]
    quarantine_acks: list[Key]
    #: Static views carried by compact reports, saved before the batch commits (views.py).
    views: list[Statement] = field(default_factory=list)
    #: Compact reports whose view must be fetched from the store first.
    pending: list[Pending] = field(default_factory=list)


def _merge(total: BatchResult, part: BatchResult) -> None:
    total.inserted += part.inserted
    total.duplicates += part.duplicates
    total.quarantined += part.quarantined
