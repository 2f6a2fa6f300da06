"""Every route declares a permission, and each role reaches exactly the routes its permissions open.

Walks the real application's route table (every page and API route, whoever adds it)
as every role, over HTTP on loopback.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.store import Store, open_store
from collector.web.access import ROLES, Permission, allowed, declared, requires
from collector.web.auth import Auth

PASSWORD = "a-long-test-password"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/access.db")
    await s.open()
    yield s
    await s.close()


P = Permission
#: What each route needs, written down here on purpose: changing who may reach a route is
#: a reviewed change to this table, not a side effect. New routes must be added.
EXPECTED: dict[tuple[str, str], Permission] = {
    ("GET", "/healthz"): P.PUBLIC,
    ("GET", "/login"): P.PUBLIC,
    ("POST", "/login"): P.PUBLIC,
    ("POST", "/logout"): P.PUBLIC,
    ("GET", "/"): P.FLEET_READ,
    ("GET", "/gateways/{gateway_id}"): P.FLEET_READ,
    ("GET", "/quarantine"): P.QUARANTINE_READ,
    ("GET", "/api/v1/gateways"): P.FLEET_READ,
    ("GET", "/api/v1/gateways/{gateway_id}"): P.FLEET_READ,
    ("GET", "/api/v1/quarantine"): P.QUARANTINE_READ,
    ("GET", "/api/v1/homes"): P.HOMES_READ,
    ("GET", "/api/v1/homes/{gateway_id}"): P.HOMES_READ,
    ("GET", "/api/v1/areas"): P.FLEET_READ,
    ("GET", "/api/v1/rules"): P.HOMES_READ,
    ("GET", "/homes"): P.HOMES_READ,
    ("GET", "/homes/{gateway_id}"): P.HOMES_READ,
    ("GET", "/areas"): P.FLEET_READ,
    ("GET", "/api/v1/openapi.json"): P.FLEET_READ,
    ("GET", "/api/v1/segments"): P.MARKETING_READ,
    ("POST", "/api/v1/segments"): P.MARKETING_WRITE,
    ("POST", "/api/v1/segments/preview"): P.MARKETING_READ,
    ("GET", "/api/v1/audiences"): P.MARKETING_READ,
    ("POST", "/api/v1/audiences"): P.MARKETING_WRITE,
    ("GET", "/api/v1/audiences/{id}"): P.MARKETING_READ,
    ("GET", "/api/v1/audiences/{id}/export.csv"): P.MARKETING_READ,
    ("POST", "/api/v1/audiences/{id}/push"): P.MARKETING_WRITE,
    ("GET", "/api/v1/subscribers/{subscriber_id}/offers"): P.MARKETING_READ,
    ("GET", "/api/v1/winback"): P.MARKETING_READ,
    ("GET", "/api/v1/campaigns"): P.MARKETING_READ,
    ("POST", "/api/v1/campaigns"): P.MARKETING_WRITE,
    ("GET", "/api/v1/campaigns/{id}"): P.MARKETING_READ,
    ("POST", "/api/v1/campaigns/{id}/launch"): P.MARKETING_WRITE,
    ("POST", "/api/v1/campaigns/{id}/pause"): P.MARKETING_WRITE,
    ("POST", "/api/v1/campaigns/{id}/resume"): P.MARKETING_WRITE,
    ("GET", "/api/v1/campaigns/{id}/results"): P.MARKETING_READ,
    ("GET", "/marketing"): P.MARKETING_READ,
    ("POST", "/marketing/campaigns"): P.MARKETING_WRITE,
    ("GET", "/marketing/campaigns/{id}"): P.MARKETING_READ,
    ("POST", "/marketing/campaigns/{id}/launch"): P.MARKETING_WRITE,
    ("POST", "/marketing/campaigns/{id}/pause"): P.MARKETING_WRITE,
    ("POST", "/marketing/campaigns/{id}/resume"): P.MARKETING_WRITE,
    ("GET", "/marketing/audiences/{id}"): P.MARKETING_READ,
    ("GET", "/marketing/subscribers/{subscriber_id}"): P.MARKETING_READ,
    ("GET", "/marketing/winback"): P.MARKETING_READ,
    ("GET", "/reports"): P.REPORTS_READ,
    ("GET", "/reports/{name}/{file}"): P.REPORTS_READ,
    ("GET", "/api/v1/reports"): P.REPORTS_READ,
    ("GET", "/api/v1/reports/{name}"): P.REPORTS_READ,
    ("GET", "/homes.csv"): P.HOMES_READ,
    ("GET", "/homes.json"): P.HOMES_READ,
    ("GET", "/gateways.csv"): P.FLEET_READ,
    ("GET", "/gateways.json"): P.FLEET_READ,
    ("GET", "/areas.csv"): P.FLEET_READ,
    ("GET", "/areas.json"): P.FLEET_READ,
    ("GET", "/areas/{name}"): P.FLEET_READ,
    ("GET", "/quarantine.csv"): P.QUARANTINE_READ,
    ("GET", "/quarantine.json"): P.QUARANTINE_READ,
    ("GET", "/reports.csv"): P.REPORTS_READ,
    ("GET", "/reports.json"): P.REPORTS_READ,
    ("GET", "/security/events.csv"): P.SECURITY_READ,
    ("GET", "/security/events.json"): P.SECURITY_READ,
    ("GET", "/gateways/{gateway_id}/history.csv"): P.FLEET_READ,
    ("GET", "/gateways/{gateway_id}/history.json"): P.FLEET_READ,
    ("GET", "/gateways/{gateway_id}/interfaces.csv"): P.FLEET_READ,
    ("GET", "/gateways/{gateway_id}/interfaces.json"): P.FLEET_READ,
    ("GET", "/gateways/{gateway_id}/samplers.csv"): P.FLEET_READ,
    ("GET", "/gateways/{gateway_id}/samplers.json"): P.FLEET_READ,
    ("GET", "/homes/{gateway_id}/terminals.csv"): P.HOMES_READ,
    ("GET", "/homes/{gateway_id}/terminals.json"): P.HOMES_READ,
    ("GET", "/homes/{gateway_id}/history.csv"): P.HOMES_READ,
    ("GET", "/homes/{gateway_id}/history.json"): P.HOMES_READ,
    ("GET", "/homes/{gateway_id}/days.csv"): P.HOMES_READ,
    ("GET", "/homes/{gateway_id}/days.json"): P.HOMES_READ,
    ("GET", "/security/events"): P.SECURITY_READ,
    ("GET", "/api/v1/security/events"): P.SECURITY_READ,
    ("GET", "/admin"): P.ADMIN,
    ("POST", "/admin/tokens"): P.ADMIN,
    ("POST", "/admin/tokens/{token_id}/revoke"): P.ADMIN,
    ("POST", "/admin/sessions/{id_hash}/revoke"): P.ADMIN,
    ("POST", "/admin/unlock"): P.ADMIN,
    ("GET", "/dpi/unclassified"): P.DPI_TABLE,
    ("GET", "/dpi/unclassified.csv"): P.DPI_TABLE,
    ("GET", "/dpi/unclassified.json"): P.DPI_TABLE,
    ("POST", "/dpi/rules"): P.DPI_TABLE,
    ("POST", "/dpi/rules/delete"): P.DPI_TABLE,
    ("GET", "/installer"): P.INSTALL,
    ("GET", "/installer/homes/{gateway_id}"): P.INSTALL,
    ("POST", "/installer/homes/{gateway_id}/install"): P.INSTALL,
    ("GET", "/api/v1/installer/search"): P.INSTALL,
    ("GET", "/api/v1/installer/homes/{gateway_id}"): P.INSTALL,
    ("POST", "/api/v1/installer/homes/{gateway_id}/measure"): P.INSTALL,
    ("GET", "/api/v1/installer/commands/{command_id}"): P.INSTALL,
}


def _app(store: Store) -> web.Application:
    users = ",".join(f"{role}-user:{PASSWORD}" for role in ROLES)
    roles = ",".join(f"{role}-user:{role}" for role in ROLES)
    return create_app(store, Auth.from_settings(users, "", "secret", roles))


def _routes(app: web.Application) -> list[tuple[str, str, Permission | None]]:
    """(method, path template, declared permission) of every route but static files."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("path") or info.get("formatter") or info.get("prefix", ""))
        if route.method == "HEAD" or path.startswith("/static"):
            continue
        found.append((route.method, path, declared(route.handler)))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "gw-none", path)


