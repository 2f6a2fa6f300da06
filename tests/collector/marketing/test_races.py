"""Two collectors on one store (SQLite file, PostgreSQL): delivery, the contact policy and the
audience freeze hold when they race."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
from collections import Counter
from pathlib import Path

from collector.marketing.audiences import freeze_audience, members
from collector.marketing.campaigns import create_campaign, launch
from collector.marketing.catalogue import Catalogue, Policy, load_catalogue
from collector.marketing.delivery import deliver_due, plan_claims
from collector.marketing.senders import FileSender
from collector.store import Store
from collector.store.sql import Statement
from tests.collector.marketing.homes import Home, kind_of, seed

NOON = 1_765_000_800.0 - 1_765_000_800.0 % 86400 + 12 * 3600


def _fleet(n: int) -> list[Home]:
    return [Home(f"gw-{i:03d}", area=("north", "south")[i % 2],
                 results={"mesh_or_fttr": "weak Wi-Fi", "plan_upgrade": "busy line"}) for i in range(n)]  # fmt: skip


def _delivered(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for f in sorted(folder.glob("*.csv")):
        with open(f, encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


async def _campaign(
    store: Store, cat: Catalogue, audience: int, offer: str, share: float, seed: int = 3
) -> int:
    c = await create_campaign(store.db, cat, {"name": f"{offer} {seed}", "audience_id": audience, "offer_id": offer,
                                              "template": "{offer}", "send_at": NOON, "control_share": share,
                                              "seed": seed}, "ann")  # fmt: skip
    await launch(store.db, cat, c["id"], now=NOON)
    return int(c["id"])


async def test_two_delivery_loops_hand_each_message_over_once(
    two_collectors: tuple[Store, Store], tmp_path: Path
) -> None:
    a, b = two_collectors
    await seed(a, _fleet(80))
    cat = load_catalogue(None, kind_of)
    aud = await freeze_audience(a.db, "all", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    cid = await _campaign(a, cat, aud["id"], "mesh", 0.2)
    arms = {r["subscriber_id"]: r["arm"] for r in await a.db.fetch(
        "SELECT subscriber_id, arm FROM mkt_members WHERE campaign_id = ?", (cid,))}  # fmt: skip
    drop = tmp_path / "drop"
    # both collectors' loops, three passes each, all at once: every pass sees the same due messages
    counts = await asyncio.gather(*[deliver_due(s.db, cat, FileSender(drop), now=NOON + k)
                                    for k in range(3) for s in (a, b)])  # fmt: skip
    delivered = Counter(r["subscriber_id"] for r in _delivered(drop))
    treated = {s for s, arm in arms.items() if arm == "treatment"}
    assert set(delivered) == treated and set(delivered.values()) == {1}  # each treated member exactly once
    assert not {s for s, arm in arms.items() if arm == "control"} & set(delivered)
    assert sum(c["sent"] for c in counts) == len(treated)
    assert sum(c["suppressed"] for c in counts) == 0  # a message another collector took is not "suppressed"
    statuses = await a.db.fetch("SELECT status, count(*) AS n FROM mkt_messages WHERE campaign_id = ? GROUP BY status",
                                (cid,))  # fmt: skip
    assert {r["status"]: r["n"] for r in statuses} == {"sent": len(treated)}


async def test_campaigns_racing_on_two_collectors_keep_the_cap_and_one_contact_per_offer(
    two_collectors: tuple[Store, Store], tmp_path: Path
) -> None:
    a, b = two_collectors
    await seed(a, _fleet(60))
    cat = load_catalogue(None, kind_of)
    cat = dataclasses.replace(cat, policy=Policy(max_contacts=2, quiet_start_hour=0, quiet_end_hour=0))
    aud = await freeze_audience(a.db, "all", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    # five campaigns on the same homes, no control group: two for mesh (one contact per offer) and
    # three other offers (the cap of 2 a period must keep each subscriber to two messages in all)
    for offer, seed_ in (("mesh", 1), ("mesh", 2), ("plan_upgrade", 3), ("loyalty", 4), ("office", 5)):
        await _campaign((a, b)[seed_ % 2], cat, aud["id"], offer, 0.0, seed_)
    drop = tmp_path / "drop"
    await asyncio.gather(*[deliver_due(s.db, cat, FileSender(drop), now=NOON, limit=lim)
                           for lim in (7, 50, 1000) for s in (a, b)])  # fmt: skip
    rows = _delivered(drop)
    per_subscriber = Counter(r["subscriber_id"] for r in rows)
    assert len(per_subscriber) == 60 and set(per_subscriber.values()) == {2}, per_subscriber
    mesh = Counter(r["subscriber_id"] for r in rows if r["offer_id"] == "mesh")
    assert max(mesh.values()) == 1
    logged = await a.db.fetch("SELECT subscriber_id, count(*) AS n FROM mkt_contacts GROUP BY subscriber_id")
    assert {r["n"] for r in logged} == {2} and len(logged) == 60  # the log is what was handed over
    # every other message has its reason
    reasons = Counter(r["reason"].split(":")[0] for r in await a.db.fetch(
        "SELECT reason FROM mkt_messages WHERE status = 'suppressed'"))  # fmt: skip
    assert sum(reasons.values()) == 5 * 60 - 120 and set(reasons) <= {
        "cap",
        "already contacted for this offer",
    }


async def test_a_freeze_racing_an_evaluation_sees_it_whole_or_not_at_all(
    two_collectors: tuple[Store, Store],
) -> None:
    a, b = two_collectors
    n = 120
    await seed(a, [Home(f"gw-{i:03d}", wifi=0.0, results={"mesh_or_fttr": "state 0"} if i < n // 2 else {})
                   for i in range(n)])  # fmt: skip

    def state(k: int) -> list[Statement]:
        """Evaluation k: a different half of the homes flagged, every sentence and Wi-Fi score says k."""
        flagged = [f"gw-{i:03d}" for i in range(n) if (i + k * 7) % n < n // 2]
        return [
            Statement("DELETE FROM home_results WHERE rule = 'mesh_or_fttr'"),
            Statement("UPDATE home_profiles SET wifi_score = ?", (float(k),)),
            Statement(
                "INSERT INTO home_results (gateway_id, rule, kind, version, time_window, state, score, sentence,"
                " evidence, since, changed_at, evaluated_at) VALUES (?, 'mesh_or_fttr', 'flag', 1, '7d', 'on',"
                " NULL, ?, '{}', 1, 1, 1)",
                [(g, f"state {k}") for g in flagged],
                many=True,
            ),
        ]

    async def evaluate() -> None:
        for k in range(1, 25):
            await b.db.transaction(state(k))
            await asyncio.sleep(0)

    async def freeze() -> list[int]:
        made = []
        for i in range(25):
            made.append(
                (await freeze_audience(a.db, f"a{i}", {"flag": "mesh_or_fttr"}, kind_of, "ann"))["id"]
            )
        return made

    _, made = await asyncio.gather(evaluate(), freeze())
    seen = set()
    for audience_id in made:
        found = await members(a.db, audience_id, with_contacts=False)
        sentences = {m["evidence"] for m in found}
        assert len(sentences) == 1, sentences  # one evaluation's sentences, never two
        k = int(next(iter(sentences)).removeprefix("mesh_or_fttr: state "))
        seen.add(k)
        expected = sorted(f"gw-{i:03d}" for i in range(n) if (i + k * 7) % n < n // 2) if k else [
            f"gw-{i:03d}" for i in range(n // 2)]  # fmt: skip
        assert [m["gateway_id"] for m in found] == expected  # that same evaluation's members
        scores = await a.db.fetch("SELECT DISTINCT wifi_score FROM mkt_audience_members WHERE audience_id = ?",
                                  (audience_id,))  # fmt: skip
        assert [r["wifi_score"] for r in scores] == [float(k)]  # and its figures
        (header,) = await a.db.fetch("SELECT size FROM mkt_audiences WHERE id = ?", (audience_id,))
        assert header["size"] == n // 2


async def test_claims_of_different_messages_for_one_subscriber_at_once_keep_the_cap(
    two_collectors: tuple[Store, Store],
) -> None:
    """The gate row, shown without delivery's shared order: each collector claims other campaigns'
    messages for the same subscribers in one transaction, at once."""
    a, b = two_collectors
    await seed(a, _fleet(60))
    cat = load_catalogue(None, kind_of)
    aud = await freeze_audience(a.db, "all", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    ids = [await _campaign(a, cat, aud["id"], offer, 0.0, k) for k, offer in enumerate(("mesh", "plan_upgrade",
                                                                                          "loyalty", "office"))]  # fmt: skip
    due = {cid: await a.db.fetch("SELECT id, subscriber_id FROM mkt_messages WHERE campaign_id = ?", (cid,))
           for cid in ids}  # fmt: skip
    first = plan_claims(due[ids[0]] + due[ids[1]], "collector-a", NOON, 30, 2)
    second = plan_claims(due[ids[2]] + due[ids[3]], "collector-b", NOON, 30, 2)
    outcomes = await asyncio.gather(a.db.transaction(first), b.db.transaction(second))
    assert sum(len(o.rows) for side in outcomes for o in side) == 120  # claimed: two per subscriber
    logged = await a.db.fetch("SELECT subscriber_id, count(*) AS n FROM mkt_contacts GROUP BY subscriber_id")
    assert len(logged) == 60 and {r["n"] for r in logged} == {2}
