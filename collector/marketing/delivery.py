"""Delivery of campaign messages, safe with several collectors on one store.

Each due message is *claimed* in the database before it is handed to the sender, in one
transaction per batch that, per message, in subscriber order:

1. touches the subscriber's gate row (``mkt_contact_gates``): on PostgreSQL the upsert
   locks it, so a second decision for the same subscriber (another collector, another
   campaign) waits for this one to commit and then sees its contact; SQLite has one writer;
2. records the contact (``mkt_contacts``) with a conditional ``INSERT ... SELECT``: only
   while the message is still queued, its campaign launched, the subscriber not opted out
   and under the cap of the period; ``UNIQUE (subscriber_id, main_offer)`` refuses a second
   main contact for one offer (``ON CONFLICT DO NOTHING``);
3. claims the message (``queued`` -> ``sending``) only if step 2 recorded its contact.

So the policy is decided by the database, not by a collector's memory, and each message is
handed over by exactly one collector. A message not claimed is either someone else's or
refused: :func:`~collector.marketing.policy.decide` then names the reason from the log.
Handed over: ``sent``; refused by the sender: back to ``queued`` and its contact removed.
A ``sending`` message left by a collector that stopped mid-hand-over is not sent again (it
may have gone): after ``STALE_S`` it becomes ``failed`` and its contact keeps counting.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Any

from collector.marketing.catalogue import Catalogue
from collector.marketing.policy import DAY_S, Contact, after_quiet_hours, decide
from collector.marketing.senders import Outgoing, Sender
from collector.store.sql import Database, Statement, in_list

log = logging.getLogger(__name__)

#: Messages decided per transaction (each takes three statements).
BATCH = 200
#: A claim older than this was left by a collector that stopped while handing it over.
STALE_S = 3600.0

GATE = (
    "INSERT INTO mkt_contact_gates (subscriber_id, touched_at) VALUES (?, ?)"
    " ON CONFLICT (subscriber_id) DO UPDATE SET touched_at = excluded.touched_at"
)
CONTACT = (
    "INSERT INTO mkt_contacts (message_id, subscriber_id, offer_id, main_offer, campaign_id, step, at)"
    " SELECT m.id, m.subscriber_id, m.offer_id, CASE WHEN m.step = 'main' THEN m.offer_id END, m.campaign_id,"
    " m.step, ? FROM mkt_messages m WHERE m.id = ? AND m.status = 'queued'"
    " AND EXISTS (SELECT 1 FROM mkt_campaigns c WHERE c.id = m.campaign_id AND c.state = 'launched')"
    " AND NOT EXISTS (SELECT 1 FROM mkt_opt_outs o WHERE o.subscriber_id = m.subscriber_id)"
    " AND (SELECT count(*) FROM mkt_contacts k WHERE k.subscriber_id = m.subscriber_id AND k.at > ?) < ?"
    " ON CONFLICT DO NOTHING"
)
CLAIM = (
    "UPDATE mkt_messages SET status = 'sending', claimed_by = ?, claimed_at = ? WHERE id = ? AND status = 'queued'"
    " AND EXISTS (SELECT 1 FROM mkt_contacts k WHERE k.message_id = mkt_messages.id) RETURNING id"
)


def owner_id() -> str:
    """Who claims: host, process and a random part (one per delivery pass)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


def plan_claims(due: Sequence[dict[str, Any]], owner: str, now: float, period_days: float,
                max_contacts: int) -> list[Statement]:  # fmt: skip
    """Gate, contact and claim statements for ``due`` messages, in subscriber order (so two
    collectors take the gates' row locks in one order and cannot deadlock)."""
    since = now - period_days * DAY_S
    out: list[Statement] = []
    for r in sorted(due, key=lambda r: (r["subscriber_id"], r["id"])):
        out.append(Statement(GATE, (r["subscriber_id"], now)))
        out.append(Statement(CONTACT, (now, r["id"], since, max_contacts)))
        out.append(Statement(CLAIM, (owner, now, r["id"])))
    return out


async def contact_log(db: Database, subscribers: list[str]) -> tuple[dict[str, list[Contact]], set[str]]:
    """The contacts recorded for ``subscribers`` (every campaign), and which of them opted out."""
    log: dict[str, list[Contact]] = {}
    opted: set[str] = set()
    for i in range(0, len(subscribers), 500):
        part = subscribers[i : i + 500]
        for r in await db.fetch(
            f"SELECT subscriber_id, offer_id, at, campaign_id, step FROM mkt_contacts WHERE subscriber_id IN {in_list(part)}",
            part,
        ):
            log.setdefault(r["subscriber_id"], []).append(
                Contact(r["offer_id"], r["at"], r["campaign_id"], r["step"])
            )
        opted |= {r["subscriber_id"] for r in await db.fetch(
            f"SELECT subscriber_id FROM mkt_opt_outs WHERE subscriber_id IN {in_list(part)}", part)}  # fmt: skip
    return log, opted


