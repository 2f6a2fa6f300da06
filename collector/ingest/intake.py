"""What a received batch becomes before its commit: triaged, within quota, rewritten for privacy.

Each message is judged by ``triage`` (pure), counted against its gateway's quota
(``quota.py``), watched for clock skew (``clock.py``) and reused keys (``keywatch.py``), and
rewritten under the privacy rules before anything is written (``privacy/scrub.py``; a compact
report's static view merged back, ``views.py``). A payload that breaks the contract becomes a
quarantine row, acknowledged when its envelope is readable and its identity is the topic's.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from collector.ingest.clock import ClockWatch
from collector.ingest.commit import Committer, IngestStats
from collector.ingest.keywatch import KeyWatch
from collector.ingest.quota import IngestQuota
from collector.ingest.triage import OVERSIZE_HEAD, Incoming, IngestReason, Key, Triage, triage
from collector.ingest.views import UNRESOLVED, Pending, StaticViews, Unresolved, settle
from collector.privacy.keys import load_key
from collector.privacy.scrub import Scrubber
from collector.settings import Settings
from collector.store import QuarantinedMessage, SpooledMessage, StatusChange, Store
from collector.store.sql import Statement

log = logging.getLogger(__name__)


class Intake:
    """Turns received messages into a :class:`Prepared` batch (counting into ``stats``)."""

    def __init__(self, settings: Settings, stats: IngestStats) -> None:
        self.stats = stats
        self.clock = ClockWatch(settings.max_clock_skew_s)
        self.keys = KeyWatch()  # reused keys and shared gateway ids (keywatch.py)
        self.quota = IngestQuota(settings.ingest_quota_per_hour, settings.ingest_quota_burst)
        self.scrubber = Scrubber(load_key(settings), settings.keep_neighbour_names, settings.store_dpi_debug)
        self.views = StaticViews()  # compact reports' static views (protocol 1.2)
        # Recently quarantined-and-acked keys: a resend is acked again without a new row.
        self._recent_quarantine: OrderedDict[Key, None] = OrderedDict()
        self._logged: set[tuple[str | None, str]] = set()

    def prepare(self, batch: list[Incoming]) -> Prepared:
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
                self.log_quarantine(kept)
            elif isinstance(t.out, StatusChange):
                statuses.append(t.out)
        messages, flagged, reused = self.keys.check(messages)
        for q in flagged:
            self.stats.by_reason[q.reason] += 1
        quarantined += flagged
        quarantine_acks += reused
        return Prepared(messages, quarantined, statuses, quarantine_acks, self.views.take_unsaved(), pending)

    async def settle(self, prepared: Prepared, store: Store, committer: Committer) -> None:
        """Save the views this batch carried, and complete its reports whose view was not cached,
        before the batch commits (an agent omits a view only once its carrier was acknowledged)."""
        delay = 0.2
        while True:
            try:
                if prepared.views:
                    await store.db.transaction(prepared.views)
                    prepared.views = []
                done, refused, acks = await settle(
                    self.views, store.db, prepared.pending, self.scrubber.reframe
                )
                break
            except Exception as exc:  # the store is down: nothing of this batch is acknowledged meanwhile
                committer.store_down(f"static views: {type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        prepared.pending = []
        kept, flagged, reused = self.keys.check(done)
        for q in [*refused, *flagged]:
            self.stats.by_reason[q.reason] += 1
            self.log_quarantine(q)
        prepared.messages += kept
        prepared.quarantined += refused + flagged
        prepared.quarantine_acks += acks + reused

    def log_quarantine(self, q: QuarantinedMessage) -> None:
        # one line per gateway and reason: a hostile flood must not become a log flood
        if (q.gateway_id, q.reason) in self._logged:
            return
        if len(self._logged) > 10_000:
            self._logged.clear()
        self._logged.add((q.gateway_id, q.reason))
        log.info("quarantined a message on %s: %s %s", q.topic[:120], q.reason, q.detail[:120])


@dataclass
class Prepared:
    """A triaged batch waiting for its commit."""

    messages: list[SpooledMessage]
    quarantined: list[QuarantinedMessage]
    statuses: list[StatusChange]
    quarantine_acks: list[Key]
    #: Static views carried by compact reports, saved before the batch commits (views.py).
    views: list[Statement] = field(default_factory=list)
    #: Compact reports whose view must be fetched from the store first.
    pending: list[Pending] = field(default_factory=list)
