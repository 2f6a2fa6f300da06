"""Fleet figures of a period from the gateways' daily rollups and 15-minute facts.

SQL written once (``?`` placeholders) and run through ``store.db`` on either backend.
A gateway "reports" in a period when it has a daily rollup row in it; CPU is the mean of
its windows (``cpu_sum / cpu_n``), memory the mean of its facts' ``mem_used_pct``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector.reports.period import Period
from collector.reports.tables import Table, col
from collector.store.sql import Database

#: A gateway whose mean CPU or memory over the period is at or above these is an outlier.
CPU_OUTLIER_PCT = 80.0
MEM_OUTLIER_PCT = 90.0
GB = 1e9

DAILY = (
    "SELECT start, count(*) AS gateways, sum(windows) AS windows, sum(wan_rx_bytes) AS rx,"
    " sum(wan_tx_bytes) AS tx, sum(cpu_sum) AS cpu_sum, sum(cpu_n) AS cpu_n"
    " FROM gateway_daily WHERE start >= ? AND start < ? GROUP BY start ORDER BY start"
)
PER_GATEWAY = (
    "SELECT gateway_id, sum(windows) AS windows, sum(wan_rx_bytes) AS rx, sum(wan_tx_bytes) AS tx,"
    " sum(cpu_sum) AS cpu_sum, sum(cpu_n) AS cpu_n"
    " FROM gateway_daily WHERE start >= ? AND start < ? GROUP BY gateway_id"
)
MEMORY = (
    "SELECT gateway_id, avg(mem_used_pct) AS mem FROM gateway_facts"
    " WHERE window_end > ? AND window_end <= ? AND mem_used_pct IS NOT NULL GROUP BY gateway_id"
)
AREAS = "SELECT gateway_id, area FROM subscribers"


@dataclass(frozen=True, slots=True)
class GatewayFigures:
    """One gateway over one period."""

    gateway_id: str
    area: str | None
    windows: int
    wan_gb: float
    cpu_pct: float | None
    mem_pct: float | None

    @property
    def outlier(self) -> str:
        """Why it is an outlier ("cpu", "memory", "cpu, memory"), or ``""``."""
        why = []
        if self.cpu_pct is not None and self.cpu_pct >= CPU_OUTLIER_PCT:
            why.append("cpu")
        if self.mem_pct is not None and self.mem_pct >= MEM_OUTLIER_PCT:
            why.append("memory")
        return ", ".join(why)


async def gateways(db: Database, period: Period) -> dict[str, GatewayFigures]:
    """Every gateway that reported in ``period``, by id."""
    rows = await db.fetch(PER_GATEWAY, (period.start, period.end))
    memory = {str(r["gateway_id"]): r["mem"] for r in await db.fetch(MEMORY, (period.start, period.end))}
    areas = {str(r["gateway_id"]): r["area"] for r in await db.fetch(AREAS)}
    out: dict[str, GatewayFigures] = {}
    for r in rows:
        gid = str(r["gateway_id"])
        cpu_n = int(r["cpu_n"] or 0)
        mem = memory.get(gid)
        out[gid] = GatewayFigures(
            gateway_id=gid,
            area=areas.get(gid),
            windows=int(r["windows"] or 0),
            wan_gb=(int(r["rx"] or 0) + int(r["tx"] or 0)) / GB,
            cpu_pct=float(r["cpu_sum"]) / cpu_n if cpu_n else None,
            mem_pct=float(mem) if mem is not None else None,
        )
    return out


async def daily(db: Database, period: Period) -> Table:
    """One row per UTC day: gateways reporting, WAN GB, mean CPU."""
    rows = []
    for r in await db.fetch(DAILY, (period.start, period.end)):
        cpu_n = int(r["cpu_n"] or 0)
        rows.append(
            {
                "day": datetime.fromtimestamp(int(r["start"]), UTC).date().isoformat(),
                "start": int(r["start"]),
                "gateways": int(r["gateways"]),
                "wan_gb": round((int(r["rx"] or 0) + int(r["tx"] or 0)) / GB, 3),
                "cpu_pct": round(float(r["cpu_sum"]) / cpu_n, 1) if cpu_n else None,
            }
        )
    return Table(
        "daily",
        "Fleet per day",
        (col("day", "Day"), col("gateways", "Gateways reporting", fmt="d"), col("wan_gb", "WAN traffic", "GB", ".1f"),
         col("cpu_pct", "Mean CPU", "%", ".1f")),
        rows,
    )  # fmt: skip


def outliers(now: dict[str, GatewayFigures], limit: int = 50) -> Table:
    """Gateways whose mean CPU or memory was at or above the outlier thresholds."""
    found = sorted(
        (g for g in now.values() if g.outlier),
        key=lambda g: (-(g.cpu_pct or 0.0) - (g.mem_pct or 0.0), g.gateway_id),
    )
    rows = [
        {"gateway_id": g.gateway_id, "area": g.area, "cpu_pct": _r(g.cpu_pct), "mem_pct": _r(g.mem_pct),
         "reason": g.outlier}
        for g in found[:limit]
    ]  # fmt: skip
    return Table(
        "outliers",
        "CPU and memory outliers",
        (col("gateway_id", "Gateway"), col("area", "Area"), col("cpu_pct", "Mean CPU", "%", ".1f"),
         col("mem_pct", "Mean memory", "%", ".1f"), col("reason", "Why")),
        rows,
        note=f"Mean CPU >= {CPU_OUTLIER_PCT:g}% or mean memory >= {MEM_OUTLIER_PCT:g}% over the period;"
        f" {len(found)} gateways, the first {limit} shown.",
    )  # fmt: skip


def _r(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


def kpi_row(scope: str, now: list[GatewayFigures], before: list[GatewayFigures]) -> dict[str, Any]:
    """The fleet KPIs of a group of gateways (the operator, or one area) against the period before."""
    cpus = [g.cpu_pct for g in now if g.cpu_pct is not None]
    ids_now, ids_before = {g.gateway_id for g in now}, {g.gateway_id for g in before}
    return {
        "scope": scope,
        "gateways": len(now),
        "gateways_before": len(before),
        "gained": len(ids_now - ids_before),
        "lost": len(ids_before - ids_now),
        "cpu_pct": _r(sum(cpus) / len(cpus)) if cpus else None,
        "cpu_outliers": sum(1 for g in now if "cpu" in g.outlier),
        "memory_outliers": sum(1 for g in now if "memory" in g.outlier),
        "wan_gb": round(sum(g.wan_gb for g in now), 2),
    }
