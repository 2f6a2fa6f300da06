"""MQTT ingest: receive, triage, store in batches, then acknowledge.

paho-mqtt runs its network loop in its own thread with ``manual_ack``: a QoS 1 message
is PUBACKed to the broker, and an application ``ack`` is published to the gateway, only
after the batch holding it has committed. The session is persistent (``clean_start``
false, a week's expiry), so what we had not PUBACKed when we died is delivered again.
Messages flow to the asyncio side through a queue; a batch is flushed when it reaches
``batch_max`` (at most the in-flight window we grant the broker) or ``batch_wait_ms``
after its first message, whichever comes first.

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
import os
import signal
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collector.settings import Settings
from collector.store import BatchResult, QuarantinedMessage, SpooledMessage, StatusChange, Store, StoreError
from protocol.codec import MAX_FRAME, encode, envelope, open_envelope
from protocol.errors import ProtocolError, Reason
from protocol.models import EventBatch, Report, Status, validate
from protocol.topics import SPOOLED_KINDS, Kind, Topic, parse_topic, subscription, topic_for

log = logging.getLogger(__name__)

Key = tuple[str, int, int]  # (gateway_id, epoch, seq): the idempotency key

#: Of a payload larger than any valid frame, only this head is kept (for the quarantine).
OVERSIZE_HEAD = 64 * 1024
#: Ranges per ack message (the v1 model allows 4096).
ACK_RANGES_MAX = 1000


class IngestReason(StrEnum):
    """Quarantine reasons the collector adds to :class:`protocol.errors.Reason`."""

    STORE_REJECTED = "store_rejected"  # the store refused the record for good
    INTERNAL = "internal_error"  # triage itself failed on it (a bug; the payload is kept)


def _crash_targets() -> dict[str, int]:
    # Fault tests only: HOMESCOPE_CRASH_AT=ingest.after_commit:3 SIGKILLs the collector the
    # third time it passes that point (the agent has the same, agent/publisher/crash.py).
    out: dict[str, int] = {}
    for part in os.environ.get("HOMESCOPE_CRASH_AT", "").split(","):
        label, _, n = part.strip().partition(":")
        if label.startswith("ingest."):
            out[label] = int(n) if n.isdigit() and int(n) > 0 else 1
    return out


_CRASH_AT = _crash_targets()


def crash_point(label: str) -> None:
    """SIGKILL this process here if ``HOMESCOPE_CRASH_AT`` asks for it."""
    if label in _CRASH_AT:
        _CRASH_AT[label] -= 1
        if _CRASH_AT[label] == 0:
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: float
    #: The size on the wire when ``payload`` holds only the head of a too-large payload.
    size: int = -1
    #: Delivered from the broker's retained store (an old message, not a fresh one).
    retained: bool = False


@dataclass(frozen=True)
class Triage:
    """What one message becomes, and what may be acknowledged once it is committed."""

    out: SpooledMessage | QuarantinedMessage | StatusChange | None
    ack: Key | None = None
    sent_at: int | None = None


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
    #: Messages whose sender's clock is off by more than ``max_clock_skew_s``.
    skewed: int = 0
    clock_jumps: int = 0
    last_error: str = ""
    last_commit: float = 0.0
    by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: Gateways whose clock is off now, by how many seconds (positive: ahead of ours).
    skew_s: dict[str, int] = field(default_factory=dict)


def ack_ranges(seqs: list[int]) -> list[list[int]]:
    """Compress sequence numbers into inclusive ``[low, high]`` ranges."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _int(value: object, below: int) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < below
    return value if ok else None  # type: ignore[return-value]


def _own_key(where: Topic, raw: dict[str, Any]) -> Key | None:
    # open_envelope has checked that the payload names the topic's gateway and kind, and the
    # broker's ACL ties the topic to the sender: acknowledging this key can only tell the
    # sender itself to stop resending its own record.
    epoch, seq = _int(raw.get("epoch"), 2**32), _int(raw.get("seq"), 2**64)
    if where.kind not in SPOOLED_KINDS or epoch is None or seq is None:
        return None
    return (where.gateway_id, epoch, seq)


