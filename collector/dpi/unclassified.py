"""Per ISO week and registrable domain, which homes sent it: stored per pseudonymised home, shown
only in aggregate.

The fold (``store/folding.py``) adds each report's ``unclassified`` rows to ``dpi_unclassified``
as ``(week, domain, home, bytes)``, where ``home`` is :func:`collector.privacy.keys.home_pseudonym`
(an HMAC of the gateway id with the deployment's privacy key, which stays out of the database).
The view (:func:`listing`) reads aggregates only: a domain appears for a week when at least
``min_homes`` distinct homes sent it, with their count and total bytes, never a home's row; the
page, the CSV and the JSON all go through it. Retention keeps ``retention_unclassified_weeks``;
:func:`erase_statement` removes a home's rows with the rest of its data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from collector.privacy.keys import home_pseudonym
from collector.store.sql import Database, Statement, in_list

#: Domains the view lists at most (by homes, then bytes).
LIST_LIMIT = 1000
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

UPSERT = (
    "INSERT INTO dpi_unclassified (week, domain, home, bytes) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (week, domain, home) DO UPDATE SET bytes = dpi_unclassified.bytes + excluded.bytes"
)


class Seen(NamedTuple):
    """What one report adds to the table: its week and, per domain, its bytes."""

    week: int
    domains: tuple[tuple[str, int], ...]


def iso_week(ts: float) -> int:
    """The ISO week of a UTC epoch second, as ``year * 100 + week`` (``202649``): sorts as time does."""
    year, week, _ = datetime.fromtimestamp(ts, UTC).isocalendar()
    return year * 100 + week


def week_label(week: int) -> str:
    """``202649`` -> ``2026-W49``."""
    return f"{week // 100}-W{week % 100:02d}"


def parse_week(text: str) -> int:
    """``2026-W49`` -> ``202649``; ``ValueError`` naming the expected form for anything else."""
    found = _WEEK.match(text)
    if found is None:
        raise ValueError(f"week must look like 2026-W49, not {text[:20]!r}")
    year, week = int(found[1]), int(found[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{text} is not an ISO week: {exc}") from exc
    return year * 100 + week


def weeks_before(week: int, n: int) -> int:
    """The ISO week ``n`` weeks before ``week``."""
    monday = date.fromisocalendar(week // 100, week % 100, 1) - timedelta(weeks=n)
    year, number, _ = monday.isocalendar()
    return year * 100 + number


def seen_in(rows: list[dict[str, Any]] | None, window_start: int) -> Seen | None:
    """The week and per-domain bytes of a report's ``unclassified`` rows (``None`` when it has none)."""
    if not rows:
        return None
    totals: dict[str, int] = {}
    for row in rows:
        domain = str(row.get("domain") or "")
        if domain:
            totals[domain] = (
                totals.get(domain, 0) + int(row.get("bytes_up") or 0) + int(row.get("bytes_down") or 0)
            )
    return Seen(iso_week(window_start), tuple(totals.items())) if totals else None


def memberships(seen: Iterable[tuple[str, Seen]], key: bytes) -> list[tuple[int, str, str, int]]:
    """``(week, domain, home, bytes)`` rows for :data:`UPSERT` from ``(gateway_id, Seen)`` pairs: one
    per key (summed), sorted, so two folders upserting at once take row locks in one order."""
    homes: dict[str, str] = {}
    totals: dict[tuple[int, str, str], int] = {}
    for gateway_id, s in seen:
        home = homes.get(gateway_id)
        if home is None:
            home = homes[gateway_id] = home_pseudonym(key, gateway_id)
        for domain, size in s.domains:
            k = (s.week, domain, home)
            totals[k] = totals.get(k, 0) + size
    return [(w, d, h, b) for (w, d, h), b in sorted(totals.items())]


async def weeks(db: Database) -> list[int]:
    """The weeks the table holds, newest first."""
    return [
        int(r["week"])
        for r in await db.fetch("SELECT DISTINCT week FROM dpi_unclassified ORDER BY week DESC")
    ]


async def listing(db: Database, week: int, min_homes: int, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The week's domains that at least ``min_homes`` distinct homes sent: ``domain``, ``homes``,
    ``bytes`` and the operator's ``category`` for it (``None`` when it has none). Aggregates only."""
    if min_homes < 1:
        raise ValueError("min_homes must be at least 1")
    rows = await db.fetch(
        "SELECT u.domain, count(*) AS homes, sum(u.bytes) AS bytes, r.category FROM dpi_unclassified u"
        " LEFT JOIN dpi_domain_rules r ON r.domain = u.domain WHERE u.week = ?"
        " GROUP BY u.domain, r.category HAVING count(*) >= ? ORDER BY homes DESC, bytes DESC, u.domain LIMIT ?",
        (week, min_homes, limit),
    )
    return [{"domain": str(r["domain"]), "homes": int(r["homes"]), "bytes": int(r["bytes"]),
             "category": r["category"]} for r in rows]  # fmt: skip


async def hidden(db: Database, week: int, min_homes: int) -> int:
    """How many of the week's domains fewer than ``min_homes`` homes sent (a count, never their names)."""
    row = await db.fetch_one(
        "SELECT count(*) AS n FROM (SELECT domain FROM dpi_unclassified WHERE week = ? GROUP BY domain"
        " HAVING count(*) < ?) t",
        (week, min_homes),
    )
    return int(row["n"]) if row else 0


def erase_statement(key: bytes, gateways: list[str]) -> Statement | None:
    """The DELETE of these gateways' memberships (``None`` for no gateway): their rows name them only
    by pseudonym, so the erase's catalogue search by id cannot find them."""
    if not gateways:
        return None
    homes = [home_pseudonym(key, g) for g in gateways]
    return Statement(f"DELETE FROM dpi_unclassified WHERE home IN {in_list(homes)}", homes)


def retention_cutoff(now: float, keep_weeks: int) -> int:
    """The oldest week kept at ``now`` when ``keep_weeks`` weeks (this one included) are kept."""
    return weeks_before(iso_week(now), keep_weeks - 1)
