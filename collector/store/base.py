"""The store seam: an async interface opened by URL, and the records that cross it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from collector.store.frames import frame_of
from collector.store.plan_input import PlanBody
from collector.store.rows import QuarantineRow, ReportRow
from collector.store.sql import Database
from protocol.codec import decode_stored, decode_unframed

#: Quarantined payloads are kept up to this size (the row's ``size`` says if more was cut).
QUARANTINE_KEEP_BYTES = 64 * 1024


class StoreError(RuntimeError):
    """A store operation failed. ``transient`` says whether retrying later may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable (the keyword-only flag defeats the default), so it can cross from a worker process
        return (_store_error, (str(self), self.transient))


def _store_error(message: str, transient: bool) -> StoreError:
    return StoreError(message, transient=transient)


@dataclass
class SpooledMessage:
    """A validated report or event batch, ready to store (the idempotency key first).

    Treat as read-only. Not a frozen dataclass: its ``__init__`` cost 1.2 us a message
    against 0.2 (each field set through ``object.__setattr__``), paid twice per report
    (triage and the store writer process).
    """

    gateway_id: str
    epoch: int
    seq: int
    kind: str
    window_start: int
    window_end: int
    uptime_s: int
    sent_at: int
    received_at: float
    #: The decoded body, or ``None`` until someone reads :attr:`body` (triage's fast way
    #: validates without building it: a writer process plans from ``packed`` instead).
    decoded: dict[str, Any] | None
    #: The frame kept as ``reports.payload``; ``None``: framed from :attr:`packed` when
    #: :attr:`payload` is first read. The intake hands its rewritten msgpack over unframed, so the
    #: deflate runs in the store writer process as it writes, not in the process that receives.
    frame: bytes | None
    #: The envelope's msgpack as unframed (inflated) by triage, when it was kept: a writer
    #: process decodes the body from it without inflating the payload again.
    packed: bytes = b""
    #: What the ingest plan reads of a report, decoded in advance (a store writer process
    #: decodes the next batch's while the one before commits); ``None``: the plan decodes it.
    planned: PlanBody | None = None

    @property
    def payload(self) -> bytes:
        """The stored frame (:attr:`frame`, made from :attr:`packed` on first read)."""
        if self.frame is None:
            self.frame = frame_of(self.packed)
        return self.frame

    @cached_property
    def body(self) -> dict[str, Any]:
        """The report's or event batch's body, decoded on first use if triage did not."""
        if self.decoded is not None:
            return self.decoded
        found = decode_unframed(self.packed) if self.packed else decode_stored(self.payload)
        body: dict[str, Any] = found["body"]
        return body

    def row(self) -> ReportRow:
        """The ``reports`` row."""
        return ReportRow(
            self.gateway_id,
            self.epoch,
            self.seq,
            self.kind,
            self.window_start,
            self.window_end,
            self.uptime_s,
            self.sent_at,
            self.received_at,
            self.payload,
        )


@dataclass(frozen=True)
class QuarantinedMessage:
    """A payload refused for good, kept with its reason for an operator to inspect."""

    received_at: float
    topic: str
    gateway_id: str | None
    reason: str
    detail: str
    payload: bytes

    def row(self) -> QuarantineRow:
        """The ``quarantine`` row: the payload kept up to QUARANTINE_KEEP_BYTES (its size says if more was cut)."""
        return QuarantineRow(
            self.received_at, self.topic, self.gateway_id, self.reason, self.detail, len(self.payload),
            self.payload[:QUARANTINE_KEEP_BYTES],
        )  # fmt: skip


@dataclass(frozen=True)
class StatusChange:
    gateway_id: str
    state: str
    at: float
    agent_version: str | None = None


@dataclass
class Batch:
    """What ingest hands a store to commit in ONE transaction: new messages (stored once each),
    payloads refused for good (kept with their reason) and gateway status changes."""

    messages: list[SpooledMessage]
    quarantined: list[QuarantinedMessage] = field(default_factory=list)
    statuses: list[StatusChange] = field(default_factory=list)
    #: where this batch's gateway locks come among the batches in flight (``None``: first)
    turn: LockTurn | None = None


class LockTurn:
    """The order in which batches in flight at once take their gateways' row locks.

    A store that commits several batches at once (PostgreSQL) lets a batch take its locks only
    after the batch handed over before it took its own. Its raw insert runs beside the earlier
    batch's plan and writes; its plan waits for the earlier commit (the locks), so each gateway's
    reports are still planned in the order they came, whichever batches they share. A batch
    whose locks do not cover every gateway it writes (a status of a gateway with no report in
    it) passes its turn on only when it ends: locks taken out of order could deadlock.
    """

    def __init__(self, before: LockTurn | None = None) -> None:
        self._before = before
        self._taken = asyncio.Event()

    async def wait(self) -> None:
        """Until the batch before this one has its locks (or has ended)."""
        if self._before is not None:
            await self._before._taken.wait()
            self._before = None  # what is behind it is not needed any more

    def taken(self) -> None:
        """This batch holds its locks (or has ended): the next one may take its own."""
        self._before = None
        self._taken.set()


