"""Everything a report says, gathered from the store for one period and the one before.

Campaign results join later: a campaign concern registers a section with
:func:`add_section` (an async function of the store and the period returning a
:class:`Table`, or ``None`` while it has nothing to say); until one does, the report
shows a placeholder for them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from collector.profiles.config import ProfilesConfig
from collector.reports import experience, fleet, sections
from collector.reports.findings import results
from collector.reports.period import Period
from collector.reports.tables import Report, Table, col
from collector.store.base import insights

#: Sections other concerns add (campaign results): ``(store, period) -> Table | None``.
Section = Callable[[Any, Period], Awaitable[Table | None]]
_SECTIONS: dict[str, Section] = {}


def add_section(name: str, section: Section) -> None:
    """Register an extra section (e.g. ``"campaigns"``); it replaces the placeholder of that name."""
    _SECTIONS[name] = section


def _placeholder() -> Table:
    return Table(
        "campaigns",
        "Campaign results",
        (col("campaign", "Campaign"), col("result", "Result")),
        [],
        note="No campaign was launched in this period or the weeks before it: results appear here once campaigns run.",
    )


async def gather(store: Any, period: Period, config: ProfilesConfig) -> Report:
    """The report of ``period`` (and its comparison with the period before) from ``store``."""
    before = period.previous()
    report = Report(period, before, time.time())
    db = store.db
    t0 = time.monotonic()
    gw_now, gw_before = await fleet.gateways(db, period), await fleet.gateways(db, before)
    homes_now, homes_before = await experience.homes(insights(store), config, period, before)
    report.seconds["read"] = round(time.monotonic() - t0, 3)
    min_group = config.min_group
    kpis = report.add(sections.kpis(gw_now, gw_before, homes_now, min_group))
    report.add(await fleet.daily(db, period))
    report.add(fleet.outliers(gw_now))
    report.add(sections.wifi_distribution(homes_now, homes_before))
    report.add(sections.wifi_worse(homes_now, homes_before))
    report.add(sections.usage(homes_now, homes_before))
    report.add(sections.top_apps(homes_now))
    report.add(await results(db, period))
    area_table = report.add(sections.areas(homes_now, homes_before, min_group))
    report.add(sections.capacity(area_table))
    campaigns = _SECTIONS.get("campaigns")
    report.add((await campaigns(store, period) if campaigns else None) or _placeholder())
    for name, section in _SECTIONS.items():
        if name != "campaigns" and (table := await section(store, period)) is not None:
            report.add(table)
    operator = kpis.rows[0] if kpis.rows else {}
    report.headline = {
        "gateways": operator.get("gateways", 0),
        "availability_pct": operator.get("availability_pct"),
        "homes": len(homes_now),
        "wifi_score": sections.mean(h.wifi_score for h in homes_now.values()),
        "wan_gb": operator.get("wan_gb", 0.0),
        "outliers": len(report.tables["outliers"].rows),
    }
    report.seconds["gather"] = round(time.monotonic() - t0, 3)
    return report
