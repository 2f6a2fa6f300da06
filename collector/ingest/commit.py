"""Committing a batch: one transaction, retried while the store fails, record by record when it refuses.

Failures are sorted, never fatal: a transient store failure (locked, disk full) is retried with
back-off and nothing is acknowledged meanwhile; a permanent one is retried record by record and
a record the store refuses is quarantined (``store_rejected``). :class:`Committer` says which
spooled keys were handled for good; the caller (``client.py``) acknowledges them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from collector.ingest.triage import IngestReason, Key
from collector.store import (
    Batch,
    BatchResult,
    QuarantinedMessage,
    SpooledMessage,
    StatusChange,
    StoreError,
)
from protocol.topics import topic_for

log = logging.getLogger(__name__)


class BatchWriter(Protocol):
    """What commits a batch: a :class:`Store`, or a writer process in front of one."""

    async def write_batch(self, batch: Batch) -> BatchResult: ...


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


class Committer:
    """Commits batches through ``writer``, counting retries and errors in ``stats``."""

    def __init__(self, writer: BatchWriter, stats: IngestStats) -> None:
        self.writer = writer
        self.stats = stats
        #: The store is failing (logged once when it starts and once when it ends).
        self.failing = False

    def store_down(self, error: str) -> None:
        if not self.failing:
            log.error("store unavailable, holding acknowledgements: %s", error)
        self.failing = True
        self.stats.last_error = error[:300]
        self.stats.retries += 1

    def store_up(self) -> None:
        if self.failing:
            log.warning("store available again after %d retries; acknowledging", self.stats.retries)
        self.failing = False
        self.stats.last_error = ""

    async def write(
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
                self.store_up()
                return result
            self.store_down(error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def commit(
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
                _merge(total, await self.write(messages, quarantined, statuses))
                return total, [(m.gateway_id, m.epoch, m.seq) for m in messages], quarantine_ok
            except StoreError as exc:
                error = str(exc)
            log.error("store refused a batch for good (%s); trying its records one by one", error)
            if quarantined or statuses:
                try:
                    _merge(total, await self.write([], quarantined, statuses))
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
                    _merge(total, await self.write([m], [], []))
                    handled.append((m.gateway_id, m.epoch, m.seq))
                except StoreError as exc:
                    refused.append((m, str(exc)))
            if refused and not handled and len(messages) > 1:
                self.store_down(f"store refuses every record of a batch: {error}")
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
                    _merge(total, await self.write([], [q], []))
                except StoreError:
                    log.error("record %s could be neither stored nor quarantined; left unacknowledged", key)
                    continue
                self.stats.by_reason[reason] += 1
                handled.append(key)
            return total, handled, quarantine_ok


def _merge(total: BatchResult, part: BatchResult) -> None:
    total.inserted += part.inserted
    total.duplicates += part.duplicates
    total.quarantined += part.quarantined