@dataclass
class ResultsSave:
    """An evaluation's results for ``homes`` (each a dict: gateway_id, rule, kind, version,
    window, state, score, sentence, evidence), and per-home summaries for ``home_profiles``."""

    results: list[dict[str, Any]]
    evaluated_at: float
    homes: list[str]
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class BatchResult:
    """What one committed batch did: which keys were new and which were already stored."""

    inserted: list[tuple[str, int, int]] = field(default_factory=list)
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)
    quarantined: int = 0


def gateway_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A gateways row as the API shows it: JSON columns parsed."""
    payload = row.pop("latest_payload")
    row["latest"] = decode_stored(bytes(payload))["body"] if payload else None
    row["rates"] = json.loads(row.pop("latest_rates") or "{}")
    return row


class FoldState(Protocol):
    """A process's fold state (``store/folding.py``'s ``Folds``)."""

    #: Keep the reports this process commits for folding (off where another process folds them).
    keep_in_memory: bool
    #: (i, n): keep, and read back, only the gateways whose ``folding.share_of`` is i.
    share: tuple[int, int]
    #: Read the queue table back from its end (the store writer process; the collector from its start).
    from_the_end: bool
    #: The privacy key the homes' pseudonyms in ``dpi_unclassified`` are made with (None: not recorded).
    home_key: bytes | None
    #: Reports this process folded (claimed and committed; ``fold_pending`` returns how many it took).
    folded: int

    async def refresh_rules(self, db: Database) -> None:
        """Look at the operator's domain rules again before a fold pass (``dpi/rules.py``)."""
        ...

    def committed(self, messages: list[SpooledMessage], inserted: list[tuple[str, int, int]]) -> None:
        """After a batch's commit: keep its new reports for folding."""
        ...

    def waiting(self) -> int:
        """Reports kept for folding by this process."""
        ...


class FoldQueue(Protocol):
    """A store's fold queue (``sqlite_folds.py``, ``postgres_folds.py``): each stored report folded once."""

    @property
    def state(self) -> FoldState: ...

    async def fold_pending(self, limit: int = 500, everyone: bool = False) -> int:
        """Fold up to ``limit`` queued reports (this process's first, then its share of the table;
        ``everyone``: then anyone's); how many were taken."""
        ...

    async def pending(self) -> int:
        """Reports stored and not yet folded."""
        ...


def rollup_table(period: str) -> str:
    """The rollup table of ``hour`` or ``day``."""
    tables = {"hour": "gateway_hourly", "day": "gateway_daily"}
    if period not in tables:
        raise StoreError(f"rollup period must be hour or day, not {period!r}", transient=False)
    return tables[period]


