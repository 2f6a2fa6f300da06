"""The unclassified-domains view: ``/dpi/unclassified`` (week picker, the assign form), its CSV
and JSON, and the operator's rules (``POST /dpi/rules``, ``POST /dpi/rules/delete``).

Permission ``dpi.table`` (admin, analyst): the names are aggregates of the fleet's traffic,
useful to whoever curates the DPI's categories, and of no use to marketing or installers.
Every list goes through :func:`collector.dpi.unclassified.listing`, which shows a domain only
when ``min_homes`` distinct homes sent it that week: no per-home row exists on any route.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any
from urllib.parse import quote

from aiohttp import web

from collector.dpi import rules, unclassified
from collector.reports.export import BOM, csv_row
from collector.web.access import Permission, requires
from collector.web.auth import STORE_KEY, USER
from collector.web.pages import layout
from protocol.categories import CATEGORIES

MIN_HOMES: web.AppKey[int] = web.AppKey("unclassified_min_homes", int)
routes = web.RouteTableDef()
COLUMNS = ("domain", "homes", "bytes", "category")


def setup_dpi(app: web.Application, min_homes: int) -> None:
    """Add the routes; ``min_homes`` is the deployment's minimum (``dpi_unclassified_min_homes``)."""
    if min_homes < 2:
        raise ValueError("the unclassified-domains view needs a minimum of at least 2 homes")
    app[MIN_HOMES] = min_homes
    app.add_routes(routes)


def _week(request: web.Request) -> int:
    raw = request.query.get("week")
    if not raw:
        return unclassified.iso_week(time.time())
    try:
        return unclassified.parse_week(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc


async def _rows(request: web.Request, week: int) -> list[dict[str, Any]]:
    return await unclassified.listing(request.app[STORE_KEY].db, week, request.app[MIN_HOMES])


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f}"


@routes.get("/dpi/unclassified")
@requires(Permission.DPI_TABLE)
async def unclassified_page(request: web.Request) -> web.Response:
    db = request.app[STORE_KEY].db
    week, min_homes = _week(request), request.app[MIN_HOMES]
    rows = await _rows(request, week)
    hidden = await unclassified.hidden(db, week, min_homes)
    known = sorted({week, unclassified.iso_week(time.time()), *await unclassified.weeks(db)}, reverse=True)
    label = unclassified.week_label(week)
    picker = "".join(
        f'<option value="{unclassified.week_label(w)}"{" selected" if w == week else ""}>'
        f"{unclassified.week_label(w)}</option>" for w in known
    )  # fmt: skip
    options = "".join(f"<option>{c}</option>" for c in CATEGORIES)
    back = f'<input type="hidden" name="week" value="{label}">'
    lines = []
    for r in rows:
        domain = escape(r["domain"])
        if r["category"]:
            action = (
                f'{escape(r["category"])} <form class="inline" method="post" action="/dpi/rules/delete">'
                f'<input type="hidden" name="domain" value="{domain}">{back}<button>Remove</button></form>'
            )
        else:
            action = (
                f'<form class="inline" method="post" action="/dpi/rules">'
                f'<input type="hidden" name="domain" value="{domain}">{back}'
                f'<select name="category">{options}</select><button>Assign</button></form>'
            )
        lines.append(
            f"<tr><td>{domain}</td><td>{r['homes']}</td><td>{_mb(r['bytes'])}</td><td>{action}</td></tr>"
        )
    rule_rows = "".join(
        f"<tr><td>{escape(x.domain)}</td><td>{escape(x.category)}</td><td>{escape(x.source)}</td>"
        f"<td>{escape(x.actor)}</td></tr>" for x in await rules.listing(db)
    )  # fmt: skip
    exports = f"/dpi/unclassified.csv?week={quote(label)}"
    body = (
        "<h2>Unclassified domains</h2>"
        f"<p>Registrable domains the gateways' DPI could not name in {label}, from agents that opted in "
        f"(<code>dpi_unclassified_domains</code>). A domain is listed only when at least {min_homes} homes sent it "
        f"that week; {hidden} other domain{'s' if hidden != 1 else ''} stayed under that minimum and "
        f"{'are' if hidden != 1 else 'is'} not shown. A category assigned here counts the domain's bytes under it "
        "in home profiles from the next report on.</p>"
        f'<form method="get" action="/dpi/unclassified"><label>Week <select name="week">{picker}</select></label>'
        f'<button>Show</button></form><p><a href="{exports}">CSV</a></p>'
        f'<table id="unclassified"><tr><th>domain</th><th>homes</th><th>MB</th><th>category</th></tr>'
        f"{''.join(lines)}</table>"
        '<h2>Operator rules</h2><form method="post" action="/dpi/rules">'
        f'<input name="domain" placeholder="example.org" required><select name="category">{options}</select>'
        f"{back}<button>Assign</button></form>"
        f'<table id="domain-rules"><tr><th>domain</th><th>category</th><th>source</th><th>by</th></tr>{rule_rows}</table>'
    )
    return web.Response(text=layout("Unclassified domains", body, request[USER]), content_type="text/html")


@routes.get("/dpi/unclassified.csv")
@requires(Permission.DPI_TABLE)
async def unclassified_csv(request: web.Request) -> web.Response:
    week = _week(request)
    rows = await _rows(request, week)
    text = BOM + csv_row(["Domain", "Homes", "Bytes", "Category"])
    text += "".join(csv_row([r[k] if r[k] is not None else "" for k in COLUMNS]) for r in rows)
    name = f"homescope-unclassified-{unclassified.week_label(week)}.csv"
    return web.Response(
        text=text, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


@routes.get("/dpi/unclassified.json")
@requires(Permission.DPI_TABLE)
async def unclassified_json(request: web.Request) -> web.Response:
    week = _week(request)
    return web.json_response({"week": unclassified.week_label(week), "min_homes": request.app[MIN_HOMES],
                              "domains": await _rows(request, week)})  # fmt: skip


def _back(form: Any) -> web.HTTPSeeOther:
    week = str(form.get("week", ""))
    try:
        unclassified.parse_week(week)
    except ValueError:
        return web.HTTPSeeOther("/dpi/unclassified")
    return web.HTTPSeeOther(f"/dpi/unclassified?week={quote(week)}")


@routes.post("/dpi/rules")
@requires(Permission.DPI_TABLE)
async def assign_rule(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        await rules.assign(request.app[STORE_KEY].db, str(form.get("domain", "")), str(form.get("category", "")),
                           actor=request[USER])  # fmt: skip
    except rules.RuleError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    raise _back(form)


@routes.post("/dpi/rules/delete")
@requires(Permission.DPI_TABLE)
async def delete_rule(request: web.Request) -> web.Response:
    form = await request.post()
    if not await rules.remove(request.app[STORE_KEY].db, str(form.get("domain", ""))):
        raise web.HTTPNotFound(text="no rule for that domain")
    raise _back(form)
