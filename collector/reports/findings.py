"""Labels, flags and warnings over a period: how many homes held each at its end, at the end
of the period before, and how many appeared and cleared in between (from ``result_history``,
whose ``at`` is the evaluation's as-of time).
"""

from __future__ import annotations

from collector.profiles.rules import KINDS, rules
from collector.reports.period import Period
from collector.reports.tables import Table, col
from collector.store.sql import Database

#: Homes holding each rule at a time ``?``: each (home, rule)'s latest history entry up to it
#: is not a clearance. (``id`` breaks ties of one evaluation.) An evaluation as of a period's
#: closing midnight belongs to that period: periods are ``(start, end]`` here.
HELD_AT = (
    "SELECT h.rule, count(*) AS homes FROM result_history h WHERE h.at <= ? AND h.change <> 'cleared'"
    " AND NOT EXISTS (SELECT 1 FROM result_history n WHERE n.gateway_id = h.gateway_id AND n.rule = h.rule"
    " AND n.at <= ? AND (n.at > h.at OR (n.at = h.at AND n.id > h.id))) GROUP BY h.rule"
)
CHANGES = (
    "SELECT rule, change, count(*) AS n FROM result_history WHERE at > ? AND at <= ? GROUP BY rule, change"
)


#: The warning that compares a home with the installer's record of it (``builtin.py``).
BELOW_INSTALL = "below_install_baseline"


def install_line(now: int, before: int) -> str:
    """The findings' line on installs: homes whose Wi-Fi is now well below their install baseline."""
    homes = "1 home is" if now == 1 else f"{now} homes are"
    return (
        f"Install baseline: {homes} below the Wi-Fi score recorded at their install visit"
        f" ({before} a period before)."
    )


async def held_at(db: Database, at: int) -> dict[str, int]:
    """Homes holding each rule as of ``at`` (evaluations up to and including it)."""
    return {str(r["rule"]): int(r["homes"]) for r in await db.fetch(HELD_AT, (at, at))}


async def results(db: Database, period: Period) -> Table:
    """One row per rule: homes at the period's end and before it, appeared, cleared."""
    now, before = await held_at(db, period.end), await held_at(db, period.start)
    changes: dict[str, dict[str, int]] = {}
    for r in await db.fetch(CHANGES, (period.start, period.end)):
        changes.setdefault(str(r["rule"]), {})[str(r["change"])] = int(r["n"])
    known = rules()
    names = sorted(
        set(known) | set(now) | set(before) | set(changes),
        key=lambda n: (KINDS.index(known[n].kind) if n in known else len(KINDS), n),
    )
    rows = [
        {"kind": known[n].kind if n in known else "retired", "rule": n, "homes": now.get(n, 0),
         "homes_before": before.get(n, 0), "change": now.get(n, 0) - before.get(n, 0),
         "appeared": changes.get(n, {}).get("appeared", 0), "cleared": changes.get(n, {}).get("cleared", 0)}
        for n in names
    ]  # fmt: skip
    return Table(
        "results",
        "Labels, flags and warnings",
        (col("kind", "Kind"), col("rule", "Rule"), col("homes", "Homes at end", fmt="d"),
         col("homes_before", "Homes a period before", fmt="d"), col("change", "Change", fmt="+d"),
         col("appeared", "Appeared", fmt="d"), col("cleared", "Cleared", fmt="d")),
        rows,
        note=f"{install_line(now.get(BELOW_INSTALL, 0), before.get(BELOW_INSTALL, 0))} Homes holding each result at"
        " the end of the period and of the period before; appeared and cleared count the changes the evaluations"
        " recorded in the period.",
    )  # fmt: skip