class Store(Protocol):
    """Everything the collector keeps. One implementation per backend, chosen by URL."""

    url: str

    @property
    def db(self) -> Database:
        """SQL written once for both backends, for the store's concerns (``store/sql.py``)."""
        ...

    @property
    def folds(self) -> FoldQueue:
        """The home-profile fold queue (``store/folding.py``)."""
        ...

    #: How many ``write_batch`` calls may run at once, each in its own transaction (their
    #: commits may then end in any order). One for a single-writer store.
    concurrent_writes: int

    async def open(self) -> None:
        """Connect and apply pending migrations."""
        ...

    async def close(self) -> None: ...

    async def write_batch(self, batch: Batch) -> BatchResult:
        """Store a batch in ONE transaction: raw rows, aggregates, quarantine, status.

        Duplicates (same gateway, epoch, seq) are skipped and reported, never counted
        twice. Raises :class:`StoreError` (transient or not) and stores nothing on failure.
        """
        ...

    def fold_later(self, messages: list[SpooledMessage], inserted: list[tuple[str, int, int]]) -> None:
        """Keep the new reports of a batch another process (the store writer) committed, so
        this one folds them without reading them back."""
        ...

    async def list_gateways(self, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        """Gateways with their latest figures, most recently seen first."""
        ...

    async def gateway(self, gateway_id: str) -> dict[str, Any] | None:
        """One gateway's latest state (report body, computed rates) or ``None``."""
        ...

    async def history(
        self, gateway_id: str, limit: int = 96, span: tuple[int, int] | None = None
    ) -> list[dict[str, Any]]:
        """The gateway's latest per-window facts (ending in ``span``'s ``[start, end)``), oldest first."""
        ...

    async def rollups(self, gateway_id: str, period: str, since: int) -> list[dict[str, Any]]:
        """Hourly (``hour``) or daily (``day``) rollup rows from ``since`` (epoch seconds)."""
        ...

    async def retain(
        self, now: float, raw_days: int = 35, facts_days: int = 90, hourly_days: int = 400
    ) -> dict[str, int]:
        """Delete raw reports, events, facts and hourly rollups past their retention."""
        ...

    async def quarantine(self, limit: int = 100, span: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        """The most recent quarantined payloads (received in ``span``'s ``[start, end)``; no bytes)."""
        ...

    async def counts(self) -> dict[str, int]:
        """Totals: gateways, reports, events, quarantined."""
        ...

    async def stored_keys(self, kind: str | None = None) -> list[tuple[str, int, int]]:
        """Every stored (gateway, epoch, seq); for audits and tests."""
        ...


#: (first_id, last_id, since_day, until_day, only) -> [(gateway, day, core rollup JSON)]
DayReader = Callable[[str, str, int, int, list[str] | None], list[tuple[str, int, str]]]


class InsightsStore(Protocol):
    """The home-profile facet of a store (``docs/profiles.md``): day rollups, CRM rows, results
    with history. Every backend has it (``store/facets.py`` composes it once for both)."""

    async def fold_pending(self, limit: int = 500, everyone: bool = False) -> int:
        """Fold up to ``limit`` stored reports into their day rollups (exactly once); how many.
        This process's share first (``FoldState.share``); ``everyone``: anyone's after it."""
        ...

    #: Keep this process's committed reports decoded for folding (``False``: fold from the
    #: queue table only, as when a writer process commits the batches).
    keep_folds_in_memory: bool

    async def pending_folds(self) -> int:
        """Reports stored and not yet folded into their day rollups."""
        ...

    async def home_days(
        self,
        since_day: int,
        until_day: int | None = None,
        gateway_ids: list[str] | None = None,
        detail: bool = False,
    ) -> list[tuple[str, int, dict[str, Any]]]:
        """(gateway, day, rollup) rows from ``since_day``, ordered by gateway and day."""
        ...

    async def home_ids(self, since_day: int) -> list[str]:
        """Gateways with a rollup since ``since_day`` or a current result, sorted."""
        ...

    async def home_day_texts(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        """Raw core rollups (JSON text) of a range of gateways (or ``only`` those), ordered."""
        ...

    def day_reader(self) -> DayReader:
        """A picklable callable with :meth:`home_day_texts`' arguments, for evaluation workers."""
        ...

    async def updated_homes(self, since: float) -> list[str]:
        """Gateways whose rollups changed after ``since`` (wall time)."""
        ...

    async def upsert_subscribers(self, rows: list[dict[str, Any]], imported_at: float | None = None) -> int:
        """Insert or replace CRM rows keyed by gateway."""
        ...

    async def subscribers(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """CRM rows by gateway."""
        ...

    async def install_baselines(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Each home's latest install baseline: ``{"wifi_score", "recorded_at"}`` by gateway."""
        ...

    async def save_results(
        self,
        results: list[dict[str, Any]],
        evaluated_at: float,
        homes: list[str],
        summaries: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, int]:
        """Replace the results of ``homes`` keeping history (appeared, changed, cleared)."""
        ...

    async def home_results(self, gateway_id: str) -> list[dict[str, Any]]:
        """One home's current results with evidence."""
        ...

    async def result_history(self, gateway_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """One home's result changes, newest first."""
        ...

    async def home_summary(self, gateway_id: str) -> dict[str, Any] | None:
        """One home's last evaluation figures."""
        ...

    async def homes(
        self,
        label: str | None = None,
        flag: str | None = None,
        warning: str | None = None,
        area: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Evaluated homes matching the filters, with their result names, and the total."""
        ...

    async def area_names(self) -> dict[str, list[str]]:
        """The distinct CRM areas and communities (for filters)."""
        ...

    async def area_summary(
        self, min_group: int, level: str = "area", days: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        """Per area or community figures; groups under ``min_group`` homes are suppressed."""
        ...

    async def record_run(self, run: dict[str, Any]) -> None:
        """Remember an evaluation run."""
        ...

    async def last_run(self) -> dict[str, Any] | None:
        """The latest evaluation run."""
        ...


def insights(store: object) -> InsightsStore:
    """``store`` as an :class:`InsightsStore`, or a clear :class:`StoreError` if its backend lacks it."""
    if not all(hasattr(store, name) for name in ("home_days", "save_results", "area_summary")):
        raise StoreError(f"{type(store).__name__} has no home-profile tables yet", transient=False)
    return store  # type: ignore[return-value]


async def drain_folds(store: InsightsStore, chunk: int = 1000) -> int:
    """Fold everything stored so far, whoever's share (before an evaluation reads the day rollups)."""
    total = 0
    while n := await store.fold_pending(chunk, everyone=True):
        total += n
    return total
