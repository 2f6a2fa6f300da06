"""Campaigns on both stores: arms, launch once, pause, the policy across campaigns, outcomes, results."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from collector.marketing import MarketingError
from collector.marketing.audiences import freeze_audience, next_best_offers, upsert_contacts
from collector.marketing.campaigns import create_campaign, launch, opt_out, preview, set_state
from collector.marketing.catalogue import load_catalogue
from collector.marketing.delivery import deliver_due
from collector.marketing.outcomes import parse_outcomes
from collector.marketing.results import campaign_results, import_outcomes
from collector.marketing.senders import FileSender, Outgoing
from collector.store import Store
from collector.store.sql import Statement
from tests.collector.marketing.homes import Home, kind_of, seed

NOON = 1_765_000_800.0 - 1_765_000_800.0 % 86400 + 12 * 3600  # a day at 12:00 UTC (outside quiet hours)
MESH = "14 devices; Wi-Fi score 44/100"


def _fleet(n: int) -> list[Home]:
    return [
        Home(
            f"gw-{i:03d}",
            area=("north", "south")[i % 2],
            results={"mesh_or_fttr": MESH, "plan_upgrade": "busy"},
        )
        for i in range(n)
    ]


def _sent(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for f in sorted(folder.glob("*.csv")):
        with open(f, encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


async def test_control_never_contacted_and_policy_holds_across_campaigns(
    store: Store, tmp_path: Path
) -> None:
    await seed(store, _fleet(60))
    await upsert_contacts(store.db, [("sub-gw-000", "Zoë =Ann", "+33 1", "1 rue")])
    cat = load_catalogue(None, kind_of)
    db = store.db
    aud = await freeze_audience(db, "flagged", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    arms = {}

    def control_of(cid: int) -> set[str]:
        return {s for s, a in arms[cid].items() if a == "control"}

    spec = {"name": "mesh", "audience_id": aud["id"], "offer_id": "mesh", "channel": "sms",
            "template": "Hello {name}, {offer} for {price}: {evidence}", "send_at": NOON, "seed": 7}  # fmt: skip
    mesh = await create_campaign(db, cat, spec, "ann")
    shown = await preview(db, cat, mesh["id"])
    assert shown["treatment"] + shown["control"] == 60 and shown["control"] >= 4
    assert shown["messages"][0].startswith("Hello Zoë =Ann, Mesh Wi-Fi")
    launched = await launch(db, cat, mesh["id"], now=NOON)
    arms[mesh["id"]] = {r["subscriber_id"]: r["arm"] for r in await db.fetch(
        "SELECT subscriber_id, arm FROM mkt_members WHERE campaign_id = ?", (mesh["id"],))}  # fmt: skip
    assert (launched["treatment"], launched["control"]) == (shown["treatment"], shown["control"])
    with pytest.raises(MarketingError, match="is launched, not a draft"):
        await launch(db, cat, mesh["id"], now=NOON)
    out = tmp_path / "drop"
    sender = FileSender(out)
    await opt_out(db, ["sub-gw-001"], NOON - 10, "sms STOP")
    counts = await deliver_due(db, cat, sender, now=NOON)
    sent = _sent(out)
    assert counts["sent"] == len(sent) == launched["treatment"] - ("sub-gw-001" not in control_of(mesh["id"]))
    control = control_of(mesh["id"])
    assert control and not control & {r["subscriber_id"] for r in sent}
    assert "sub-gw-001" not in {r["subscriber_id"] for r in sent}
    # a second campaign for the same offer is suppressed; the cap (3 a month) holds across campaigns
    again = await create_campaign(db, cat, {**spec, "name": "mesh again", "seed": 8}, "ann")
    await launch(db, cat, again["id"], now=NOON)
    counts = await deliver_due(db, cat, sender, now=NOON + 60)
    # only those the first campaign held back (its control group, the opted-out one excepted) hear of mesh now
    second = {r["subscriber_id"] for r in _sent(out)} - {r["subscriber_id"] for r in sent}
    assert counts["suppressed"] > 0 and second <= control and counts["sent"] == len(second)
    for k in range(3):
        c = await create_campaign(db, cat, {**spec, "name": f"plan {k}", "offer_id": ("plan_upgrade", "fttr",
                                                                                         "loyalty")[k]}, "ann")  # fmt: skip
        await launch(db, cat, c["id"], now=NOON)
        await deliver_due(db, cat, sender, now=NOON + 120 + k)
    per_subscriber: dict[str, int] = {}
    for r in _sent(out):
        per_subscriber[r["subscriber_id"]] = per_subscriber.get(r["subscriber_id"], 0) + 1
    assert max(per_subscriber.values()) == 3
    # quiet hours: a message due at 23:00 waits until 09:00
    late = await create_campaign(
        db, cat, {**spec, "name": "late", "offer_id": "office", "send_at": NOON + 11 * 3600}, "ann"
    )
    await launch(db, cat, late["id"], now=NOON)
    await db.execute(Statement("DELETE FROM mkt_contacts"))  # a new month: the cap is free again
    counts = await deliver_due(db, cat, sender, now=NOON + 11 * 3600)
    assert counts["deferred"] > 0 and counts["sent"] == 0
    (row,) = await db.fetch(
        "SELECT min(send_at) AS t FROM mkt_messages WHERE campaign_id = ? AND status = 'queued'",
        (late["id"],),
    )
    assert row["t"] == NOON + 21 * 3600  # 09:00 the next day


async def test_pause_stops_delivery(store: Store, tmp_path: Path) -> None:
    await seed(store, _fleet(10))
    cat = load_catalogue(None, kind_of)
    aud = await freeze_audience(store.db, "a", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    c = await create_campaign(store.db, cat, {"name": "m", "audience_id": aud["id"], "offer_id": "mesh",
                                              "template": "{offer}", "send_at": NOON, "control_share": 0}, "ann")  # fmt: skip
    await launch(store.db, cat, c["id"], now=NOON)
    assert (await set_state(store.db, c["id"], "paused"))["state"] == "paused"
    assert (await deliver_due(store.db, cat, FileSender(tmp_path), now=NOON))["sent"] == 0
    await set_state(store.db, c["id"], "launched")
    assert (await deliver_due(store.db, cat, FileSender(tmp_path), now=NOON))["sent"] == 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"template": "Hi {nom}"}, "template: unknown parameter {nom}"),
        ({"offer_id": "yacht"}, "unknown offer 'yacht'"),
        ({"channel": "fax"}, "channel must be one of"),
        (
            {"preheat_template": "Soon {offer}", "preheat_at": NOON + 86400},
            "preheat_at must be before send_at",
        ),
        ({"control_share": 1.5}, "control_share must be from 0"),
    ],
)
async def test_bad_campaigns_are_refused_naming_the_field(
    store: Store, spec: dict[str, object], message: str
) -> None:
    await seed(store, _fleet(2))
    cat = load_catalogue(None, kind_of)
    aud = await freeze_audience(store.db, "a", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    base = {"name": "m", "audience_id": aud["id"], "offer_id": "mesh", "template": "{offer}", "send_at": NOON}
    with pytest.raises(MarketingError, match=message.replace("{", r"\{").replace("}", r"\}")):
        await create_campaign(store.db, cat, {**base, **spec}, "ann")


async def test_outcomes_and_results(store: Store, tmp_path: Path) -> None:
    await seed(store, _fleet(200))
    cat = load_catalogue(None, kind_of)
    db = store.db
    aud = await freeze_audience(db, "a", {"flag": "plan_upgrade"}, kind_of, "ann")
    c = await create_campaign(db, cat, {"name": "up", "audience_id": aud["id"], "offer_id": "plan_upgrade",
                                        "template": "{offer}", "send_at": NOON, "control_share": 0.2,
                                        "preheat_template": "Big news on {event_date}", "preheat_at": NOON - 3600}, "ann")  # fmt: skip
    await launch(db, cat, c["id"], now=NOON - 7200)
    await deliver_due(db, cat, FileSender(tmp_path), now=NOON - 3600)  # the pre-heating messages
    await deliver_due(db, cat, FileSender(tmp_path), now=NOON)
    arms = {r["subscriber_id"]: r["arm"] for r in await db.fetch(
        "SELECT subscriber_id, arm FROM mkt_members WHERE campaign_id = ?", (c["id"],))}  # fmt: skip
    treated = sorted(s for s, a in arms.items() if a == "treatment")
    control = sorted(s for s, a in arms.items() if a == "control")
    lines = ["subscriber_id,kind,offer_id,at,plan_down_mbps"]
    lines += [f"{s},plan_change,,2026-01-0{1 + i % 5},200" for i, s in enumerate(treated[:40])]
    lines += [f"{s},order,plan_upgrade,{NOON + 86400 * 2},200" for s in control[:2]]
    lines += [
        "sub-x,order,yacht,2026-01-01,",
        "sub-y,plan_change,,2026-01-01,",
        f"{treated[50]},opt_out,,{NOON + 5},",
    ]
    parsed = parse_outcomes("\n".join(lines) + "\n", cat.offers)
    assert parsed.errors == [(44, "offer_id is not an offer of the catalogue: 'yacht'"),
                             (45, "plan_down_mbps is missing (a plan change needs the new speed)")]  # fmt: skip
    assert await import_outcomes(db, parsed.rows) == 43
    assert await import_outcomes(db, parsed.rows) == 43  # idempotent: kept once
    await db.execute(Statement(
        "UPDATE subscribers SET plan_down_mbps = 200 WHERE subscriber_id = ?", (treated[0],)))  # fmt: skip
    res = await campaign_results(db, cat, c["id"], now=NOON + 86400 * 3)
    assert res["converted"] == {"treatment": 40, "control": 2}
    assert res["control_contacted"] == 0 and res["contacted"] == len(treated)
    u = res["uplift"]
    assert u["treated"] == len(treated) and u["control"] == len(control)
    assert u["ci95"][0] < u["uplift"] < u["ci95"][1]
    assert res["verified_conversions"] == 1
    assert res["opt_outs"] == {"treatment": 1, "control": 0}
    assert res["series"][-1]["treatment"] == round(40 / len(treated), 5)


async def test_a_flag_cleared_by_a_purchase_says_offer_taken(store: Store) -> None:
    await seed(store, [Home("gw-a"), Home("gw-b")])
    cat = load_catalogue(None, kind_of)
    await store.db.transaction([
        Statement("INSERT INTO result_history (gateway_id, rule, change, at, version, state, score, sentence)"
                  " VALUES (?, 'mesh_or_fttr', 'cleared', ?, 1, 'on', NULL, 'x')", [("gw-a", 2000.0), ("gw-b", 2000.0)],
                  many=True)])  # fmt: skip
    parsed = parse_outcomes(
        "subscriber_id,kind,offer_id,at\nsub-gw-a,order,mesh,1500\nsub-gw-b,order,mesh,2500\n", cat.offers
    )
    await import_outcomes(store.db, parsed.rows)
    a = await next_best_offers(store.db, cat, "sub-gw-a")
    b = await next_best_offers(store.db, cat, "sub-gw-b")
    assert a["cleared"] == [{"rule": "mesh_or_fttr", "at": 2000.0, "reason": "offer taken", "offer": "mesh"}]
    assert b["cleared"][0]["reason"] == "usage fell"  # bought after the flag had gone
    assert a["taken"] == ["mesh"]


class _Refusing:
    """A sender whose gateway is down: nothing is handed over."""

    async def send(self, messages: Sequence[Outgoing]) -> list[bool]:
        return [False] * len(messages)


class _Broken:
    """A sender that raises (a full disk under the drop directory)."""

    async def send(self, messages: Sequence[Outgoing]) -> list[bool]:
        raise OSError("No space left on device")


async def test_a_refused_hand_over_is_retried_and_an_interrupted_one_is_not(
    store: Store, tmp_path: Path
) -> None:
    await seed(store, _fleet(6))
    cat = load_catalogue(None, kind_of)
    db = store.db
    aud = await freeze_audience(db, "a", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    c = await create_campaign(db, cat, {"name": "m", "audience_id": aud["id"], "offer_id": "mesh",
                                        "template": "{offer}", "send_at": NOON, "control_share": 0}, "ann")  # fmt: skip
    await launch(db, cat, c["id"], now=NOON)
    assert (await deliver_due(db, cat, _Refusing(), now=NOON))["failed"] == 6
    assert (await deliver_due(db, cat, _Broken(), now=NOON))["failed"] == 6
    assert await db.fetch("SELECT * FROM mkt_contacts") == []  # no contact was made: the cap is untouched
    # a collector stopped while handing one over: it stays 'sending' until it is stale, then 'failed'
    (stuck,) = await db.fetch("SELECT id, subscriber_id FROM mkt_messages ORDER BY id LIMIT 1")
    await db.transaction([
        Statement("UPDATE mkt_messages SET status = 'sending', claimed_by = 'gone', claimed_at = ? WHERE id = ?",
                  (NOON, stuck["id"])),
        Statement("INSERT INTO mkt_contacts (message_id, subscriber_id, offer_id, main_offer, campaign_id, step, at)"
                  " VALUES (?, ?, 'mesh', 'mesh', ?, 'main', ?)", (stuck["id"], stuck["subscriber_id"], c["id"], NOON)),
    ])  # fmt: skip
    assert (await deliver_due(db, cat, FileSender(tmp_path), now=NOON + 60))["sent"] == 5
    assert (await deliver_due(db, cat, FileSender(tmp_path), now=NOON + 7200))["sent"] == 0
    (row,) = await db.fetch("SELECT status, reason FROM mkt_messages WHERE id = ?", (stuck["id"],))
    assert row["status"] == "failed" and "not sent again" in row["reason"]
    assert len(_sent(tmp_path)) == 5 and len(await db.fetch("SELECT * FROM mkt_contacts")) == 6
