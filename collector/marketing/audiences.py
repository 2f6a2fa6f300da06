"""Segments (saved), their size preview, audiences (frozen snapshots with each member's
evidence), contact fields, per-subscriber next-best offers and the win-back list.

Functions take ``store.db`` (:class:`~collector.store.sql.Database`); SQL is written once
for both backends.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from collector.marketing import MarketingError
from collector.marketing.catalogue import Catalogue, Ranked, rank_offers
from collector.marketing.segments import BASE, Compiled, compile_segment
from collector.store.sql import Database, Statement, in_list

KindOf = Callable[[str], str | None]
CHUNK = 500
TAKEN = ("order", "plan_change")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class NotFound(MarketingError):
    """No such segment, audience, campaign or subscriber."""


# -- segments ---------------------------------------------------------------------------------
async def save_segment(
    db: Database, name: str, definition: Any, kind_of: KindOf, user: str
) -> dict[str, Any]:
    """Check and save (or replace) a named segment."""
    if not name.strip() or len(name) > 128:
        raise MarketingError("segment name must be 1 to 128 characters")
    compile_segment(definition, kind_of)
    now = time.time()
    (out,) = await db.transaction([Statement(
        "INSERT INTO mkt_segments (name, definition, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at"
        " RETURNING id", (name.strip(), _dumps(definition), user, now, now))])  # fmt: skip
    return {"id": int(out.rows[0]["id"]), "name": name.strip(), "definition": definition}


async def segments(db: Database) -> list[dict[str, Any]]:
    """Every saved segment."""
    rows = await db.fetch(
        "SELECT id, name, definition, created_by, created_at, updated_at FROM mkt_segments ORDER BY name"
    )
    return [{**r, "definition": json.loads(r["definition"])} for r in rows]


async def segment(db: Database, segment_id: int) -> dict[str, Any]:
    """One saved segment, or :class:`NotFound`."""
    row = await db.fetch_one("SELECT id, name, definition FROM mkt_segments WHERE id = ?", (segment_id,))
    if row is None:
        raise NotFound(f"no segment {segment_id}")
    return {**row, "definition": json.loads(row["definition"])}


async def preview(db: Database, definition: Any, kind_of: KindOf, sample: int = 10) -> dict[str, Any]:
    """How many evaluated homes a definition matches now, and the first few."""
    c = compile_segment(definition, kind_of)
    total = await db.fetch_one("SELECT count(*) AS n" + BASE + c.where, c.params)
    rows = await db.fetch(
        "SELECT p.gateway_id, s.subscriber_id, s.area" + BASE + c.where + " ORDER BY p.gateway_id LIMIT ?",
        [*c.params, sample],
    )
    return {"size": int(total["n"]) if total else 0, "sample": rows, "rules": c.rules}


# -- audiences --------------------------------------------------------------------------------
#: A member's figures when frozen (columns of ``mkt_audience_members``; older rows hold them as JSON).
FIGURES = ("plan_down_mbps", "wifi_score", "devices", "online_hours", "gb_per_day")
_AUDIENCE_ID = "(SELECT id FROM mkt_audiences WHERE freeze_token = ?)"


def _fallback_evidence(row: dict[str, Any]) -> str:
    bits = []
    if row.get("wifi_score") is not None:
        bits.append(f"Wi-Fi score {row['wifi_score']:.0f}/100")
    bits.append(f"{row.get('devices') or 0:g} devices")
    if row.get("plan_down_mbps"):
        bits.append(f"{row['plan_down_mbps']:g} Mbit/s plan")
    return "; ".join(bits)


def figures_of(row: dict[str, Any]) -> dict[str, Any]:
    """A member's figures when its audience was frozen (columns, or an older row's JSON)."""
    if any(row.get(k) is not None for k in FIGURES) or not row.get("snapshot"):
        return {k: row.get(k) for k in FIGURES}
    old: dict[str, Any] = json.loads(row["snapshot"])
    return {k: old.get(k) for k in FIGURES}


def plan_freeze(c: Compiled, token: str, name: str, definition: Any, user: str, segment_id: int | None,
                now: float) -> list[Statement]:  # fmt: skip
    """The statements that freeze an audience, run in ONE transaction reading one snapshot: the
    header (found again by ``token``), the members the segment matches with their figures, the
    sentences of the segment's rules they hold, and the size. A CRM import or an evaluation
    committing meanwhile is seen entirely or not at all."""
    header = Statement(
        "INSERT INTO mkt_audiences (segment_id, name, definition, size, created_by, created_at, freeze_token)"
        " VALUES (?, ?, ?, 0, ?, ?, ?)", (segment_id, name, _dumps(definition), user, now, token))  # fmt: skip
    found = Statement(
        f"INSERT INTO mkt_audience_members (audience_id, gateway_id, subscriber_id, area, community, rules,"
        f" evidence, snapshot, {', '.join(FIGURES)}) SELECT {_AUDIENCE_ID}, p.gateway_id,"
        " coalesce(s.subscriber_id, p.gateway_id), s.area, s.community, '[]', '', '', s.plan_down_mbps,"
        " p.wifi_score, p.devices, p.online_hours, p.gb_per_day" + BASE + c.where, [token, *c.params])  # fmt: skip
    out = [header, found]
    if c.rules:
        out.append(Statement(
            "INSERT INTO mkt_audience_evidence (audience_id, gateway_id, rule, sentence) SELECT m.audience_id,"
            " r.gateway_id, r.rule, r.sentence FROM mkt_audience_members m JOIN home_results r ON r.gateway_id ="
            f" m.gateway_id WHERE m.audience_id = {_AUDIENCE_ID} AND r.rule IN {in_list(c.rules)}", [token, *c.rules]))  # fmt: skip
    out.append(Statement(
        "UPDATE mkt_audiences SET size = (SELECT count(*) FROM mkt_audience_members m WHERE m.audience_id ="
        " mkt_audiences.id) WHERE freeze_token = ? RETURNING id, size", (token,), expect=1))  # fmt: skip
    return out


async def freeze_audience(
    db: Database, name: str, definition: Any, kind_of: KindOf, user: str, segment_id: int | None = None
) -> dict[str, Any]:
    """Snapshot the homes a definition matches now, each with its evidence sentence (atomic)."""
    c = compile_segment(definition, kind_of)
    now = time.time()
    outcomes = await db.transaction(
        plan_freeze(c, secrets.token_hex(16), name, definition, user, segment_id, now), snapshot=True
    )
    done = outcomes[-1].rows[0]
    return {"id": int(done["id"]), "name": name, "size": int(done["size"]), "created_at": now}


async def audiences(db: Database) -> list[dict[str, Any]]:
    """Every audience, newest first."""
    return await db.fetch(
        "SELECT id, segment_id, name, size, created_by, created_at FROM mkt_audiences ORDER BY id DESC"
    )


async def audience(db: Database, audience_id: int) -> dict[str, Any]:
    """One audience's header, or :class:`NotFound`."""
    row = await db.fetch_one(
        "SELECT id, segment_id, name, definition, size, created_by, created_at FROM mkt_audiences WHERE id = ?",
        (audience_id,),
    )
    if row is None:
        raise NotFound(f"no audience {audience_id}")
    return {**row, "definition": json.loads(row["definition"])}


