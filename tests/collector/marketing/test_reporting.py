"""The campaigns section of the periodic reports, on both stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from collector.marketing.audiences import freeze_audience
from collector.marketing.campaigns import create_campaign, launch
from collector.marketing.catalogue import load_catalogue
from collector.marketing.delivery import deliver_due
from collector.marketing.outcomes import parse_outcomes
from collector.marketing.reporting import campaigns_table, register
from collector.marketing.results import campaign_results, import_outcomes
from collector.marketing.senders import FileSender
from collector.reports import figures
from collector.reports.period import Period
from collector.store import Store
from tests.collector.marketing.homes import Home, kind_of, seed

NOON = 1_765_000_800.0 - 1_765_000_800.0 % 86400 + 12 * 3600
LAUNCH_DAY = datetime.fromtimestamp(NOON, UTC).date()


def _week(first: date) -> Period:
    return Period("range", first, first + timedelta(days=6))


async def test_a_report_shows_each_campaign_with_its_uplift(store: Store, tmp_path: Path) -> None:
    await seed(store, [Home(f"gw-{i:03d}", results={"mesh_or_fttr": "weak"}) for i in range(100)])
    cat = load_catalogue(None, kind_of)
    db = store.db
    aud = await freeze_audience(db, "mesh", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    c = await create_campaign(db, cat, {"name": "Mesh spring", "audience_id": aud["id"], "offer_id": "mesh",
                                        "template": "{offer}", "send_at": NOON, "control_share": 0.3}, "ann")  # fmt: skip
    await launch(db, cat, c["id"], now=NOON)
    await deliver_due(db, cat, FileSender(tmp_path), now=NOON)
    arms = await db.fetch("SELECT subscriber_id, arm FROM mkt_members WHERE campaign_id = ? ORDER BY subscriber_id",
                          (c["id"],))  # fmt: skip
    buyers = [r["subscriber_id"] for r in arms if r["arm"] == "treatment"][:20]
    text = "subscriber_id,kind,offer_id,at\n" + "".join(f"{s},order,mesh,{NOON + 3600}\n" for s in buyers)
    await import_outcomes(db, parse_outcomes(text, cat.offers).rows)
    table = await campaigns_table(db, cat, _week(LAUNCH_DAY - timedelta(days=2)), now=NOON + 86400)
    assert table is not None
    (row,) = table.rows
    res = await campaign_results(db, cat, c["id"], now=NOON + 86400)
    assert (row["campaign"], row["offer"], row["launched"]) == ("Mesh spring", "mesh", LAUNCH_DAY.isoformat())
    assert (row["treated"], row["control"], row["contacted"]) == (
        res["treated"],
        res["control"],
        res["treated"],
    )
    assert row["rate_treatment"] == round(100 * 20 / res["treated"], 2) and row["rate_control"] == 0.0
    assert row["ci_low"] > 0 and row["result"] == "uplift shown"
    # a month later it is still reported (outcomes come in late); a quarter later no longer
    assert await campaigns_table(db, cat, _week(LAUNCH_DAY + timedelta(days=30))) is not None
    assert await campaigns_table(db, cat, _week(LAUNCH_DAY + timedelta(days=90))) is None
    assert await campaigns_table(db, cat, _week(LAUNCH_DAY - timedelta(days=30))) is None  # launched after it
    # registered, it replaces the report's placeholder
    register(cat)
    section = figures._SECTIONS["campaigns"]
    shown = await section(store, _week(LAUNCH_DAY))
    assert shown is not None and shown.rows[0]["campaign"] == "Mesh spring"
