"""The auditor's security log and the admin's page: users, sessions, API tokens, lockouts.

``/security/events`` and ``/api/v1/security/events`` (``security.read``: auditor, admin);
``/admin`` and its forms (``admin``): create a token (shown once), revoke a token or a
session, lift a sign-in lockout. Forms are POSTs that the Origin check guards.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

from aiohttp import web

from collector.security import accounts, events, sessions, throttle, tokens
from collector.security.errors import SecurityError
from collector.web.access import ROLES, Permission, requires
from collector.web.auth import AUTH_KEY, STORE_KEY, USER
from collector.web.pages import downloads, layout

routes = web.RouteTableDef()


def _page(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else "–"


async def recent_events(request: web.Request) -> list[dict[str, Any]]:
    raw = request.query.get("limit", "100")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19) or not 1 <= int(raw) <= 10_000:
        raise web.HTTPBadRequest(text="limit must be an integer from 1 to 10000")
    kind = request.query.get("event") or None
    if kind is not None and kind not in events.KINDS:
        raise web.HTTPBadRequest(text=f"event must be one of {', '.join(events.KINDS)}")
    return await events.recent(request.app[STORE_KEY].db, int(raw), kind)


@routes.get("/api/v1/security/events")
@requires(Permission.SECURITY_READ)
async def api_events(request: web.Request) -> web.Response:
    return web.json_response({"events": await recent_events(request)})


@routes.get("/security/events")
@requires(Permission.SECURITY_READ)
async def events_page(request: web.Request) -> web.Response:
    rows = "".join(
        f"<tr><td>{_when(e['at'])}</td><td>{escape(e['event'])}</td><td>{escape(e['username'])}</td>"
        f"<td>{escape(e['source'])}</td><td>{escape(e['detail'])}</td></tr>"
        for e in await recent_events(request)
    )
    carried = {k: v for k, v in request.query.items() if k in ("limit", "event")}
    body = (
        f"<h2>Security events</h2>{downloads('/security/events', carried)}"
        '<table id="security-events"><tr><th>UTC</th><th>event</th><th>user</th>'
        f"<th>source</th><th>detail</th></tr>{rows}</table>"
    )
    return _page(layout("Security events", body, request[USER]))


def _form(action: str, label: str, fields: str = "") -> str:
    return f'<form class="inline" method="post" action="{escape(action)}">{fields}<button>{escape(label)}</button></form>'


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


@routes.get("/admin")
@requires(Permission.ADMIN)
async def admin_page(request: web.Request) -> web.Response:
    return await _admin(request)


async def _admin(request: web.Request, shown: str = "") -> web.Response:
    db = request.app[STORE_KEY].db
    users = "".join(
        f"<tr><td>{escape(a.username)}</td><td>{escape(a.role)}</td><td>{'disabled' if a.disabled else 'active'}</td>"
        f"<td>{_when(a.password_set_at)}</td></tr>"
        for a in await accounts.users(db)
    )
    live = "".join(
        f"<tr><td>{escape(s['username'])}</td><td>{_when(s['created_at'])}</td><td>{_when(s['last_seen'])}</td>"
        f"<td>{escape(s['source'])}</td><td>{_form('/admin/sessions/' + s['id_hash'] + '/revoke', 'End')}</td></tr>"
        for s in await sessions.live(db, request.app[AUTH_KEY].policy)
    )
    toks = "".join(
        f"<tr><td>{escape(t['token_id'])}</td><td>{escape(t['name'])}</td><td>{escape(t['role'])}</td>"
        f"<td>{_when(t['expires_at'])}</td><td>{'revoked' if t['revoked_at'] else _when(t['last_used'])}</td>"
        f"<td>{'' if t['revoked_at'] else _form('/admin/tokens/' + t['token_id'] + '/revoke', 'Revoke')}</td></tr>"
        for t in await tokens.listing(db)
    )
    blocked = "".join(
        f"<tr><td>{escape(str(k['key']))}</td><td>{k['failures']}</td><td>{_when(float(str(k['blocked_until'])))}</td>"
        f"<td>{_form('/admin/unlock', 'Lift', _hidden('key', str(k['key'])))}</td></tr>"
        for k in await throttle.locked_keys(db)
    )
    options = "".join(f"<option>{r}</option>" for r in sorted(ROLES))
    new = (
        f'<p class="ok" id="new-token">New token (shown once): <code>{escape(shown)}</code></p>'
        if shown
        else ""
    )
    body = (
        f"<h2>Users</h2><table><tr><th>user</th><th>role</th><th>state</th><th>password set</th></tr>{users}</table>"
        f"<h2>Live sessions</h2><table><tr><th>user</th><th>since</th><th>last seen</th><th>from</th><th></th></tr>"
        f"{live}</table><h2>API tokens</h2>{new}<table><tr><th>id</th><th>name</th><th>role</th><th>expires</th>"
        f"<th>last used</th><th></th></tr>{toks}</table>"
        '<form method="post" action="/admin/tokens"><input name="name" placeholder="what it is for" required>'
        f'<select name="role">{options}</select><input name="days" value="90" size="4"> days'
        "<button>Create token</button></form>"
        f"<h2>Sign-in delays and lockouts</h2><table><tr><th>key</th><th>failures</th><th>until</th><th></th></tr>"
        f"{blocked}</table>"
    )
    return _page(layout("Admin", body, request[USER]))


@routes.post("/admin/tokens")
@requires(Permission.ADMIN)
async def create_token(request: web.Request) -> web.Response:
    form = await request.post()
    days = str(form.get("days", "90"))
    try:
        full, _ = await tokens.create(
            request.app[STORE_KEY].db,
            str(form.get("name", "")),
            str(form.get("role", "")),
            float(days) if days.replace(".", "", 1).isdigit() else -1.0,
            actor=request[USER],
        )
    except SecurityError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return await _admin(request, shown=full)


@routes.post("/admin/tokens/{token_id}/revoke")
@requires(Permission.ADMIN)
async def revoke_token(request: web.Request) -> web.Response:
    try:
        await tokens.revoke(request.app[STORE_KEY].db, request.match_info["token_id"], actor=request[USER])
    except SecurityError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    raise web.HTTPSeeOther("/admin")


@routes.post("/admin/sessions/{id_hash}/revoke")
@requires(Permission.ADMIN)
async def revoke_session(request: web.Request) -> web.Response:
    if not await sessions.revoke(request.app[STORE_KEY].db, request.match_info["id_hash"], request[USER]):
        raise web.HTTPNotFound(text="no live session with that id")
    raise web.HTTPSeeOther("/admin")


@routes.post("/admin/unlock")
@requires(Permission.ADMIN)
async def unlock(request: web.Request) -> web.Response:
    key = str((await request.post()).get("key", ""))
    kind, _, name = key.partition(":")
    if kind not in ("user", "addr") or not name:
        raise web.HTTPBadRequest(text="key must be user:<name> or addr:<address>")
    db = request.app[STORE_KEY].db
    if kind == "user":
        await throttle.unlock(db, username=name, actor=request[USER])
    else:
        await throttle.unlock(db, address=name, actor=request[USER])
    raise web.HTTPSeeOther("/admin")