async def members(
    db: Database, audience_id: int, with_contacts: bool, limit: int = 10**7, offset: int = 0
) -> list[dict[str, Any]]:
    """An audience's members with their evidence (and contact fields if the role may see them)."""
    contact = ", c.name, c.phone, c.address" if with_contacts else ""
    rows = await db.fetch(
        f"SELECT m.gateway_id, m.subscriber_id, m.area, m.community, m.rules, m.evidence, m.snapshot,"
        f" {', '.join('m.' + k for k in FIGURES)}{contact} FROM mkt_audience_members m LEFT JOIN mkt_contact_fields c"
        " ON c.subscriber_id = m.subscriber_id WHERE m.audience_id = ? ORDER BY m.gateway_id LIMIT ? OFFSET ?",
        (audience_id, limit, offset))  # fmt: skip
    held: dict[str, dict[str, str]] = {}
    if rows:  # the sentences frozen with them (this page's gateways: a range of the ordered ids)
        for r in await db.fetch(
            "SELECT gateway_id, rule, sentence FROM mkt_audience_evidence WHERE audience_id = ? AND gateway_id >= ?"
            " AND gateway_id <= ?", (audience_id, rows[0]["gateway_id"], rows[-1]["gateway_id"])):  # fmt: skip
            held.setdefault(r["gateway_id"], {})[r["rule"]] = r["sentence"]
    out = []
    for r in rows:
        figures = figures_of(r)
        mine = held.get(r["gateway_id"])
        if mine is not None or not r["evidence"]:  # frozen by plan_freeze (older rows carry their own)
            mine = mine or {}
            rules = sorted(mine)
            evidence = "; ".join(f"{rule}: {mine[rule]}" for rule in rules) or _fallback_evidence(figures)
        else:
            rules, evidence = json.loads(r["rules"]), r["evidence"]
        extra = {k: r[k] for k in ("name", "phone", "address")} if with_contacts else {}
        out.append({"gateway_id": r["gateway_id"], "subscriber_id": r["subscriber_id"], "area": r["area"],
                    "community": r["community"], "rules": rules, "evidence": evidence, **extra})  # fmt: skip
    return out


