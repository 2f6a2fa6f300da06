"""Folding stored reports into their homes' day rollups: the part both stores share.

A report committed by ingest gets a ``home_fold_queue`` row in its batch's transaction; a
folder later *claims* queue rows (deleting them in the transaction that folds them, so each
report is folded exactly once) and adds each claimed report's window to its home's day row
(``home_days``). How a store claims and locks differs (one SQLite writer; PostgreSQL
folders sharing the queue with ``SKIP LOCKED``), so each store keeps that part, in a few
statements. What a fold computes is here, once:

- :class:`Folds`: this process's fold state, created with the store (never on first use):
  the reports it committed and has not folded yet, kept so they need no read-back (up to
  :data:`FOLD_BACKLOG`; past that, or after a restart, the queue table is the backlog), and
  the parsed days of the last folds (:data:`DAY_CACHE`);
- :func:`fold_parts`: what a report's window adds, read straight from its msgpack by C
  (``rollup.packed_window_parts``: no body decoded; no inflate when the unframed msgpack is
  kept), or from its decoded body; :func:`fold_body` decodes the fields the fold reads
  (``rollup.WindowBody``) as dicts: the way before, which tests and ``bench/fold.py`` hold the
  packed way to;
- :meth:`Folds.prepare`: what each report's window adds (:func:`fold_parts`, with the
  operator's domain rules applied: ``dpi/recount.py``), computed before any claim or lock, so
  two folders (a collector and its store writer process, each with a share of the gateways)
  compute at once even on SQLite's single writer;
- :meth:`Folds.memberships`: the report's unclassified domains per ISO week and home pseudonym
  (``dpi/unclassified.py``), written in the folding transaction;
- :meth:`Folds.fold`: claimed reports grouped by home-day, each day parsed (or taken from
  the cache) once, every window added in place (``rollup.add_window``) and written once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from collector.dpi.recount import recount
from collector.dpi.rules import RuleSnapshot
from collector.dpi.unclassified import Seen, memberships, seen_in
from collector.profiles.rollup import (
    PackedWindow,
    add_window,
    day_of,
    decode_window_body,
    join_day,
    packed_window_parts,
    split_day,
    window_parts,
)
from collector.store.base import SpooledMessage
from collector.store.sql import Database
from protocol.codec import unframe
from protocol.errors import ProtocolError, Reason

log = logging.getLogger(__name__)

Key = tuple[str, int, int]  # (gateway_id, epoch, seq)
DayKey = tuple[str, int]  # (gateway_id, UTC day)
#: Reports committed by this process kept for folding; past this the queue table is the backlog.
#: Each is kept as its unframed msgpack only (:func:`kept_copy`: ~4.8 KB for an emulator report,
#: against ~11.5 KB with the writer process's plan body and the stored frame), so the bound is
#: ~50 MB a process; a report folded from memory skips the read-back and the inflate (~25 us).
FOLD_BACKLOG = 10_000
#: Parsed day rollups kept between folds (a day is ~30 KB of Python objects): one per home
#: of a 1,000-home back-fill; a larger fleet simply parses more often.
DAY_CACHE = 1200

_dumps_bytes = msgspec.json.Encoder().encode  # the same text as json.dumps, several times faster
_loads = msgspec.json.Decoder().decode


def fold_body(m: SpooledMessage) -> dict[str, Any]:
    """What the fold reads of a stored report, decoded from its msgpack as dicts (the reference
    :func:`fold_parts` is tested against; folding itself reads the msgpack).

    Raises :class:`ProtocolError` when it does not decode (cannot happen to a report this code
    validated: the caller drops it from the queue rather than let it block).
    """
    try:
        if m.packed:
            return decode_window_body(m.packed)
        if m.decoded is not None:
            return m.decoded  # a whole body (only a writer process keeps partial ones, always with packed)
        return decode_window_body(unframe(m.payload))
    except msgspec.DecodeError as exc:
        raise ProtocolError(Reason.MALFORMED, f"{type(exc).__name__}: {exc}"[:200]) from exc


def fold_parts(m: SpooledMessage) -> PackedWindow:
    """What a stored report's window adds (``rollup.window_parts``) and its ``unclassified`` rows.

    Read from its msgpack where it is kept (or the payload unframed) without decoding the body;
    from the body where a whole one is kept without it. Raises :class:`ProtocolError` when it
    does not decode, as :func:`fold_body`.
    """
    try:
        if m.packed:
            return packed_window_parts(m.packed, m.window_start, m.window_end)
        if m.decoded is not None:
            parts, sparse = window_parts(m.decoded, m.window_start, m.window_end)
            return PackedWindow(parts, sparse, m.decoded.get("unclassified") or None)
        return packed_window_parts(unframe(m.payload), m.window_start, m.window_end)
    except msgspec.DecodeError as exc:
        raise ProtocolError(Reason.MALFORMED, f"{type(exc).__name__}: {exc}"[:200]) from exc


def kept_copy(m: SpooledMessage) -> SpooledMessage:
    """What a folder keeps of a committed report: only what :func:`fold_parts` reads. With its
    unframed msgpack that is the msgpack alone (a writer process's partial plan body and the
    stored frame are dropped: more than half of what the message held)."""
    if not m.packed:
        return m
    return SpooledMessage(
        m.gateway_id, m.epoch, m.seq, m.kind, m.window_start, m.window_end, m.uptime_s, m.sent_at, m.received_at,
        None, b"", m.packed,
    )  # fmt: skip


def share_of(gateway_id: str, of: int) -> int:
    """Which of ``of`` folders keeps a gateway's reports: its last character's code point modulo
    ``of``. SQL computes the same (``unicode(substr(g, -1))``, ``ascii(right(g, 1))``), so a folder
    reads its own share of the queue table back too, not reports the other one holds in memory."""
    return ord(gateway_id[-1]) % of if gateway_id else 0


class ReadBack(NamedTuple):
    """How a folder reads the queue table back (:meth:`Folds.read_back`)."""

    #: ``ASC`` or ``DESC``: the key order it reads in
    order: str
    #: (of, mine): only the gateways whose :func:`share_of` is ``mine``; ``None``: anyone's
    share: tuple[int, int] | None


class Prepared(NamedTuple):
    """A claimed-to-be report and what its window adds (computed before any lock is taken)."""

    report: SpooledMessage
    day: DayKey
    parts: dict[str, Any]
    sparse: dict[int, int]
    #: The report's unclassified domains (``dpi_unclassified``), if it named any.
    seen: Seen | None = None


class DayWrite(NamedTuple):
    """A home-day's new rollup, as the two JSON texts ``home_days`` keeps."""

    gateway_id: str
    day: int
    data: str
    detail: str


