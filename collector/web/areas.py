"""``/areas/{name}``: one area's (or community's) trends over a date range (default: 30 days)."""

from __future__ import annotations

from aiohttp import web

from collector.web.access import Permission, requires
from collector.web.auth import USER
from collector.web.fleet import area_page_body, area_trends, default_span
from collector.web.homes import CONFIG
from collector.web.pages import FILTER_STYLE, layout
from collector.web.ranges import date_range
from collector.web.routes import STORE

routes = web.RouteTableDef()


@routes.get("/areas/{name}")
@requires(Permission.FLEET_READ)
async def area_page(request: web.Request) -> web.Response:
    """Gateways reporting, WAN traffic, CPU and weak Wi-Fi per day; hidden under the minimum group."""
    unknown = sorted(set(request.query) - {"from", "to", "range"})
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown parameter {unknown[0]!r}; known: from, range, to")
    name = request.match_info["name"]
    span = date_range(request.query) or default_span()
    days = await area_trends(request.app[STORE].db, name, span)
    body = area_page_body(name, days, span, request.app[CONFIG].min_group)
    page = layout(f"Area {name}", body, request[USER], FILTER_STYLE)
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})
