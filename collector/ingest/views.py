"""The static views of compact reports, merged into each report before it is stored (protocol 1.2).

A compact report names its *static view* (a station's hostname and address, the board, ...;
``protocol/compact.py``) by id, and carries it only when the collector may not have it. Ingest
merges the view into the report between the privacy scrubber and the store, so the stored
frame, the facts, profiles, the installer's snapshot and every page see the full report as an
older agent sends it, and never a view reference.

Where a view comes from, cheapest first:

1. the report itself (it carries the view): merged, kept in the cache, and saved to the
   ``static_views`` table before the batch holding the report commits; the gateway is
   acknowledged only after that commit, and an agent leaves a view out only once a report
   that carried it was acknowledged, so a saved view is there for every report that needs it;
2. a bounded LRU cache of the views seen (``capacity`` gateways' views as msgpack);
3. the store (after a restart, or when another collector of a shared subscription took the
   carrier): :meth:`StaticViews.fetch`, once per missing view, off the per-message path.

A report whose view is nowhere (its carrier lost to a quota quarantine, a restored database),
or whose station the view does not hold, is quarantined with reason ``unresolved_view`` and
acknowledged: it cannot become correct by waiting, and the agent carries the view again
within 16 reports. Views are pseudonymised like reports (the scrubber rewrites them before
they are kept), erased with their gateway (``collector/privacy/erase.py`` finds the table by
its ``gateway_id``), and aged out with raw reports (``collector/privacy/retention.py``); an
agent carries its view at least every four hours, which refreshes ``stored_at``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from collector.ingest.triage import IngestReason
from collector.store import QuarantinedMessage, SpooledMessage
from collector.store.sql import Database, Statement
from protocol.codec import decode_stored, decode_unframed
from protocol.compact import merge

UPSERT = (
    "INSERT INTO static_views (gateway_id, view_id, content, stored_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (gateway_id, view_id) DO UPDATE SET content = excluded.content, stored_at = excluded.stored_at"
)
SELECT = "SELECT content FROM static_views WHERE gateway_id = ? AND view_id = ?"
#: Quarantine reason of a compact report the collector cannot complete.
UNRESOLVED = IngestReason.UNRESOLVED_VIEW.value
_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder().decode


class Unresolved(Exception):
    """A compact report cannot be completed: the reason, for the quarantine row."""


@dataclass(frozen=True, slots=True)
class ViewRow:
    """One ``static_views`` row to save."""

    gateway_id: str
    view_id: str
    content: bytes
    stored_at: float


def view_key(view_id: int) -> str:
    """A view id as the table keeps it: 16 hex digits (a u64 does not fit PostgreSQL's BIGINT)."""
    return f"{view_id:016x}"


class StaticViews:
    """Completes compact reports; owns the cache and the views waiting to be saved."""

    def __init__(self, capacity: int = 65_536) -> None:
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        #: Views carried by reports of the batch being prepared, saved before it commits.
        self.unsaved: list[ViewRow] = []
        self.fetched = 0

    def complete(self, gateway_id: str, body: dict[str, Any]) -> bool:
        """Merge the view ``body`` names into it (from the body or the cache); ``False`` when the
        view must be fetched from the store first. Raises :class:`Unresolved`."""
        view = body.get("view")
        if view is None:
            return True  # an ordinary report
        vid = view.get("id")
        if not isinstance(vid, int):
            raise Unresolved("body.view has no integer id")
        if len(view) > 1:  # carried: keep it (scrubbed already) for the reports that follow
            packed = _ENCODE(view)
            self._remember(gateway_id, vid, packed)
            self.unsaved.append(ViewRow(gateway_id, view_key(vid), packed, time.time()))
        else:
            packed_view = self._cache.get((gateway_id, vid))
            if packed_view is None:
                return False
            self._cache.move_to_end((gateway_id, vid))
            view = _DECODE(packed_view)
        problem = merge(body, view)
        if problem is not None:
            raise Unresolved(problem)
        return True

    def _remember(self, gateway_id: str, vid: int, packed: bytes) -> None:
        self._cache[(gateway_id, vid)] = packed
        self._cache.move_to_end((gateway_id, vid))
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    def take_unsaved(self) -> list[Statement]:
        """The statements saving the views carried since the last call (one upsert each)."""
        rows, self.unsaved = self.unsaved, []
        if not rows:
            return []
        latest = {(r.gateway_id, r.view_id): r for r in rows}  # one row per key in a batch
        params = [(r.gateway_id, r.view_id, r.content, r.stored_at) for r in latest.values()]
        return [Statement(UPSERT, params, many=True)]

    async def fetch(self, db: Database, gateway_id: str, vid: int) -> bool:
        """Load one view from the store into the cache; whether it was there."""
        if (gateway_id, vid) in self._cache:
            return True
        row = await db.fetch_one(SELECT, (gateway_id, view_key(vid)))
        self.fetched += 1
        if row is None:
            return False
        self._remember(gateway_id, vid, bytes(row["content"]))
        return True


@dataclass(slots=True)
class Pending:
    """A compact report (scrubbed, framed with its view reference) whose view is being fetched."""

    topic: str
    message: SpooledMessage
    ack: tuple[str, int, int] | None


async def settle(
    views: StaticViews,
    db: Database,
    pending: list[Pending],
    reframe: Callable[[SpooledMessage, dict[str, Any]], SpooledMessage],
) -> tuple[list[SpooledMessage], list[QuarantinedMessage], list[tuple[str, int, int]]]:
    """Fetch the views ``pending`` reports name and complete them: (completed, quarantined, keys to
    acknowledge as quarantined). Store errors propagate (the caller retries)."""
    done: list[SpooledMessage] = []
    refused: list[QuarantinedMessage] = []
    acks: list[tuple[str, int, int]] = []
    for p in pending:
        m = p.message
        envelope = decode_unframed(m.packed) if m.packed else decode_stored(m.payload)
        vid = envelope["body"]["view"]["id"]
        try:
            if not await views.fetch(db, m.gateway_id, vid):
                raise Unresolved(
                    f"static view {view_key(vid)} is not in the store (the report carrying it was lost or "
                    "quarantined); the agent carries it again within 16 reports"
                )
            views.complete(m.gateway_id, envelope["body"])
        except Unresolved as exc:
            refused.append(
                QuarantinedMessage(m.received_at, p.topic, m.gateway_id, UNRESOLVED, str(exc), m.payload)
            )
            if p.ack is not None:
                acks.append(p.ack)
            continue
        done.append(reframe(m, envelope))
    return done, refused, acks
