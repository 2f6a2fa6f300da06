"""The campaigns section of the periodic reports: each campaign launched in the period (or in
the weeks before it, while its outcomes still come in) with its arms, conversion, uplift and
95% interval, network-verified conversions and opt-outs.

Registered with :func:`collector.reports.figures.add_section` by :func:`register`, which the
web app (and so the report schedule) and ``homescope-collector report`` call.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from collector.marketing import MarketingError
from collector.marketing.catalogue import Catalogue, load_catalogue
from collector.marketing.results import campaign_results
from collector.profiles.rules import rules
from collector.reports.figures import add_section
from collector.reports.period import Period
from collector.reports.tables import Table, col
from collector.store.sql import Database

#: Campaigns launched this long before the period are still reported (outcomes arrive late).
LOOKBACK_S = 60 * 86400
COLUMNS = (
    col("campaign", "Campaign"), col("offer", "Offer"), col("launched", "Launched"),
    col("treated", "Treated"), col("control", "Control"), col("contacted", "Contacted"),
    col("rate_treatment", "Conversion, treated", "%", ".1f"), col("rate_control", "Conversion, control", "%", ".1f"),
    col("uplift", "Uplift", "points", "+.1f"), col("ci_low", "95% CI from", "points", "+.1f"),
    col("ci_high", "95% CI to", "points", "+.1f"), col("verified", "Verified by the network"),
    col("opt_outs", "Opt-outs"), col("result", "Result"),
)  # fmt: skip


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 2)


def _verdict(ci: list[float] | None) -> str:
    if ci is None:
        return "no control group"
    if ci[0] > 0:
        return "uplift shown"
    if ci[1] < 0:
        return "fewer sales than control"
    return "no effect shown yet"


async def campaigns_table(
    db: Database, catalogue: Catalogue, period: Period, now: float | None = None
) -> Table | None:
    """The section's table, or ``None`` when no campaign is to be reported (the placeholder stays)."""
    launched = await db.fetch(
        "SELECT id, name, offer_id, launched_at FROM mkt_campaigns WHERE launched_at IS NOT NULL AND launched_at < ?"
        " AND launched_at >= ? ORDER BY launched_at, id", (period.end, period.start - LOOKBACK_S))  # fmt: skip
    if not launched:
        return None
    now = time.time() if now is None else now
    rows: list[dict[str, Any]] = []
    for c in launched:
        row: dict[str, Any] = {"campaign": c["name"], "offer": c["offer_id"],
                               "launched": datetime.fromtimestamp(c["launched_at"], UTC).date().isoformat()}  # fmt: skip
        try:
            res = await campaign_results(db, catalogue, int(c["id"]), now=now)
        except MarketingError as exc:  # an offer since removed from the catalogue
            rows.append({**row, "result": str(exc)})
            continue
        u = res["uplift"]
        ci = u["ci95"]
        rows.append({**row, "treated": res["treated"], "control": res["control"], "contacted": res["contacted"],
                     "rate_treatment": _pct(u["treatment_rate"]), "rate_control": _pct(u["control_rate"]),
                     "uplift": _pct(u["uplift"]), "ci_low": _pct(ci[0]) if ci else None,
                     "ci_high": _pct(ci[1]) if ci else None, "verified": res["verified_conversions"],
                     "opt_outs": res["opt_outs"]["treatment"] + res["opt_outs"]["control"], "result": _verdict(ci)})  # fmt: skip
    as_of = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = (f"Campaigns launched in the period or the {LOOKBACK_S // 86400} days before it; conversions as imported"
            f" from the CRM up to {as_of}. Uplift: treated minus control conversion, 95% interval by Newcombe's"
            " method; an interval that includes 0 has not shown an effect yet.")  # fmt: skip
    return Table("campaigns", "Campaign results", COLUMNS, rows, note=note)


def _kind_of(name: str) -> str | None:
    found = rules().get(name)
    return found.kind if found else None


def register(catalogue: Catalogue | None = None) -> None:
    """Put the campaigns section into every report built in this process."""
    chosen = catalogue or load_catalogue(None, _kind_of)

    async def section(store: Any, period: Period) -> Table | None:
        return await campaigns_table(store.db, chosen, period)

    add_section("campaigns", section)
