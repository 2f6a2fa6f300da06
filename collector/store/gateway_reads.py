"""The operator pages' reads (gateways, facts, rollups, quarantine, counts), written once for both stores.

Plain queries over :class:`~collector.store.sql.Database` (``store.db``): the SQL is in
``queries.py``; each backend only runs it.
"""

from __future__ import annotations

from typing import Any

from collector.store import queries as q
from collector.store.base import gateway_dict, rollup_table
from collector.store.sql import Database


class GatewayReads:
    """What the gateway pages and the API read."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_gateways(self, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        """Gateways with their latest figures, most recently seen first."""
        return await self._db.fetch(q.LIST_GATEWAYS, (limit, offset))

    async def gateway(self, gateway_id: str) -> dict[str, Any] | None:
        """One gateway's latest state (report body, computed rates) or ``None``."""
        row = await self._db.fetch_one(q.GATEWAY, (gateway_id,))
        return None if row is None else gateway_dict(row)

    async def history(
        self, gateway_id: str, limit: int = 96, span: tuple[int, int] | None = None
    ) -> list[dict[str, Any]]:
        """The gateway's latest per-window facts (ending in ``span``'s ``[start, end)``), oldest first."""
        if span is None:
            return (await self._db.fetch(q.HISTORY, (gateway_id, limit)))[::-1]
        return (await self._db.fetch(q.HISTORY_RANGE, (gateway_id, span[0], span[1], limit)))[::-1]

    async def rollups(self, gateway_id: str, period: str, since: int) -> list[dict[str, Any]]:
        """Hourly (``hour``) or daily (``day``) rollup rows from ``since`` (epoch seconds)."""
        return await self._db.fetch(q.ROLLUP.format(table=rollup_table(period)), (gateway_id, since))

    async def quarantine(self, limit: int = 100, span: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        """The most recent quarantined payloads (received in ``span``'s ``[start, end)``; no bytes)."""
        if span is None:
            return await self._db.fetch(q.QUARANTINE, (limit,))
        return await self._db.fetch(q.QUARANTINE_RANGE, (span[0], span[1], limit))

    async def counts(self) -> dict[str, int]:
        """Totals: gateways, reports, events, quarantined."""
        row = await self._db.fetch_one(q.COUNTS)
        assert row is not None  # one row of counts, always
        return q.counts_dict(tuple(row.values()))

    async def stored_keys(self, kind: str | None = None) -> list[tuple[str, int, int]]:
        """Every stored (gateway, epoch, seq); for audits and tests."""
        sql = q.STORED_KEYS + (" WHERE kind = ?" if kind else "")
        rows = await self._db.fetch(sql, (kind,) if kind else ())
        return [(str(r["gateway_id"]), int(r["epoch"]), int(r["seq"])) for r in rows]
