"""HTTP handlers: the operator pages and the REST API (``/api/v1``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.store import Store
from collector.web import pages
from collector.web.access import Permission, requires
from collector.web.auth import COOKIE, SESSION_S, USER, Auth

STORE: web.AppKey[Store] = web.AppKey("store", Store)
AUTH: web.AppKey[Auth] = web.AppKey("auth", Auth)
HEALTH: web.AppKey[Any] = web.AppKey("health", object)

routes = web.RouteTableDef()


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


def _safe_next(value: str) -> str:
    # only local paths, so the login form cannot bounce a user to another site
    return value if value.startswith("/") and not value.startswith("//") else "/"


@routes.get("/healthz")
@requires(Permission.PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    health = request.app[HEALTH]
    state: dict[str, Any] = health() if callable(health) else {"status": "ok"}
    return web.json_response(state, status=200 if state.get("status") == "ok" else 503)


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
    auth = request.app[AUTH]
    if not auth.check_password(user, password):
        return web.Response(
            text=pages.login_page(target, "Wrong user or password."), content_type="text/html", status=401
        )
    response = web.HTTPFound(target)
    response.set_cookie(
        COOKIE, auth.session_cookie(user), max_age=SESSION_S, httponly=True, samesite="Strict"
    )
    raise response


@routes.post("/logout")
@requires(Permission.PUBLIC)
async def logout(request: web.Request) -> web.Response:
    response = web.HTTPFound("/login")
    response.del_cookie(COOKIE)
    raise response


@routes.get("/")
@requires(Permission.FLEET_READ)
async def gateways_page(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return _html(pages.gateways_page(await store.list_gateways(), await store.counts(), request[USER]))


@routes.get("/gateways/{gateway_id}")
@requires(Permission.FLEET_READ)
async def gateway_page(request: web.Request) -> web.Response:
    store = request.app[STORE]
    gid = request.match_info["gateway_id"]
    gw = await store.gateway(gid)
    if gw is None:
        raise web.HTTPNotFound(text=f"no gateway {gid}")
    return _html(pages.gateway_page(gw, await store.history(gid), request[USER]))


@routes.get("/quarantine")
@requires(Permission.QUARANTINE_READ)
async def quarantine_page(request: web.Request) -> web.Response:
    return _html(pages.quarantine_page(await request.app[STORE].quarantine(200), request[USER]))


def _int(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not 0 <= int(raw) <= top:
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
    gw = await store.gateway(gid)
    if gw is None:
        return web.json_response({"error": f"no gateway {gid}"}, status=404)
    gw["history"] = await store.history(gid, _int(request, "history", 96, 10000))
    return web.json_response(gw)


@routes.get("/api/v1/quarantine")
@requires(Permission.QUARANTINE_READ)
async def api_quarantine(request: web.Request) -> web.Response:
    return web.json_response(
        {"quarantine": await request.app[STORE].quarantine(_int(request, "limit", 100, 10000))}
    )
