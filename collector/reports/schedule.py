"""The report schedule: each weekly and monthly report made by exactly one collector.

Every ``every_s`` each collector asks what is due (the last complete week and month) and,
for a report not yet archived, takes the lease ``report:<name>`` in the store. Only the
holder builds it; its save is refused if the name is archived meanwhile (``expect=1``), so
even a lease that expired mid-build cannot give two archived copies. A period with no
gateway data yet is not due (a fresh install does not archive empty reports).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import UTC, date, datetime
from typing import Any

from collector.profiles.config import ProfilesConfig
from collector.reports import archive
from collector.reports.build import build
from collector.reports.lease import Leases
from collector.reports.mail import mail
from collector.reports.period import Period, period_of
from collector.reports.settings import ReportSettings
from collector.store.sql import Conflict

log = logging.getLogger(__name__)


def owner_name() -> str:
    """This collector process, as a lease owner: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def due(today: date, kinds: list[str]) -> list[Period]:
    """The periods the schedule should have reports of on ``today``."""
    return [period_of(k, today) for k in kinds]


async def _has_data(store: Any, period: Period) -> bool:
    row = await store.db.fetch_one(
        "SELECT 1 AS one FROM gateway_daily WHERE start >= ? AND start < ? LIMIT 1",
        (period.start, period.end),
    )
    return row is not None


async def produce_due(
    store: Any, config: ProfilesConfig, settings: ReportSettings, leases: Leases, owner: str,
    today: date | None = None,
) -> list[str]:  # fmt: skip
    """Produce (and mail) the due reports this collector wins; the names it produced."""
    made = []
    for period in due(today or datetime.now(UTC).date(), settings.kinds):
        if await archive.exists(store.db, period.name) or not await _has_data(store, period):
            continue
        lease = f"report:{period.name}"
        if not await leases.acquire(lease, owner, settings.lease_s):
            continue
        try:
            if await archive.exists(store.db, period.name):  # made while we waited for the lease
                continue
            built = await build(store, period, config, pdf=settings.pdf)
            try:
                await archive.save(store.db, built, owner, replace=False)
            except Conflict:
                continue
            made.append(period.name)
            log.info("report %s archived (%.1f s)", period.name, built.seconds.get("total", 0.0))
            if await mail(built, settings):
                await archive.mark_mailed(store.db, period.name, datetime.now(UTC).timestamp())
        finally:
            await leases.release(lease, owner)
    return made


async def run_schedule(store: Any, config: ProfilesConfig, settings: ReportSettings, leases: Leases) -> None:
    """Check every ``every_s`` (the first check after one interval) until cancelled."""
    owner = owner_name()
    while True:
        await asyncio.sleep(settings.every_s)
        try:
            await produce_due(store, config, settings, leases, owner)
        except asyncio.CancelledError:
            raise
        except Exception:
            # retried at the next check; ingest must never stop for a report
            log.exception("scheduled report failed")
