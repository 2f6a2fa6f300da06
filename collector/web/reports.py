"""The report archive over HTTP: ``/reports`` (page), its files, ``/api/v1/reports``; and the
collector's report schedule (``collector/reports/schedule.py``), started with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from aiohttp import web

from collector.reports import archive
from collector.reports.document import PRINT
from collector.reports.lease import StoreLeases
from collector.reports.schedule import run_schedule
from collector.reports.settings import ReportSettings
from collector.web.access import Permission, requires
from collector.web.auth import USER
from collector.web.homes import CONFIG
from collector.web.pages import FILTER_STYLE, STYLE, downloads, layout
from collector.web.ranges import DateRange, date_range, range_form
from collector.web.routes import STORE

SETTINGS: web.AppKey[ReportSettings] = web.AppKey("report_settings", ReportSettings)
routes = web.RouteTableDef()
#: Report names are the periods' (``week-2026-W48``); file names are the report's own.
NAME = re.compile(r"^(week|month|range)-[0-9A-Za-z-]{4,40}$")
FILE = re.compile(r"^[a-z_]{1,40}\.(html|pdf|csv)$")
INLINE_STYLE = re.compile(rb"<style>.*?</style>", re.S)
REPORT_CSS = STYLE + PRINT


def _int(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name, str(default))
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19) or not 0 <= int(raw) <= top:
        raise web.HTTPBadRequest(text=f"{name} must be an integer from 0 to {top}")
    return int(raw)


def _unknown(request: web.Request, known: set[str]) -> None:
    extra = sorted(set(request.query) - known)
    if extra:
        raise web.HTTPBadRequest(text=f"unknown parameter {extra[0]!r}; known: {', '.join(sorted(known))}")


async def listing(request: web.Request, span: DateRange | None) -> list[dict[str, Any]]:
    found = await archive.listing(request.app[STORE].db, _int(request, "limit", 100, 1000),
                                  _int(request, "offset", 0, 10**9))  # fmt: skip
    if span is None:
        return found
    # a report belongs to a range when its period overlaps it
    return [
        r
        for r in found
        if r["first_day"] <= span.last.isoformat() and r["last_day"] >= span.first.isoformat()
    ]


@routes.get("/api/v1/reports")
@requires(Permission.REPORTS_READ)
async def api_reports(request: web.Request) -> web.Response:
    """Archived reports, latest period first (``from``/``to``: periods overlapping those days)."""
    _unknown(request, {"limit", "offset", "from", "to", "range"})
    return web.json_response({"reports": await listing(request, date_range(request.query))})


@routes.get("/api/v1/reports/{name}")
@requires(Permission.REPORTS_READ)
async def api_report(request: web.Request) -> web.Response:
    """One archived report: period, headline figures, files."""
    name = request.match_info["name"]
    found = await archive.entry(request.app[STORE].db, name) if NAME.match(name) else None
    if found is None:
        return web.json_response({"error": f"no report {name}"}, status=404)
    return web.json_response(found)


@routes.get("/reports/{name}/{file}")
@requires(Permission.REPORTS_READ)
async def report_file(request: web.Request) -> web.Response:
    """A file of an archived report: its HTML, PDF or one table's CSV."""
    name, file_name = request.match_info["name"], request.match_info["file"]
    found = None
    if NAME.match(name) and FILE.match(file_name):
        found = await archive.file(request.app[STORE].db, name, file_name)
    if found is None:
        raise web.HTTPNotFound(text=f"no file {file_name} in report {name}")
    kind, data = found
    if file_name.endswith(".html"):
        # the CSP allows no inline style: the page links the same CSS it holds inline (for files, PDF)
        data = INLINE_STYLE.sub(b'<link rel="stylesheet" href="/static/report.css">', data, count=1)
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if not file_name.endswith(".html"):
        headers["Content-Disposition"] = f'attachment; filename="{name}-{file_name}"'
    return web.Response(body=data, headers={**headers, "Content-Type": kind})


@routes.get("/static/report.css")
@requires(Permission.PUBLIC)
async def report_css(request: web.Request) -> web.Response:
    """The archived reports' CSS (what each report file holds inline)."""
    return web.Response(text=REPORT_CSS, content_type="text/css")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "–"


def archive_page(reports: list[dict[str, Any]], span: DateRange | None, user: str) -> str:
    """The archive: one row per report with its headline and links to every file."""

    def href(r: dict[str, Any], f: str) -> str:
        return escape(f"/reports/{quote(str(r['name']))}/{quote(f)}")

    def num(v: Any, fmt: str) -> str:
        return "–" if v is None else escape(format(v, fmt))

    rows = "".join(
        f'<tr><td><a href="{href(r, "report.html")}">{escape(str(r["name"]))}</a></td>'
        f"<td>{escape(str(r['first_day']))} – {escape(str(r['last_day']))}</td><td>{_when(r['created_at'])}</td>"
        f'<td class="num">{num(r["headline"].get("gateways"), "d")}</td>'
        f'<td class="num">{num(r["headline"].get("availability_pct"), ".1f")}</td>'
        f'<td class="num">{num(r["headline"].get("wifi_score"), ".1f")}</td>'
        f"<td>{_when(r.get('mailed_at')) if r.get('mailed_at') else '–'}</td><td>"
        + " ".join(
            f'<a href="{href(r, f["name"])}">{escape(f["name"].rsplit(".", 1)[0] if f["name"].endswith(".csv") else f["name"])}</a>'
            for f in r.get("files", [])
        )
        + "</td></tr>"
        for r in reports
    )
    table = (
        '<table id="reports"><thead><tr><th>Report</th><th>Days</th><th>Made</th><th class="num">Gateways</th>'
        '<th class="num">Availability %</th><th class="num">Wi-Fi score</th><th>Mailed</th><th>Files (HTML, PDF, CSV per table)</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    empty = (
        ""
        if reports
        else '<p class="muted">No report yet: the collector makes the weekly and monthly reports once their period is over.</p>'
    )
    body = (
        "<h2>Reports</h2><p>Weekly and monthly operator reports, made by the collector (one collector each);"
        " on demand: <code>homescope-collector report --from DAY --to DAY --out DIR --archive</code>.</p>"
        f"{range_form('/reports', span)}{downloads('/reports', span.query() if span else None)}{empty}{table}"
    )
    return layout("Reports", body, user, FILTER_STYLE)


@routes.get("/reports")
@requires(Permission.REPORTS_READ)
async def reports_page(request: web.Request) -> web.Response:
    """The report archive page."""
    _unknown(request, {"limit", "offset", "from", "to", "range"})
    span = date_range(request.query)
    page = archive_page(await listing(request, span), span, request[USER])
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    task = None
    if settings.every_s > 0:
        store = app[STORE]
        task = asyncio.create_task(
            run_schedule(store, app[CONFIG], settings, StoreLeases(store.db)), name="report-schedule"
        )
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup_reports(app: web.Application, settings: ReportSettings | None = None) -> None:
    """Add the archive routes and the report schedule (``HOMESCOPE_REPORTS_*``) to ``app``."""
    app[SETTINGS] = settings or ReportSettings()
    app.add_routes(routes)
    app.cleanup_ctx.append(_scheduler)
