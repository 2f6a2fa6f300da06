"""The installer's baseline in the rules and the reports, on both stores.

A home whose Wi-Fi score falls well below the score recorded at the install visit gets the
``below_install_baseline`` warning with the figures ("Wi-Fi score 90 at install on DATE, 30
now"), and the periodic report's findings count those homes. The fleet's ``i % 5 == 0`` homes
lose their Wi-Fi quality from ``worse_from`` on (``tests/collector/reports/fleet.py``).
"""

from __future__ import annotations

from datetime import date

from collector.installer.records import InstallerRecords, InstallRecord
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.reports.findings import BELOW_INSTALL, results
from collector.reports.period import Period
from collector.store import Store
from collector.store.base import insights
from tests.collector.reports.fleet import FleetSpec, fill

NOV = (date(2026, 11, 1) - date(1970, 1, 1)).days
SPEC = FleetSpec(homes=11, first_day=NOV, days=28, worse_from=NOV + 14, areas=2, prefix="inst")
AS_OF = (SPEC.first_day + SPEC.days) * 86400  # 29 November, midnight
INSTALLED = (NOV + 3) * 86400 + 36000  # 4 November, 10:00


def _install(gid: str, score: float, at: float) -> InstallRecord:
    return InstallRecord(
        f"i-{gid}-{at:.0f}", gid, "fitter", at, True, "hall", "", None, score, {"wifi_score": score}
    )


async def test_a_home_below_its_install_baseline_is_warned_and_counted(store: Store) -> None:
    await fill(store, SPEC)
    records = InstallerRecords(store.db)
    await records.record_install(_install(SPEC.gid(0), 60.0, INSTALLED - 86400))  # an older visit
    await records.record_install(_install(SPEC.gid(0), 90.0, INSTALLED))  # poor later: warned
    await records.record_install(_install(SPEC.gid(5), 90.0, INSTALLED))  # poor later: warned
    await records.record_install(_install(SPEC.gid(1), 90.0, INSTALLED))  # good all along: not warned
    await records.record_install(_install(SPEC.gid(10), 95.0, AS_OF + 3600))  # after as_of: not yet history
    homes = insights(store)
    await evaluate(homes, load_config(), as_of=AS_OF - 14 * 86400, workers=1)  # the week before the report's
    await evaluate(homes, load_config(), as_of=AS_OF, workers=1)

    warned = {}
    for i in range(SPEC.homes):
        for r in await homes.home_results(SPEC.gid(i)):
            if r["rule"] == BELOW_INSTALL:
                warned[SPEC.gid(i)] = r
    assert set(warned) == {SPEC.gid(0), SPEC.gid(5)}  # gid 10 is poor too, but its install is later
    found = warned[SPEC.gid(0)]
    metrics = found["evidence"]["metrics"]
    summary = await homes.home_summary(SPEC.gid(0))
    assert summary is not None
    now = summary["wifi_score"]
    assert now < 60 and metrics == {
        "install_score": 90.0, "score_now": round(now, 1), "drop": round(90 - now, 1), "installed_on": "2026-11-04"}  # fmt: skip
    assert found["sentence"] == f"Wi-Fi score 90 at install on 2026-11-04, {now:.0f} now"
    assert found["evidence"]["thresholds"] == {"min_drop": 15.0}

    # the weekly report's findings count them
    week = Period("week", date(2026, 11, 23), date(2026, 11, 29))
    table = await results(store.db, week)
    row = next(r for r in table.rows if r["rule"] == BELOW_INSTALL)
    assert row["homes"] == len(warned) == 2
    assert table.note.startswith(
        "Install baseline: 2 homes are below the Wi-Fi score recorded at their install visit"
    )