async def _refuse(db: Database, catalogue: Catalogue, lost: list[dict[str, Any]], now: float) -> int:
    """Mark the still-queued messages the policy refused ``suppressed``, with the reason."""
    if not lost:
        return 0
    ids = [r["id"] for r in lost]
    queued = {r["id"] for r in await db.fetch(
        f"SELECT id FROM mkt_messages WHERE status = 'queued' AND id IN {in_list(ids)}", ids)}  # fmt: skip
    log, opted = await contact_log(db, sorted({r["subscriber_id"] for r in lost if r["id"] in queued}))
    updates = []
    for r in lost:
        if r["id"] not in queued:
            continue  # another collector claimed it
        d = decide(catalogue.policy, now, r["offer_id"], r["campaign_id"], r["step"],
                   log.get(r["subscriber_id"], []), r["subscriber_id"] in opted)  # fmt: skip
        if d.reason and d.send_at is None:
            updates.append(Statement("UPDATE mkt_messages SET status = 'suppressed', reason = ? WHERE id = ?"
                                     " AND status = 'queued'", (d.reason, r["id"])))  # fmt: skip
        # else: allowed now (a pause, or a contact that aged out meanwhile): the next pass decides again
    if updates:
        await db.transaction(updates)
    return len(updates)


async def _expire_claims(db: Database, now: float) -> None:
    stale = (now - STALE_S,)
    if not await db.fetch_one(
        "SELECT id FROM mkt_messages WHERE status = 'sending' AND claimed_at < ? LIMIT 1", stale
    ):
        return  # the usual case: read, not a write transaction every pass
    await db.execute(Statement(
        "UPDATE mkt_messages SET status = 'failed', reason = 'delivery interrupted (the collector stopped while"
        " handing it over); not sent again, it may have gone' WHERE status = 'sending' AND claimed_at < ?", stale))  # fmt: skip


async def deliver_due(db: Database, catalogue: Catalogue, sender: Sender, now: float | None = None,
                      limit: int = 5000) -> dict[str, int]:  # fmt: skip
    """Claim, check and send the queued messages of launched campaigns that are due."""
    now = time.time() if now is None else now
    policy = catalogue.policy
    counts = {"sent": 0, "suppressed": 0, "deferred": 0, "failed": 0}
    await _expire_claims(db, now)
    due = await db.fetch(
        "SELECT m.id, m.campaign_id, m.gateway_id, m.subscriber_id, m.offer_id, m.step, m.body, c.channel"
        " FROM mkt_messages m JOIN mkt_campaigns c ON c.id = m.campaign_id WHERE m.status = 'queued'"
        " AND m.send_at <= ? AND c.state = 'launched' ORDER BY m.send_at, m.id LIMIT ?", (now, limit))  # fmt: skip
    if not due:
        return counts
    wake = after_quiet_hours(policy, now)
    if wake > now:  # quiet hours: everything due waits for the morning
        ids = [r["id"] for r in due]
        await db.transaction([Statement(
            f"UPDATE mkt_messages SET send_at = ? WHERE status = 'queued' AND id IN {in_list(ids[i : i + 500])}",
            (wake, *ids[i : i + 500])) for i in range(0, len(ids), 500)])  # fmt: skip
        counts["deferred"] = len(due)
        return counts
    owner = owner_id()
    won: set[int] = set()
    for i in range(0, len(due), BATCH):
        part = due[i : i + BATCH]
        outcomes = await db.transaction(
            plan_claims(part, owner, now, policy.period_days, policy.max_contacts)
        )
        won |= {int(row["id"]) for o in outcomes for row in o.rows}
    counts["suppressed"] = await _refuse(db, catalogue, [r for r in due if r["id"] not in won], now)
    mine = [r for r in due if r["id"] in won]
    to_send = [Outgoing(r["id"], r["campaign_id"], r["subscriber_id"], r["gateway_id"], r["channel"], r["step"],
                        r["offer_id"], r["body"]) for r in mine]  # fmt: skip
    try:
        handed = await sender.send(to_send) if to_send else []
    except Exception:  # e.g. the drop directory is full: nothing was handed over (the file is renamed last)
        log.exception("campaign delivery: the sender failed; %d messages stay queued", len(to_send))
        handed = [False] * len(to_send)
    sent = [(now, m.message_id, owner) for m, ok in zip(to_send, handed, strict=True) if ok]
    failed = [m.message_id for m, ok in zip(to_send, handed, strict=True) if not ok]
    counts["sent"], counts["failed"] = len(sent), len(failed)
    updates = []
    if sent:
        updates.append(Statement("UPDATE mkt_messages SET status = 'sent', sent_at = ? WHERE id = ?"
                                 " AND claimed_by = ?", sent, many=True))  # fmt: skip
    if failed:  # not handed over: no contact was made; the next pass tries again
        updates.append(
            Statement("DELETE FROM mkt_contacts WHERE message_id = ?", [(m,) for m in failed], many=True)
        )
        updates.append(Statement("UPDATE mkt_messages SET status = 'queued', claimed_by = NULL, claimed_at = NULL"
                                 " WHERE id = ? AND claimed_by = ?", [(m, owner) for m in failed], many=True))  # fmt: skip
    if updates:
        await db.transaction(updates)
    return counts