def triage(item: Incoming) -> Triage:
    """Decode and validate one message into what the store keeps and what may be acked."""
    where: Topic | None = None

    def refuse(reason: str, detail: str, ack: Key | None = None) -> Triage:
        gid = where.gateway_id if where else None
        return Triage(QuarantinedMessage(item.received_at, item.topic, gid, reason, detail, item.payload), ack)

    try:
        where = parse_topic(item.topic)
        if item.size > MAX_FRAME:
            raise ProtocolError(Reason.OVERSIZE, f"payload of {item.size} bytes exceeds {MAX_FRAME}")
        raw = open_envelope(item.payload, item.topic)
    except ProtocolError as exc:
        return refuse(exc.reason.value, exc.detail)
    except Exception as exc:  # a decoder bug must cost one message, not the collector
        return refuse(IngestReason.INTERNAL.value, f"{type(exc).__name__}: {exc}"[:500])
    sent_at = _int(raw.get("sent_at"), 2**40)
    try:
        message = validate(raw)
    except ProtocolError as exc:
        return refuse(exc.reason.value, exc.detail, _own_key(where, raw))
    except Exception as exc:
        return refuse(IngestReason.INTERNAL.value, f"{type(exc).__name__}: {exc}"[:500], _own_key(where, raw))
    if isinstance(message, Report | EventBatch):
        spooled = SpooledMessage(
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
        return Triage(spooled, (message.gateway_id, message.epoch, message.seq), sent_at)
    if isinstance(message, Status):
        change = StatusChange(message.gateway_id, message.state, item.received_at, message.agent_version)
        return Triage(change, None, sent_at)
    return Triage(None)  # ack/cmd are ours; the subscription does not carry them


def classify(item: Incoming) -> SpooledMessage | QuarantinedMessage | StatusChange | None:
    """What the store keeps of one message (see :func:`triage` for the acknowledgement)."""
    return triage(item).out


class Ingest:
    """Owns the collector's MQTT connection and the batch loop."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.stats = IngestStats()
        self.connected = False
        #: In-flight messages we let the broker send us unacknowledged (MQTT 5 Receive Maximum).
        self.window = max(20, min(65535, settings.batch_max * 2))
        self.batch_max = min(settings.batch_max, self.window)
        self._queue: asyncio.Queue[Incoming] | None = None
        self._queued = 0  # approximate, read by the paho thread to shed QoS 0 floods
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._store_failing = False
        # Recently quarantined-and-acked keys: a resend is acked again without a new row.
        self._recent_quarantine: OrderedDict[Key, None] = OrderedDict()
        self._logged: set[tuple[str | None, str]] = set()
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
        # Subscribe on every connection: a broker that lost its state (kill -9 before its
        # autosave) has forgotten our subscriptions even if it kept the client id.
        group = self.settings.share_group or None
        client.subscribe([(subscription(kind, group), 1) for kind in (*SPOOLED_KINDS, Kind.STATUS)])

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self.connected:
            log.warning("collector mqtt: connection lost: %s", reason)
        self.connected = False

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload, size = message.payload, -1
        if len(payload) > MAX_FRAME:
            # keep only what the quarantine stores: a 10 MB blob must not wait in our queue
            payload, size = payload[:OVERSIZE_HEAD], len(payload)
        if message.qos == 0 and self._queued >= 4 * self.window:
            # QoS 1 is bounded by the window we grant the broker; QoS 0 is not, and no agent uses it
            if not self.stats.shed:
                log.warning("collector mqtt: queue full, shedding QoS 0 messages")
            self.stats.shed += 1
            return
        self._queued += 1
        item = Incoming(
            message.topic, bytes(payload), message.mid, message.qos, time.time(), size, bool(message.retain)
        )
        assert self._loop is not None and self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    # -- asyncio side -----------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 7 * 24 * 3600  # keep our queue while we restart
        props.ReceiveMaximum = self.window
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

    def health(self) -> dict[str, Any]:
        """Figures for ``/healthz``: counts, queue, clock skew; cheap and never raising."""
        s = self.stats
        skewed = dict(sorted(s.skew_s.items())[:20])
        return {
            "quarantined_acked": s.quarantined_acked,
            "quarantine_reasons": dict(s.by_reason),
            "retries": s.retries,
            "shed": s.shed,
            "queued": self._queued,
            "last_commit_age_s": round(time.time() - s.last_commit, 1) if s.last_commit else None,
            "clock_skewed_messages": s.skewed,
            "clock_skewed_gateways": len(s.skew_s),
            "clock_skew_s": skewed,
            "clock_jumps": s.clock_jumps,
        }

    async def _collect(self) -> list[Incoming]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.settings.batch_wait_ms / 1000
        while len(batch) < self.batch_max:
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
        self._queued = max(0, self._queued - len(batch))
        return batch

    async def _batches(self) -> None:
        while True:
            batch = await self._collect()
            await self.handle(batch)

    async def handle(self, batch: list[Incoming]) -> BatchResult:
        """Triage, store (retrying transient failures) and acknowledge one batch."""
        self.stats.received += len(batch)
        messages: list[SpooledMessage] = []
        quarantined: list[QuarantinedMessage] = []
        statuses: list[StatusChange] = []
        quarantine_acks: list[Key] = []
        for item in batch:
            t = triage(item)
            self._check_clock(item, t)
            if isinstance(t.out, SpooledMessage):
                messages.append(t.out)
            elif isinstance(t.out, QuarantinedMessage):
                self.stats.by_reason[t.out.reason] += 1
                if t.ack is not None:
                    quarantine_acks.append(t.ack)
                    if t.ack in self._recent_quarantine:
                        continue  # the gateway resent it before our ack arrived: ack, keep one row
                    self._recent_quarantine[t.ack] = None
                    if len(self._recent_quarantine) > 10_000:
                        self._recent_quarantine.popitem(last=False)
                quarantined.append(t.out)
                self._log_quarantine(t.out)
            elif isinstance(t.out, StatusChange):
                statuses.append(t.out)
        crash_point("ingest.before_commit")
        result, handled, quarantine_ok = await self._commit(messages, quarantined, statuses)
        crash_point("ingest.after_commit")
        self.stats.batches += 1
        self.stats.last_commit = time.time()
        self.stats.stored += len(result.inserted)
        self.stats.duplicates += len(result.duplicates)
        self.stats.quarantined += result.quarantined
        self.stats.statuses += len(statuses)
        if quarantine_ok:
            handled += quarantine_acks
            self.stats.quarantined_acked += len(quarantine_acks)
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

    def _check_clock(self, item: Incoming, t: Triage) -> None:
        # A status is framed when it is sent: its sent_at reads the gateway's clock now. A
        # spooled record may be framed days ago (sent after an outage), so it can only show
        # a clock that is ahead. sent_at 0 is "unknown" (the last will is framed at start-up),
        # and a retained status is an old message by definition.
        out = t.out
        if t.sent_at in (None, 0) or item.retained or not isinstance(out, StatusChange | SpooledMessage):
            return
        assert t.sent_at is not None
        offset = t.sent_at - int(item.received_at)
        limit = self.settings.max_clock_skew_s
        gid = out.gateway_id
        if isinstance(out, SpooledMessage) and out.kind == Kind.EVENT.value:
            jumps = [e for e in out.body.get("events", []) if e.get("type") == "clock_jump"]
            if jumps:
                self.stats.clock_jumps += len(jumps)
                log.warning("gateway %s reports its clock jumped by %+d s", gid, jumps[-1].get("delta_s", 0))
        skewed = abs(offset) > limit if isinstance(out, StatusChange) else offset > limit
        if skewed:
            self.stats.skewed += 1
            if gid not in self.stats.skew_s:
                log.warning("gateway %s: its clock is %+d s off ours (limit %d s)", gid, offset, limit)
            self.stats.skew_s[gid] = offset
        elif isinstance(out, StatusChange) and self.stats.skew_s.pop(gid, None) is not None:
            log.info("gateway %s: its clock agrees with ours again", gid)

    async def _write(
        self, messages: list[SpooledMessage], quarantined: list[QuarantinedMessage], statuses: list[StatusChange]
    ) -> BatchResult:
        """One transaction, retried with back-off until it commits or is refused for good."""
        delay = 0.2
        while True:
            try:
                result = await self.store.write_batch(messages, quarantined, statuses)
            except StoreError as exc:
                if not exc.transient:
                    raise
                error = str(exc)
            except Exception as exc:  # untranslated driver errors: assume they may pass
                error = f"{type(exc).__name__}: {exc}"
            else:
                if self._store_failing:
                    log.warning("store available again after %d retries; acknowledging", self.stats.retries)
                    self._store_failing = False
                    self.stats.last_error = ""
                return result
            if not self._store_failing:
                log.error("store unavailable, holding acknowledgements: %s", error)
            self._store_failing = True
            self.stats.last_error = error[:300]
            self.stats.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _commit(
        self, messages: list[SpooledMessage], quarantined: list[QuarantinedMessage], statuses: list[StatusChange]
    ) -> tuple[BatchResult, list[Key], bool]:
        """Store a batch; return the result, the spooled keys handled for good, and whether
        the quarantine rows were stored."""
        try:
            result = await self._write(messages, quarantined, statuses)
            return result, [(m.gateway_id, m.epoch, m.seq) for m in messages], True
        except StoreError as exc:
            log.error("store refused a batch for good (%s); storing its records one by one", exc)
        total, handled, quarantine_ok = BatchResult(), [], True
        try:
            _merge(total, await self._write([], quarantined, statuses))
        except StoreError as exc:
            log.error("store refused %d quarantine and status rows: %s", len(quarantined) + len(statuses), exc)
            quarantine_ok = False
        for m in messages:
            key = (m.gateway_id, m.epoch, m.seq)
            try:
                _merge(total, await self._write([m], [], []))
                handled.append(key)
                continue
            except StoreError as exc:
                reason, detail = IngestReason.STORE_REJECTED.value, str(exc)[:500]
            q = QuarantinedMessage(m.received_at, topic_for(m.gateway_id, m.kind), m.gateway_id, reason, detail, m.payload)
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
                self._client.publish(topic_for(gateway_id, Kind.ACK), frame, qos=1)
        for item in batch:
            if item.qos > 0:
                self._client.ack(item.mid, item.qos)


def _merge(total: BatchResult, part: BatchResult) -> None:
    total.inserted += part.inserted
    total.duplicates += part.duplicates
    total.quarantined += part.quarantined
