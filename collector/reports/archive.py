"""The report archive in the store: each report's row and its files, by the period's name.

A scheduled report is saved only if its name is not archived yet (``expect=1`` on an
``ON CONFLICT DO NOTHING``: a second producer's save is a :class:`Conflict` and writes
nothing); an on-demand one replaces an archived report of the same name.
"""

from __future__ import annotations

import json
import time
from typing import Any

from collector.reports.build import Built
from collector.store.sql import Database, Statement

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".csv": "text/csv; charset=utf-8",
}
LIST = (
    "SELECT name, kind, first_day, last_day, created_at, owner, seconds, headline, mailed_at FROM report_archive"
    " ORDER BY last_day DESC, kind, name LIMIT ? OFFSET ?"
)


def content_type(file_name: str) -> str:
    return next(
        (t for ext, t in CONTENT_TYPES.items() if file_name.endswith(ext)), "application/octet-stream"
    )


def plan_save(built: Built, owner: str, now: float, replace: bool) -> list[Statement]:
    """The statements that archive ``built`` (``replace``: drop an archived one of that name first)."""
    p = built.report.period
    row = (p.name, p.kind, p.first.isoformat(), p.last.isoformat(), now, owner, built.seconds.get("total", 0.0),
           json.dumps(built.report.headline))  # fmt: skip
    out = []
    if replace:
        out += [Statement("DELETE FROM report_files WHERE report_name = ?", (p.name,)),
                Statement("DELETE FROM report_archive WHERE name = ?", (p.name,))]  # fmt: skip
    out.append(
        Statement(
            "INSERT INTO report_archive (name, kind, first_day, last_day, created_at, owner, seconds, headline)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
            row,
            expect=1,
        )
    )
    out.append(
        Statement(
            "INSERT INTO report_files (report_name, file_name, content_type, size, data) VALUES (?, ?, ?, ?, ?)",
            [(p.name, n, content_type(n), len(data), data) for n, data in built.files.items()],
            many=True,
        )
    )
    return out


async def save(db: Database, built: Built, owner: str, *, replace: bool = True) -> None:
    """Archive ``built``; raises :class:`~collector.store.sql.Conflict` if ``replace=False`` and it exists."""
    await db.transaction(plan_save(built, owner, time.time(), replace))


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["headline"] = json.loads(row["headline"] or "{}")
    return row


async def listing(db: Database, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Archived reports, the latest period first, each with its files' names and sizes."""
    reports = [_entry(r) for r in await db.fetch(LIST, (limit, offset))]
    if reports:
        names = [r["name"] for r in reports]
        marks = ", ".join("?" * len(names))
        files = await db.fetch(
            f"SELECT report_name, file_name, size FROM report_files WHERE report_name IN ({marks})"
            " ORDER BY report_name, file_name",
            names,
        )
        by_name: dict[str, list[dict[str, Any]]] = {}
        for f in files:
            by_name.setdefault(str(f["report_name"]), []).append(
                {"name": f["file_name"], "size": int(f["size"])}
            )
        for r in reports:
            r["files"] = by_name.get(r["name"], [])
    return reports


async def entry(db: Database, name: str) -> dict[str, Any] | None:
    """One archived report's row (with its files' names), or ``None``."""
    row = await db.fetch_one(
        "SELECT name, kind, first_day, last_day, created_at, owner, seconds, headline, mailed_at"
        " FROM report_archive WHERE name = ?",
        (name,),
    )
    if row is None:
        return None
    found = _entry(row)
    files = await db.fetch(
        "SELECT file_name, size FROM report_files WHERE report_name = ? ORDER BY file_name", (name,)
    )
    found["files"] = [{"name": f["file_name"], "size": int(f["size"])} for f in files]
    return found


async def exists(db: Database, name: str) -> bool:
    return await db.fetch_one("SELECT 1 AS one FROM report_archive WHERE name = ?", (name,)) is not None


async def file(db: Database, name: str, file_name: str) -> tuple[str, bytes] | None:
    """One file of an archived report: (content type, bytes), or ``None``."""
    row = await db.fetch_one(
        "SELECT content_type, data FROM report_files WHERE report_name = ? AND file_name = ?",
        (name, file_name),
    )
    return (str(row["content_type"]), bytes(row["data"])) if row else None


async def mark_mailed(db: Database, name: str, at: float) -> None:
    await db.execute(Statement("UPDATE report_archive SET mailed_at = ? WHERE name = ?", (at, name)))
