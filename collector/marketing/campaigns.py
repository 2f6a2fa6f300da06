"""Campaigns: an audience, an offer, a channel and a template; a seeded, stratified control
group that is never contacted; launch, pause, and delivery under the contact policy.

Launch writes the arms and the treated members' messages (``queued``) in one transaction
that also moves the campaign from ``draft`` to ``launched`` (``expect=1``: a campaign
launches once). Delivery (``delivery.py``) claims each due message in the database and
records its contact under the policy, so the cap holds across campaigns and collectors.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from collector.marketing import MarketingError
from collector.marketing.arms import Candidate, assign_arms, stratum
from collector.marketing.audiences import NotFound, audience, members
from collector.marketing.catalogue import Catalogue
from collector.marketing.templates import check_template, render
from collector.store.sql import Conflict, Database, Statement

CHANNELS = ("sms", "call", "push", "work_order")
STATES = ("draft", "launched", "paused")


def _time(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise MarketingError(f"{name}: not an ISO date or time: {value!r}") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise MarketingError(f"{name}: not a time: {value!r}")


def _values(m: Mapping[str, Any], offer_name: str, price: float, event_at: float | None) -> dict[str, Any]:
    event = datetime.fromtimestamp(event_at, UTC).date().isoformat() if event_at else ""
    return {"name": m.get("name") or "customer", "offer": offer_name, "price": f"{price:g}",
            "area": m.get("area") or "", "community": m.get("community") or "",
            "subscriber_id": m.get("subscriber_id"), "evidence": m.get("evidence") or "", "event_date": event}  # fmt: skip


async def create_campaign(
    db: Database, catalogue: Catalogue, spec: Mapping[str, Any], user: str
) -> dict[str, Any]:
    """Check and save a draft. ``spec``: name, audience_id, offer_id, channel, template, and
    optionally send_at, control_share (default 0.1), seed, preheat_template, preheat_at."""
    unknown = set(spec) - {"name", "audience_id", "offer_id", "channel", "template", "send_at", "control_share",
                           "seed", "preheat_template", "preheat_at"}  # fmt: skip
    if unknown:
        raise MarketingError(f"campaign: unknown field {sorted(unknown)[0]!r}")
    name = str(spec.get("name") or "").strip()
    if not name:
        raise MarketingError("campaign: name is missing")
    try:
        audience_id = int(spec.get("audience_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MarketingError("campaign: audience_id must be an audience's id") from None
    await audience(db, audience_id)
    offer = catalogue.offer(str(spec.get("offer_id")))
    channel = str(spec.get("channel") or "sms")
    if channel not in CHANNELS:
        raise MarketingError(f"campaign: channel must be one of {', '.join(CHANNELS)}: {channel!r}")
    template = str(spec.get("template") or "")
    check_template(template, "template")
    preheat = spec.get("preheat_template") or None
    preheat_at = _time(spec.get("preheat_at"), "preheat_at")
    if preheat is not None:
        check_template(str(preheat), "preheat_template")
        if preheat_at is None:
            raise MarketingError("campaign: preheat_at is missing (when the pre-heating message goes)")
    send_at = _time(spec.get("send_at"), "send_at") or time.time()
    if preheat_at is not None and preheat_at >= send_at:
        raise MarketingError("campaign: preheat_at must be before send_at (the event)")
    try:
        share = float(spec.get("control_share", 0.1))
        seed = int(spec.get("seed", 1))
    except (TypeError, ValueError):
        raise MarketingError("campaign: control_share must be a number and seed an integer") from None
    if not 0.0 <= share < 1.0:
        raise MarketingError("campaign: control_share must be from 0 to below 1")
    now = time.time()
    (out,) = await db.transaction([Statement(
        "INSERT INTO mkt_campaigns (name, audience_id, offer_id, channel, template, preheat_template, preheat_at,"
        " send_at, control_share, seed, state, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " 'draft', ?, ?) RETURNING id",
        (name, audience_id, offer.id, channel, template, preheat, preheat_at, send_at, share, seed, user, now))])  # fmt: skip
    return await campaign(db, int(out.rows[0]["id"]))


async def campaign(db: Database, campaign_id: int) -> dict[str, Any]:
    """One campaign, or :class:`NotFound`."""
    row = await db.fetch_one("SELECT * FROM mkt_campaigns WHERE id = ?", (campaign_id,))
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return row


async def campaigns(db: Database) -> list[dict[str, Any]]:
    """Every campaign, newest first."""
    return await db.fetch("SELECT * FROM mkt_campaigns ORDER BY id DESC")


async def preview(db: Database, catalogue: Catalogue, campaign_id: int, sample: int = 5) -> dict[str, Any]:
    """The arms' sizes and the first messages as they will read (contact names included)."""
    c = await campaign(db, campaign_id)
    offer = catalogue.offer(c["offer_id"])
    people = await members(db, c["audience_id"], with_contacts=True)
    arms = assign_arms([Candidate(m["gateway_id"], m["subscriber_id"], stratum(m["area"], m["rules"]))
                        for m in people], c["control_share"], c["seed"])  # fmt: skip
    control = sum(a.arm == "control" for a in arms)
    texts = [
        render(c["template"], _values(m, offer.name, offer.price, c["send_at"])) for m in people[:sample]
    ]
    return {"campaign": c, "audience": len(people), "treatment": len(arms) - control, "control": control,
            "messages": texts}  # fmt: skip


