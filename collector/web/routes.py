"""HTTP handlers: the operator pages and the REST API (``/api/v1``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.store import Store
from collector.web import pages
from collector.web.access import Permission, allowed, requires
from collector.web.auth import USER, Auth, identify
from collector.web.fleet import GatewayFilters, filter_form, gateway_rows
from collector.web.login import check_password_and_start, end_session
from collector.web.ranges import DateRange, date_range

STORE: web.AppKey[Store] = web.AppKey("store", Store)
AUTH: web.AppKey[Auth] = web.AppKey("auth", Auth)
HEALTH: web.AppKey[Any] = web.AppKey("health", object)

routes = web.RouteTableDef()
#: Gateway windows drawn without a range (a day of 15-minute windows), and at most with one.
RECENT_WINDOWS, MOST_WINDOWS = 96, 10_000


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


def _safe_next(value: str) -> str:
    # only local paths, so the login form cannot bounce a user to another site: browsers read
    # "//host" and "/\\host" as another host, and drop tabs and newlines inside a URL
    local = value.startswith("/") and not value.startswith(("//", "/\\"))
    return value if local and value.isprintable() and "\\" not in value else "/"


@routes.get("/healthz")
@requires(Permission.PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    health = request.app[HEALTH]
    state: dict[str, Any] = health() if callable(health) else {"status": "ok"}
    status = 200 if state.get("status") == "ok" else 503
    who = await identify(request, request.app[AUTH])
    if who is None or not allowed(who[1], Permission.FLEET_READ):
        # anonymous callers (load balancers, anyone) learn ok/degraded and nothing else
        return web.json_response({"status": state.get("status", "degraded")}, status=status)
    return web.json_response(state, status=status)


@routes.get("/login")
@requires(Permission.PUBLIC)
async def login_form(request: web.Request) -> web.Response:
    return _html(pages.login_page(_safe_next(request.query.get("next", "/"))))


@routes.post("/login")
@requires(Permission.PUBLIC)
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    user, password = str(form.get("user", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    return await check_password_and_start(
        request, request.app[AUTH], request.app[STORE], user, password, target
    )


@routes.post("/logout")
@requires(Permission.PUBLIC)
async def logout(request: web.Request) -> web.Response:
    return await end_session(request, request.app[AUTH], request.app[STORE])


@routes.get("/")
@requires(Permission.FLEET_READ)
async def gateways_page(request: web.Request) -> web.Response:
    store = request.app[STORE]
    filters = GatewayFilters.of(request.query)  # offline, outdated agent, failing sampler, CPU, range
    rows = await gateway_rows(store, filters)
    return _html(pages.gateways_page(rows, await store.counts(), request[USER], filter_form(filters)))


async def gateway_with_history(
    request: web.Request, recent: int = RECENT_WINDOWS
) -> tuple[dict[str, Any], list[dict[str, Any]], DateRange | None]:
    """The gateway (404 if unknown), its windows in the range (``from``/``to``, up to
    ``MOST_WINDOWS``) or else its latest ``recent``, and the range."""
    store = request.app[STORE]
    gid = request.match_info["gateway_id"]
    span = date_range(request.query)
    gw = await store.gateway(gid)
    if gw is None:
        raise web.HTTPNotFound(text=f"no gateway {gid}")
    if span is None:
        return gw, await store.history(gid, recent), None
    return gw, await store.history(gid, MOST_WINDOWS, (span.start, span.end)), span


async def quarantine_rows(request: web.Request, default_limit: int, top: int) -> list[dict[str, Any]]:
    """The quarantine list: the newest ``limit`` received in the range (``from``/``to``), if any."""
    span = date_range(request.query)
    limit = _int(request, "limit", default_limit, top)
    return await request.app[STORE].quarantine(limit, (span.start, span.end) if span else None)


@routes.get("/gateways/{gateway_id}")
@requires(Permission.FLEET_READ)
async def gateway_page(request: web.Request) -> web.Response:
    """One gateway: its charts over the range (or the latest day), network and tables."""
    gw, history, span = await gateway_with_history(request)
    return _html(pages.gateway_page(gw, history, request[USER], span))


@routes.get("/quarantine")
@requires(Permission.QUARANTINE_READ)
async def quarantine_page(request: web.Request) -> web.Response:
    """Quarantined messages (received in the range, if one is picked), newest first."""
    span = date_range(request.query)
    items = await quarantine_rows(request, 200, 10_000)
    return _html(pages.quarantine_page(items, request[USER], span))


def _int(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name, str(default))
    # ASCII digits only: int() refuses "²" (str.isdigit() does not) and strings past 4300 digits
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19) or not 0 <= int(raw) <= top:
        raise web.HTTPBadRequest(text=f"{name} must be an integer from 0 to {top}")
    return int(raw)


@routes.get("/api/v1/gateways")
@requires(Permission.FLEET_READ)
async def api_gateways(request: web.Request) -> web.Response:
    store = request.app[STORE]
    limit = _int(request, "limit", 1000, 10000)
    offset = _int(request, "offset", 0, 10**9)
    return web.json_response(
        {"gateways": await store.list_gateways(limit, offset), "counts": await store.counts()}
    )


@routes.get("/api/v1/gateways/{gateway_id}")
@requires(Permission.FLEET_READ)
async def api_gateway(request: web.Request) -> web.Response:
    store = request.app[STORE]
    gid = request.match_info["gateway_id"]
    if await store.gateway(gid) is None:
        return web.json_response({"error": f"no gateway {gid}"}, status=404)
    # the latest ``history`` windows, or (with ``from``/``to``) the windows in that range
    gw, history, _ = await gateway_with_history(
        request, _int(request, "history", RECENT_WINDOWS, MOST_WINDOWS)
    )
    gw["history"] = history
    return web.json_response(gw)


@routes.get("/api/v1/quarantine")
@requires(Permission.QUARANTINE_READ)
async def api_quarantine(request: web.Request) -> web.Response:
    return web.json_response({"quarantine": await quarantine_rows(request, 100, 10_000)})
