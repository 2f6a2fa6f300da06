"""Outcomes in, campaign results out: conversion per arm, uplift with its 95% interval,
conversions the network itself verifies, opt-outs, and the flags that cleared because the
offer was taken.

A member *converted* when the CRM reports an order (or, for a plan offer, a plan change) of
the campaign's offer after the launch. Treatment and control are compared as assigned
(intention to treat): a treated member the policy kept from contact still counts as
treated, so the uplift is what running the campaign earned.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from collector.marketing.audiences import FIGURES, NotFound, figures_of
from collector.marketing.campaigns import campaign, opt_out
from collector.marketing.catalogue import Catalogue
from collector.marketing.outcomes import OutcomeRow
from collector.marketing.uplift import uplift
from collector.marketing.verification import verify
from collector.store.sql import Database, Statement, in_list

DAY_S = 86400
CONVERSIONS = ("order", "plan_change")


async def import_outcomes(db: Database, rows: Iterable[OutcomeRow]) -> int:
    """Store checked outcome rows (a row imported twice is kept once); opt-outs join the list."""
    now = time.time()
    rows = list(rows)
    params = [(r.subscriber_id, r.offer_id, r.kind, r.at, r.plan_down_mbps, now) for r in rows]
    if not params:
        return 0
    await db.transaction([Statement(
        "INSERT INTO mkt_outcomes (subscriber_id, offer_id, kind, at, plan_down_mbps, imported_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subscriber_id, offer_id, kind, at) DO NOTHING", params, many=True)])  # fmt: skip
    for r in rows:
        if r.kind == "opt_out":
            await opt_out(db, [r.subscriber_id], r.at, "crm")
    return len(params)


async def _chunks(db: Database, sql: str, ids: list[str], *extra: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        out += await db.fetch(sql.format(ids=in_list(part)), [*part, *extra])
    return out


def _series(launched: float, arms: dict[str, str], conv_at: dict[str, float], sizes: dict[str, int],
            now: float) -> list[dict[str, Any]]:  # fmt: skip
    """Cumulative conversion rate per arm: at the launch, at the end of each day since, and now."""
    end = max([now, *conv_at.values()])
    times = [launched] + [launched + d * DAY_S for d in range(1, 367) if launched + d * DAY_S < end] + [end]
    out = []
    for t in times:
        rates: dict[str, Any] = {"t": t}
        for arm in ("treatment", "control"):
            n = sum(1 for g, at in conv_at.items() if at <= t and arms.get(g) == arm)
            rates[arm] = round(n / sizes[arm], 5) if sizes[arm] else None
        out.append(rates)
    return out


async def campaign_results(db: Database, catalogue: Catalogue, campaign_id: int,
                           now: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Contacted, converted, conversion per arm, uplift (95% CI), verified conversions, opt-outs."""
    now = time.time() if now is None else now
    c = await campaign(db, campaign_id)
    if c["launched_at"] is None:
        raise NotFound(f"campaign {campaign_id} has not been launched")
    offer = catalogue.offer(c["offer_id"])
    launched = float(c["launched_at"])
    rows = await db.fetch(
        f"SELECT a.gateway_id, a.subscriber_id, a.arm, m.snapshot, {', '.join('m.' + k for k in FIGURES)}"
        " FROM mkt_members a JOIN mkt_audience_members m"
        " ON m.audience_id = ? AND m.gateway_id = a.gateway_id WHERE a.campaign_id = ?", (c["audience_id"], campaign_id))  # fmt: skip
    arms = {r["gateway_id"]: r["arm"] for r in rows}
    subscriber_of = {r["gateway_id"]: r["subscriber_id"] for r in rows}
    snapshots = {r["gateway_id"]: figures_of(r) for r in rows}
    sizes = {
        "treatment": sum(a == "treatment" for a in arms.values()),
        "control": sum(a == "control" for a in arms.values()),
    }
    kinds = ("order", "plan_change") if offer.verify == "plan" else ("order",)
    subs = sorted(set(subscriber_of.values()))
    first: dict[str, float] = {}
    for r in await _chunks(db, "SELECT subscriber_id, at FROM mkt_outcomes WHERE subscriber_id IN {ids} AND offer_id = ?"
                           f" AND kind IN {in_list(kinds)} AND at >= ?", subs, offer.id, *kinds, launched):  # fmt: skip
        first[r["subscriber_id"]] = min(first.get(r["subscriber_id"], r["at"]), r["at"])
    conv_at = {g: first[s] for g, s in subscriber_of.items() if s in first}
    converted = {arm: sum(1 for g in conv_at if arms[g] == arm) for arm in sizes}
    sent = await db.fetch(
        "SELECT subscriber_id, step, count(*) AS n FROM mkt_messages WHERE campaign_id = ? AND status = 'sent'"
        " GROUP BY subscriber_id, step", (campaign_id,))  # fmt: skip
    contacted = {r["subscriber_id"] for r in sent if r["step"] == "main"}
    control_subs = {subscriber_of[g] for g, a in arms.items() if a == "control"}
    statuses = {r["status"]: r["n"] for r in await db.fetch(
        "SELECT status, count(*) AS n FROM mkt_messages WHERE campaign_id = ? GROUP BY status", (campaign_id,))}  # fmt: skip
    opted = {r["subscriber_id"] for r in await _chunks(
        db, "SELECT subscriber_id FROM mkt_opt_outs WHERE subscriber_id IN {ids} AND at >= ?", subs, launched)}  # fmt: skip
    verified = await verify(db, offer.verify, {g: (subscriber_of[g], at) for g, at in conv_at.items()},
                            {g: s.get("plan_down_mbps") for g, s in snapshots.items()})  # fmt: skip
    cleared = await _chunks(db, "SELECT gateway_id, rule, at FROM result_history WHERE gateway_id IN {ids}"
                            " AND change = 'cleared' AND at >= ?", sorted(arms), launched)  # fmt: skip
    reasons = {"offer taken": 0, "usage fell": 0}
    for r in cleared:
        if r["rule"] in offer.rules():
            taken = r["gateway_id"] in conv_at and conv_at[r["gateway_id"]] <= r["at"]
            reasons["offer taken" if taken else "usage fell"] += 1
    u = uplift(sizes["treatment"], converted["treatment"], sizes["control"], converted["control"])
    return {
        "campaign": c, "offer": offer.id, "verify": offer.verify,
        "treated": sizes["treatment"], "control": sizes["control"],
        "contacted": len(contacted), "control_contacted": len(contacted & control_subs),
        "messages": statuses, "converted": converted, "uplift": u.to_dict(),
        "verified_conversions": len(verified),
        "verified": [{"subscriber_id": v.subscriber_id, "gateway_id": v.gateway_id, "evidence": v.evidence}
                     for v in verified],
        "opt_outs": {arm: sum(1 for g, a in arms.items() if a == arm and subscriber_of[g] in opted) for arm in sizes},
        "flags_cleared": reasons,
        "series": _series(launched, arms, conv_at, sizes, now),
        "as_of": datetime.fromtimestamp(now, UTC).isoformat(),
    }  # fmt: skip
