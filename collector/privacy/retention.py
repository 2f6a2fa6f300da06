"""Retention for the tables ``Store.retain`` does not cover (docs/security.md, "Retention").

``Store.retain`` ages out raw reports and events, 15-minute facts and hourly rollups. This
adds, as Statements on ``store.db`` run in the same loop: quarantined payloads (raw
gateway input, MACs in clear, so kept no longer than raw reports), compact reports' static
views not refreshed for as long, daily rollups and
home-day rollups, result history and evaluation runs, ended sessions, stale sign-in
throttle rows, security events, archived reports with their files, and the unclassified
domains' per-home memberships (by ISO week: ``retention_unclassified_weeks``). The file sender's
drop folder is aged out beside it (``collector/privacy/files.py``). Current state (a gateway's latest figures, a home's
results and profile, the CRM row) lives as long as the home does: ``erase`` removes it.
Erasure audit records are kept: they name no home.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from collector.dpi.unclassified import retention_cutoff
from collector.privacy.files import drop_folder, expire_drop_files
from collector.settings import Settings
from collector.store.sql import Database, Statement

DAY = 86400.0


@dataclass(frozen=True)
class Rule:
    table: str
    #: The WHERE clause of expired rows, with one ``?`` for the cut-off.
    expired: str
    #: The cut-off's unit: epoch seconds, or days since the epoch.
    in_days: bool
    setting: str
    #: The cut-off is an ISO week (``year * 100 + week``) and the setting counts weeks kept.
    in_weeks: bool = False


RULES = (
    Rule("quarantine", "received_at < ?", False, "retention_raw_days"),
    # compact reports' static views (hostnames, addresses): a live agent refreshes its view's
    # stored_at every four hours at most, so only views no report needs any more age out
    Rule("static_views", "stored_at < ?", False, "retention_raw_days"),
    Rule("gateway_daily", "start < ?", False, "retention_daily_days"),
    Rule("home_days", "day < ?", True, "retention_daily_days"),
    Rule("result_history", "at < ?", False, "retention_daily_days"),
    Rule("evaluation_runs", "finished_at < ?", False, "retention_daily_days"),
    Rule("sessions", "coalesce(revoked_at, last_seen) < ?", False, "retention_sessions_days"),
    Rule(
        "login_throttle",
        "last_failure < ? AND blocked_until < last_failure + 86400",
        False,
        "retention_sessions_days",
    ),
    Rule("security_events", "at < ?", False, "retention_security_days"),
    # the files of old reports first, then the reports (the archive lists each with its files)
    Rule("report_files", "report_name IN (SELECT name FROM report_archive WHERE created_at < ?)", False,
         "retention_reports_days"),
    Rule("report_archive", "created_at < ?", False, "retention_reports_days"),
    # the unclassified domains' per-home memberships (collector/dpi/unclassified.py)
    Rule("dpi_unclassified", "week < ?", False, "retention_unclassified_weeks", in_weeks=True),
)  # fmt: skip


def plan(settings: Settings, now: float) -> list[Statement]:
    """The DELETEs due at ``now``."""
    out = []
    for rule in RULES:
        if rule.in_weeks:
            out.append(
                Statement(
                    f"DELETE FROM {rule.table} WHERE {rule.expired}",
                    (retention_cutoff(now, int(getattr(settings, rule.setting))),),
                )
            )
            continue
        cut = now - int(getattr(settings, rule.setting)) * DAY
        out.append(
            Statement(
                f"DELETE FROM {rule.table} WHERE {rule.expired}", (int(cut // DAY) if rule.in_days else cut,)
            )
        )
    return out


async def retain(db: Database, settings: Settings, now: float) -> dict[str, int]:
    """Run the plan, one transaction per table (a long one would hold the ingest's writer)."""
    deleted = {}
    for rule, statement in zip(RULES, plan(settings, now), strict=True):
        deleted[rule.table] = (await db.execute(statement)).rowcount
    folder = drop_folder()
    deleted["drop_folder_files"] = await asyncio.to_thread(
        expire_drop_files, folder, settings.retention_files_days, now
    )
    return deleted