# -- contact fields ---------------------------------------------------------------------------
async def upsert_contacts(
    db: Database, rows: Iterable[tuple[str, str | None, str | None, str | None]]
) -> int:
    """(subscriber_id, name, phone, address) rows from the CRM."""
    now = time.time()
    params = [(*r, now) for r in rows]
    if not params:
        return 0
    await db.transaction([Statement(
        "INSERT INTO mkt_contact_fields (subscriber_id, name, phone, address, imported_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (subscriber_id) DO UPDATE SET name = excluded.name, phone = excluded.phone,"
        " address = excluded.address, imported_at = excluded.imported_at", params, many=True)])  # fmt: skip
    return len(params)


# -- next-best offers -------------------------------------------------------------------------
async def home_of(db: Database, subscriber_id: str) -> dict[str, Any]:
    """The CRM row of a subscriber (by subscriber id, or by gateway id), or :class:`NotFound`."""
    row = await db.fetch_one(
        "SELECT gateway_id, subscriber_id, area, community, plan_down_mbps, price FROM subscribers"
        " WHERE subscriber_id = ? ORDER BY gateway_id LIMIT 1", (subscriber_id,))  # fmt: skip
    if row is None:
        row = await db.fetch_one(
            "SELECT gateway_id, subscriber_id, area, community, plan_down_mbps, price FROM subscribers"
            " WHERE gateway_id = ?", (subscriber_id,))  # fmt: skip
    if row is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    return row


async def taken_offers(db: Database, subscriber_id: str) -> list[str]:
    """Offers a subscriber already ordered (and did not cancel since)."""
    rows = await db.fetch(
        "SELECT offer_id, kind, at FROM mkt_outcomes WHERE subscriber_id = ? AND kind IN ('order',"
        " 'plan_change', 'cancel') ORDER BY at", (subscriber_id,))  # fmt: skip
    held: dict[str, bool] = {}
    for r in rows:
        held[r["offer_id"]] = r["kind"] != "cancel"
    return [o for o, yes in held.items() if yes]


async def next_best_offers(
    db: Database, catalogue: Catalogue, subscriber_id: str, top_n: int | None = None
) -> dict[str, Any]:
    """A subscriber's ranked offers with talk tracks (the call-centre screen)."""
    home = await home_of(db, subscriber_id)
    results = await db.fetch(
        "SELECT rule, kind, sentence FROM home_results WHERE gateway_id = ?", (home["gateway_id"],)
    )
    taken = await taken_offers(db, home["subscriber_id"])
    ranked: list[Ranked] = rank_offers(catalogue, results, taken, top_n)
    return {"subscriber_id": home["subscriber_id"], "gateway_id": home["gateway_id"], "area": home["area"],
            "taken": taken, "offers": [r.to_dict() for r in ranked],
            "cleared": await cleared_flags(db, catalogue, home["gateway_id"], home["subscriber_id"])}  # fmt: skip