@dataclass
class Folds:
    """This process's fold state (see the module docstring); one per store, made in its ``__init__``."""

    #: Keep reports this process commits for folding (off where another process folds them).
    keep_in_memory: bool = True
    #: (i, n): keep, and read back first, only the gateways whose ``share_of`` is i. A collector and
    #: its store writer process fold a half each, on two cores (a gateway's reports stay on one side).
    share: tuple[int, int] = (0, 1)
    #: Read the queue table from its end (the store writer process does; the collector from its
    #: start): two folders of one file reading the backlog back compute disjoint reports until
    #: they meet, instead of both preparing the same reports and one losing every claim.
    from_the_end: bool = False
    #: gateway -> its kept reports by key, gateways in the order they first came: a chunk takes
    #: whole gateways, so a backlog writes each home-day once for all its reports (not once each)
    memory: dict[str, dict[Key, SpooledMessage]] = field(default_factory=dict)
    #: reports kept in ``memory`` (counted, not summed over its gateways at every look)
    kept: int = 0
    #: reports this process folded (claimed and committed): ``fold_pending`` returns how many it
    #: took, which counts kept ones another process claimed first
    folded: int = 0
    #: (gateway, day) -> (data text, detail text, parsed day), oldest use first
    days: dict[DayKey, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    #: The operator's domain rules as of this fold pass (``Facets.fold_pending`` refreshes them).
    rules: RuleSnapshot = field(default_factory=RuleSnapshot)
    #: The deployment's privacy key, for the homes' pseudonyms in ``dpi_unclassified`` (set by
    #: whoever opens the store for the service; without it no membership is recorded).
    home_key: bytes | None = None
    _warned: bool = False

    def committed(self, messages: list[SpooledMessage], inserted: list[Key]) -> None:
        """After a batch's commit: keep its new reports for folding, up to the bound."""
        if not self.keep_in_memory or not inserted:
            return
        new = set(inserted)
        memory = self.memory
        mine, of = self.share
        for m in messages:
            if self.kept >= FOLD_BACKLOG:
                return  # still queued in the table: folded from there
            key = (m.gateway_id, m.epoch, m.seq)
            ours = of == 1 or share_of(m.gateway_id, of) == mine
            if ours and m.kind == "report" and key in new:
                kept = memory.setdefault(m.gateway_id, {})
                if key not in kept:  # a resent report is kept once
                    kept[key] = kept_copy(m)
                    self.kept += 1

    def waiting(self) -> int:
        """Reports kept for folding by this process."""
        return self.kept

    def take(self, limit: int) -> list[SpooledMessage]:
        """Up to ``limit`` of this process's reports (they must still be claimed): whole gateways,
        the gateway kept longest first, so a home's reports are folded into its day together."""
        memory = self.memory
        out: list[SpooledMessage] = []
        while memory and len(out) < limit:
            gateway_id = next(iter(memory))
            reports = memory[gateway_id]
            room = limit - len(out)
            if len(reports) <= room:
                del memory[gateway_id]
                out += reports.values()
            else:  # a gateway with more kept than the chunk holds: its oldest now, the rest next
                out += [reports.pop(next(iter(reports))) for _ in range(room)]
        self.kept -= len(out)
        return out

    def read_back(self, own: bool) -> ReadBack | None:
        """How to read the queue table back: this folder's share (``own``) or anyone's, in key
        order from the folder's end; ``None`` when there is nothing more to read (a lone folder's
        own share is everyone's). Each store writes its statement from this."""
        order = "DESC" if self.from_the_end else "ASC"
        of, mine = self.share
        if own and of > 1:
            return ReadBack(order, (of, mine))
        if own or of > 1:
            return ReadBack(order, None)
        return None

    def prepare(self, reports: list[SpooledMessage]) -> list[Prepared]:
        """What each report's window adds: the fold's costly part, a pure function of the
        report (and the rules of this pass), so a folder computes it before it claims and locks
        anything. A report that does not decode is left out (logged); its claim still removes
        it from the queue."""
        out: list[Prepared] = []
        rules = self.rules.categories
        for m in reports:
            try:
                parts, sparse, rows = fold_parts(m)
            except ProtocolError as exc:
                log.error("cannot fold %s/%s/%s: %s; dropped", m.gateway_id, m.epoch, m.seq, exc)
                continue
            if rows:
                recount(sparse, rows, rules, m.window_end - m.window_start)
            seen = seen_in(rows, m.window_start) if rows else None
            out.append(Prepared(m, (m.gateway_id, day_of(m.window_start)), parts, sparse, seen))
        return out

    async def refresh_rules(self, db: Database) -> None:
        """Reload the operator's domain rules if they changed (one small query if not)."""
        await self.rules.refresh(db)

    def memberships(self, claimed: list[Prepared]) -> list[tuple[int, str, str, int]]:
        """The ``dpi_unclassified`` rows claimed reports add (``unclassified.UPSERT``), sorted."""
        seen = [(p.report.gateway_id, p.seen) for p in claimed if p.seen is not None]
        if not seen:
            return []
        if self.home_key is None:
            if not self._warned:
                log.warning(
                    "reports name unclassified domains but this store was given no privacy key: not recorded"
                )
                self._warned = True
            return []
        return memberships(seen, self.home_key)

    def fold(self, prepared: list[Prepared], stored: dict[DayKey, tuple[str, str]]) -> list[DayWrite]:
        """The new rows of every home-day ``prepared`` (claimed) reports touch, from their
        ``stored`` (data, detail) texts (empty texts for a placeholder row). Each day is parsed
        at most once (not at all when the cache still holds what is stored) and written once."""
        by_day: dict[DayKey, list[Prepared]] = {}
        for p in prepared:
            by_day.setdefault(p.day, []).append(p)
        cache = self.days
        writes: list[DayWrite] = []
        for key in sorted(by_day):
            data, detail = stored.get(key) or ("", "")
            cached = cache.pop(key, None)
            if not data:
                day: dict[str, Any] = {}
            elif cached is not None and cached[0] == data and cached[1] == detail:
                day = cached[2]  # the parsed day of the last fold, still what is stored
            else:
                day = join_day(_loads(data), _loads(detail) if detail else None)
            for p in by_day[key]:
                add_window(day, p.parts, p.sparse)
            core, extra = split_day(day)
            write = DayWrite(key[0], key[1], _dumps_bytes(core).decode(), _dumps_bytes(extra).decode())
            writes.append(write)
            # cached before the commit: a rolled-back fold leaves other texts stored, so a miss
            cache[key] = (write.data, write.detail, day)
            if len(cache) > DAY_CACHE:
                del cache[next(iter(cache))]
        return writes

    @staticmethod
    def day_keys(prepared: list[Prepared]) -> list[DayKey]:
        """The home-days ``prepared`` reports fold into, sorted (the order PostgreSQL locks them in)."""
        return sorted({p.day for p in prepared})

    def forget(self) -> None:
        """After a failed fold: what was taken is still queued in the table; fold it from there."""
        self.days.clear()


def stored_report(row: tuple[Any, ...]) -> SpooledMessage | None:
    """A queued report read back from ``reports`` (gateway, epoch, seq, window_start, window_end,
    uptime_s, sent_at, received_at, payload), or ``None`` if retention deleted it meanwhile."""
    gid, epoch, seq, start, end, uptime, sent, received, payload = row
    if payload is None:
        return None
    return SpooledMessage(
        str(gid), int(epoch), int(seq), "report", int(start), int(end), int(uptime), int(sent), float(received),
        None, bytes(payload),
    )  # fmt: skip
