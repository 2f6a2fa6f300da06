"""The report's tables built from per-home and per-gateway figures of two periods."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from statistics import fmean
from typing import Any

from collector.reports.experience import WORSE_BY, HomeFigures
from collector.reports.fleet import GatewayFigures, kpi_row
from collector.reports.tables import Table, col

WIFI_BANDS = (
    (0, 40, "poor (< 40)"),
    (40, 60, "fair (40-59)"),
    (60, 80, "good (60-79)"),
    (80, 101, "excellent (80+)"),
)
#: An area's plan utilisation or Wi-Fi congestion rising by this much suggests capacity work.
RISING_UTILISATION = 0.05
RISING_CONGESTION_PCT = 5.0
NO_AREA = "(no area)"
OPERATOR = "all (operator)"


def mean(values: Iterable[float | None], digits: int = 1, scale: float = 1.0) -> float | None:
    found = [v * scale for v in values if v is not None]
    return round(fmean(found), digits) if found else None


def kpis(
    gw_now: dict[str, GatewayFigures], gw_before: dict[str, GatewayFigures],
    homes_now: dict[str, HomeFigures], min_group: int,
) -> Table:  # fmt: skip
    """Fleet KPIs for the operator and each area with at least ``min_group`` gateways."""
    scopes: dict[str, tuple[list[GatewayFigures], list[GatewayFigures]]] = {OPERATOR: ([], [])}
    for figures, side in ((gw_now, 0), (gw_before, 1)):
        for g in figures.values():
            scopes[OPERATOR][side].append(g)
            scopes.setdefault(g.area or NO_AREA, ([], []))[side].append(g)
    rows = []
    for scope, (now, before) in scopes.items():
        if scope != OPERATOR and len(now) < min_group:
            continue
        homes = [homes_now[g.gateway_id] for g in now if g.gateway_id in homes_now]
        row = kpi_row(scope, now, before)
        row["availability_pct"] = mean((h.coverage for h in homes), scale=100)
        row["plan_utilisation_pct"] = mean((h.utilisation for h in homes), scale=100)
        rows.append(row)
    return Table(
        "kpis",
        "Fleet KPIs",
        (col("scope", "Operator or area"), col("gateways", "Gateways reporting", fmt="d"),
         col("gateways_before", "Period before", fmt="d"), col("gained", "Gained", fmt="d"), col("lost", "Lost", fmt="d"),
         col("availability_pct", "Availability", "%", ".1f"), col("cpu_pct", "Mean CPU", "%", ".1f"),
         col("cpu_outliers", "CPU outliers", fmt="d"), col("memory_outliers", "Memory outliers", fmt="d"),
         col("wan_gb", "WAN traffic", "GB", ".1f"), col("plan_utilisation_pct", "WAN p95 / plan", "%", ".1f")),
        rows,
        note="Availability: share of 15-minute slots reported with the WAN up. WAN p95 / plan: each home's 95th"
        f" percentile download rate against its plan, averaged. Areas with fewer than {min_group} gateways are"
        " counted in the operator row only.",
    )  # fmt: skip


def _band(score: float | None) -> str:
    if score is None:
        return "no Wi-Fi data"
    return next(name for low, high, name in WIFI_BANDS if low <= score < high)


def wifi_distribution(now: dict[str, HomeFigures], before: dict[str, HomeFigures]) -> Table:
    """Homes per Wi-Fi experience band, this period and the one before."""
    c_now = Counter(_band(h.wifi_score) for h in now.values())
    c_before = Counter(_band(h.wifi_score) for h in before.values())
    names = [name for _, _, name in WIFI_BANDS] + ["no Wi-Fi data"]
    rows = [{"band": n, "homes": c_now[n], "homes_before": c_before[n]} for n in names]
    return Table(
        "wifi",
        "Wi-Fi experience distribution",
        (
            col("band", "Wi-Fi score"),
            col("homes", "Homes", fmt="d"),
            col("homes_before", "Period before", fmt="d"),
        ),
        rows,
    )


def wifi_worse(now: dict[str, HomeFigures], before: dict[str, HomeFigures], limit: int = 50) -> Table:
    """Homes whose Wi-Fi score fell by :data:`WORSE_BY` points or more, the largest falls first."""
    worse = []
    for gid, h in now.items():
        b = before.get(gid)
        if (
            b is None
            or h.wifi_score is None
            or b.wifi_score is None
            or b.wifi_score - h.wifi_score < WORSE_BY
        ):
            continue
        worse.append({"gateway_id": gid, "area": h.area, "score_before": round(b.wifi_score, 1),
                      "score": round(h.wifi_score, 1), "change": round(h.wifi_score - b.wifi_score, 1)})  # fmt: skip
    worse.sort(key=lambda r: (r["change"], r["gateway_id"]))
    return Table(
        "wifi_worse",
        "Homes whose Wi-Fi got worse",
        (col("gateway_id", "Home"), col("area", "Area"), col("score_before", "Score before", fmt=".1f"),
         col("score", "Score", fmt=".1f"), col("change", "Change", "points", "+.1f")),
        worse[:limit],
        note=f"{len(worse)} homes lost {WORSE_BY:g} points or more against the period before; the first {limit} shown.",
    )  # fmt: skip


def usage(now: dict[str, HomeFigures], before: dict[str, HomeFigures]) -> Table:
    """Service usage by category: homes using it, engaged hours a day per home, against before."""
    cats: set[str] = set()
    for h in (*now.values(), *before.values()):
        cats |= set(h.hours_per_day)
    rows: list[dict[str, Any]] = []
    for c in cats:
        users = [h.hours_per_day[c] for h in now.values() if c in h.hours_per_day]
        users_b = [h.hours_per_day[c] for h in before.values() if c in h.hours_per_day]
        rows.append({"category": c, "homes": len(users), "hours_per_day": round(fmean(users), 2) if users else 0.0,
                     "homes_before": len(users_b),
                     "hours_per_day_before": round(fmean(users_b), 2) if users_b else 0.0})  # fmt: skip
    rows.sort(key=lambda r: (-r["homes"] * r["hours_per_day"], r["category"]))
    return Table(
        "usage",
        "Service usage by category",
        (col("category", "Category"), col("homes", "Homes using it", fmt="d"),
         col("hours_per_day", "Engaged per using home", "h/day", ".2f"), col("homes_before", "Homes before", fmt="d"),
         col("hours_per_day_before", "Before", "h/day", ".2f")),
        rows,
    )  # fmt: skip


def top_apps(now: dict[str, HomeFigures], limit: int = 20) -> Table:
    """The applications most homes used (each home's top applications per category)."""
    counts = Counter(a for h in now.values() for a in h.apps)
    rows = [{"application": a, "homes": n} for a, n in sorted(counts.items(), key=lambda an: (-an[1], an[0]))]
    return Table("apps", "Top applications", (col("application", "Application"), col("homes", "Homes", fmt="d")),
                 rows[:limit])  # fmt: skip


def _by_area(figures: dict[str, HomeFigures]) -> dict[str, list[HomeFigures]]:
    out: dict[str, list[HomeFigures]] = {}
    for h in figures.values():
        out.setdefault(h.area or NO_AREA, []).append(h)
    return out


def areas(now: dict[str, HomeFigures], before: dict[str, HomeFigures], min_group: int) -> Table:
    """Per area: homes, gained and lost, competitor density, Wi-Fi, plan use and congestion."""
    a_now, a_before = _by_area(now), _by_area(before)
    rows = []
    hidden = 0
    for name in sorted(set(a_now) | set(a_before)):
        hs, bs = a_now.get(name, []), a_before.get(name, [])
        if max(len(hs), len(bs)) < min_group:
            hidden += 1
            continue
        ids, ids_b = {h.gateway_id for h in hs}, {h.gateway_id for h in bs}
        # a period in which the area had fewer homes than the minimum group shows no figures
        # (its homes are counted; their means would be one or two homes' own)
        row = _area_row(name, hs if len(hs) >= min_group else [], bs if len(bs) >= min_group else [])
        rows.append(row | {"homes": len(hs), "gained": len(ids - ids_b), "lost": len(ids_b - ids)})
    return Table(
        "areas",
        "Area trends",
        (col("area", "Area"), col("homes", "Homes", fmt="d"), col("gained", "Gained", fmt="d"), col("lost", "Lost", fmt="d"),
         col("competitor_pct", "Competitor density", "%", ".1f"), col("competitor_pct_before", "Before", "%", ".1f"),
         col("wifi_score", "Mean Wi-Fi score", fmt=".1f"), col("wifi_score_before", "Before", fmt=".1f"),
         col("utilisation_pct", "WAN p95 / plan", "%", ".1f"), col("utilisation_pct_before", "Before", "%", ".1f"),
         col("congestion_pct", "Wi-Fi channel busy", "%", ".1f"), col("congestion_pct_before", "Before", "%", ".1f")),
        rows,
        note=f"Competitor density: share of homes where another operator's network is strong. {hidden} areas with"
        f" fewer than {min_group} homes are not shown; a period with fewer than {min_group} homes in an area shows"
        " no figures for it.",
    )  # fmt: skip


def _area_row(name: str, hs: list[HomeFigures], bs: list[HomeFigures]) -> dict[str, Any]:
    def figures(group: list[HomeFigures]) -> dict[str, float | None]:
        return {
            "competitor_pct": round(100 * sum(h.competitor for h in group) / len(group), 1)
            if group
            else None,
            "wifi_score": mean(h.wifi_score for h in group),
            "utilisation_pct": mean((h.utilisation for h in group), scale=100),
            "congestion_pct": mean(h.congestion_pct for h in group),
        }

    f_now, f_before = figures(hs), figures(bs)
    return {"area": name, "homes": len(hs), **f_now, **{f"{k}_before": v for k, v in f_before.items()}}


def capacity(area_table: Table) -> Table:
    """Areas where plan utilisation or Wi-Fi congestion is rising: where to add capacity."""
    rows = []
    for a in area_table.rows:
        why = []
        u, ub = a.get("utilisation_pct"), a.get("utilisation_pct_before")
        c, cb = a.get("congestion_pct"), a.get("congestion_pct_before")
        if u is not None and ub is not None and u - ub >= 100 * RISING_UTILISATION:
            why.append(
                f"WAN p95 / plan up {u - ub:.1f} points to {u:.1f}%: review the access network and plans"
            )
        if c is not None and cb is not None and c - cb >= RISING_CONGESTION_PCT:
            why.append(f"Wi-Fi channels busy up {c - cb:.1f} points to {c:.1f}%: mesh / FTTR offers")
        if why:
            rows.append({"area": a["area"], "homes": a["homes"], "suggestion": "; ".join(why)})
    return Table(
        "capacity",
        "Capacity-expansion suggestions",
        (col("area", "Area"), col("homes", "Homes", fmt="d"), col("suggestion", "Why")),
        rows,
        note=f"Areas where WAN p95 / plan rose by {100 * RISING_UTILISATION:g} points or the Wi-Fi channels' busy"
        f" time by {RISING_CONGESTION_PCT:g} points against the period before.",
    )  # fmt: skip