async def test_every_route_declares_the_reviewed_permission(store: Store) -> None:
    found = {(m, p): perm for m, p, perm in _routes(_app(store))}
    undeclared = [key for key, perm in found.items() if perm is None]
    assert not undeclared, f"routes without @requires: {undeclared}"
    unreviewed = sorted(set(found) - set(EXPECTED))
    assert not unreviewed, f"add these routes and their permission to EXPECTED: {unreviewed}"
    changed = {key: (perm, EXPECTED[key]) for key, perm in found.items() if EXPECTED[key] is not perm}
    assert not changed, f"declared vs reviewed: {changed}"


@pytest.mark.parametrize("role", sorted(ROLES))
async def test_each_role_reaches_exactly_its_routes(aiohttp_client: Any, store: Store, role: str) -> None:
    app = _app(store)
    client: TestClient = await aiohttp_client(app)
    login = await client.post(
        "/login", data={"user": f"{role}-user", "password": PASSWORD, "next": "/"}, allow_redirects=False
    )
    assert login.status == 302
    wrong = []
    for method, path, permission in _routes(app):
        if permission is Permission.PUBLIC or path in ("/login", "/logout"):
            continue
        assert permission is not None
        # state-changing requests come from our own pages (the Origin check refuses others)
        origin = {"Origin": str(client.make_url("")).rstrip("/")}
        response = await client.request(method, _concrete(path), allow_redirects=False, headers=origin)
        refused = response.status == 403
        if refused == allowed(role, permission):
            wrong.append((method, path, permission.value, response.status))
    assert not wrong, f"{role}: {wrong}"


async def test_a_route_without_a_declaration_stays_closed(aiohttp_client: Any, store: Store) -> None:
    app = _app(store)

    async def forgotten(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    async def open_one(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app.router.add_get("/forgotten", forgotten)
    app.router.add_get("/open-one", requires(Permission.PUBLIC)(open_one))
    client: TestClient = await aiohttp_client(app)
    assert (await client.get("/forgotten")).status == 500
    assert (await (await client.get("/open-one")).text()) == "hello"


def test_contact_fields_are_for_admin_and_marketing_only() -> None:
    assert {r for r in ROLES if allowed(r, Permission.CONTACTS_READ)} == {"admin", "marketing"}
    assert not allowed("nobody", Permission.FLEET_READ) and allowed("nobody", Permission.PUBLIC)


def test_roles_must_be_known() -> None:
    with pytest.raises(ValueError, match="roles"):
        Auth.from_settings("a:b", "", "s", "a:superuser")