async def cleared_flags(
    db: Database, catalogue: Catalogue, gateway_id: str, subscriber_id: str
) -> list[dict[str, Any]]:
    """The home's flags that cleared, each with its reason: ``offer taken`` when the subscriber
    ordered an offer that flag makes eligible before it cleared, else ``usage fell``."""
    cleared = await db.fetch(
        "SELECT rule, at FROM result_history WHERE gateway_id = ? AND change = 'cleared' ORDER BY at DESC LIMIT 50",
        (gateway_id,),
    )
    if not cleared:
        return []
    orders = await db.fetch(
        "SELECT offer_id, at FROM mkt_outcomes WHERE subscriber_id = ? AND kind IN ('order', 'plan_change')",
        (subscriber_id,),
    )
    out = []
    for c in cleared:
        by = [o["offer_id"] for o in orders if o["at"] <= c["at"] and o["offer_id"] in catalogue.offers
              and c["rule"] in catalogue.offers[o["offer_id"]].rules()]  # fmt: skip
        out.append({"rule": c["rule"], "at": c["at"], "reason": "offer taken" if by else "usage fell",
                    "offer": by[0] if by else None})  # fmt: skip
    return out


# -- win-back ---------------------------------------------------------------------------------
async def winback(db: Database, offline_days: float = 3.0, now: float | None = None) -> dict[str, Any]:
    """Subscribers who left (a ``left`` outcome), went silent (the ``inactive`` warning) or whose
    gateway has not reported for ``offline_days``; with their last profile and a likely reason,
    grouped by area."""
    now = time.time() if now is None else now
    rows = await db.fetch(
        "SELECT s.gateway_id, s.subscriber_id, s.area, s.community, s.plan_down_mbps, p.wifi_score, p.devices,"
        " p.gb_per_day, p.online_hours, p.competitor, g.last_seen,"
        " (SELECT count(*) FROM mkt_outcomes o WHERE o.subscriber_id = s.subscriber_id AND o.kind = 'left') AS left_n,"
        " (SELECT count(*) FROM home_results r WHERE r.gateway_id = s.gateway_id AND r.rule = 'inactive') AS inactive,"
        " (SELECT count(*) FROM home_results r WHERE r.gateway_id = s.gateway_id AND r.rule = 'plan_upgrade') AS small"
        " FROM subscribers s LEFT JOIN home_profiles p ON p.gateway_id = s.gateway_id"
        " LEFT JOIN gateways g ON g.gateway_id = s.gateway_id"
        " WHERE EXISTS (SELECT 1 FROM mkt_outcomes o WHERE o.subscriber_id = s.subscriber_id AND o.kind = 'left')"
        " OR EXISTS (SELECT 1 FROM home_results r WHERE r.gateway_id = s.gateway_id AND r.rule = 'inactive')"
        " OR g.last_seen < ? ORDER BY s.area, s.gateway_id", (now - offline_days * 86400.0,))  # fmt: skip
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        status = "left" if r["left_n"] else ("silent" if r["inactive"] else "offline")
        reasons = []
        if r["competitor"]:
            reasons.append("competitor networks seen")
        if r["wifi_score"] is not None and r["wifi_score"] < 55:
            reasons.append(f"poor Wi-Fi (score {r['wifi_score']:.0f})")
        if r["small"]:
            reasons.append("plan too small")
        entry = {k: r[k] for k in ("gateway_id", "subscriber_id", "community", "plan_down_mbps", "wifi_score",
                                   "devices", "gb_per_day", "online_hours", "last_seen")}  # fmt: skip
        entry.update(status=status, likely_reason="; ".join(reasons) or "unknown")
        groups.setdefault(r["area"] or "(no area)", []).append(entry)
    return {"total": len(rows), "areas": [{"area": a, "subscribers": s} for a, s in sorted(groups.items())]}