async def launch(
    db: Database, catalogue: Catalogue, campaign_id: int, now: float | None = None
) -> dict[str, Any]:
    """Draw the arms, queue the treated members' messages, mark the campaign launched (once)."""
    now = time.time() if now is None else now
    c = await campaign(db, campaign_id)
    if c["state"] != "draft":
        raise MarketingError(f"campaign {campaign_id} is {c['state']}, not a draft")
    offer = catalogue.offer(c["offer_id"])
    people = await members(db, c["audience_id"], with_contacts=True)
    by_gateway = {m["gateway_id"]: m for m in people}
    arms = assign_arms([Candidate(m["gateway_id"], m["subscriber_id"], stratum(m["area"], m["rules"]))
                        for m in people], c["control_share"], c["seed"])  # fmt: skip
    rows = [(campaign_id, a.gateway_id, a.subscriber_id, a.arm, a.stratum) for a in arms]
    messages = []
    for a in arms:
        if a.arm != "treatment":
            continue  # the control group is never contacted
        values = _values(by_gateway[a.gateway_id], offer.name, offer.price, c["send_at"])
        if c["preheat_template"]:
            messages.append((campaign_id, a.gateway_id, a.subscriber_id, offer.id, "preheat", c["preheat_at"],
                             render(c["preheat_template"], values)))  # fmt: skip
        messages.append((campaign_id, a.gateway_id, a.subscriber_id, offer.id, "main", max(c["send_at"], now),
                         render(c["template"], values)))  # fmt: skip
    statements = [Statement("UPDATE mkt_campaigns SET state = 'launched', launched_at = ? WHERE id = ?"
                            " AND state = 'draft'", (now, campaign_id), expect=1)]  # fmt: skip
    if rows:
        statements.append(Statement("INSERT INTO mkt_members (campaign_id, gateway_id, subscriber_id, arm, stratum)"
                                    " VALUES (?, ?, ?, ?, ?)", rows, many=True))  # fmt: skip
    if messages:
        statements.append(Statement(
            "INSERT INTO mkt_messages (campaign_id, gateway_id, subscriber_id, offer_id, step, send_at, status, body)"
            " VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)", messages, many=True))  # fmt: skip
    try:
        await db.transaction(statements)
    except Conflict:
        raise MarketingError(f"campaign {campaign_id} was launched by someone else") from None
    control = sum(a.arm == "control" for a in arms)
    return {"id": campaign_id, "state": "launched", "treatment": len(arms) - control, "control": control,
            "messages": len(messages)}  # fmt: skip


async def set_state(db: Database, campaign_id: int, state: str) -> dict[str, Any]:
    """Pause a launched campaign (``paused``) or resume a paused one (``launched``)."""
    before = {"paused": "launched", "launched": "paused"}.get(state)
    if before is None:
        raise MarketingError(f"state must be paused or launched, not {state!r}")
    try:
        await db.execute(Statement("UPDATE mkt_campaigns SET state = ? WHERE id = ? AND state = ?",
                                   (state, campaign_id, before), expect=1))  # fmt: skip
    except Conflict:
        c = await campaign(db, campaign_id)
        raise MarketingError(f"campaign {campaign_id} is {c['state']}, cannot become {state}") from None
    return await campaign(db, campaign_id)


async def opt_out(db: Database, subscriber_ids: list[str], at: float, source: str) -> None:
    """Record opt-outs (the first one of a subscriber counts)."""
    if subscriber_ids:
        await db.transaction([Statement(
            "INSERT INTO mkt_opt_outs (subscriber_id, at, source) VALUES (?, ?, ?) ON CONFLICT (subscriber_id)"
            " DO NOTHING", [(s, at, source) for s in subscriber_ids], many=True)])  # fmt: skip
