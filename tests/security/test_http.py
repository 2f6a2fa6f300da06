"""Authentication, sessions, CSRF, roles, tokens, headers and errors against a running collector over HTTP."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import aiohttp
import pytest

from collector.cli import main as collector_cli
from collector.security import events, tokens
from collector.security.throttle import ACCOUNT
from collector.store.sql import Statement
from collector.web.access import ROLES, Permission, allowed, declared
from tests.security.conftest import PASSWORD, Running

pytestmark = pytest.mark.timeout(120)


async def _guess(base: str, user: str, password: str) -> int:
    async with aiohttp.ClientSession(headers={"Origin": base}) as client:
        response = await client.post(
            f"{base}/login", data={"user": user, "password": password, "next": "/"}, allow_redirects=False
        )
        return response.status


async def test_password_guessing_is_throttled_then_locked_and_an_admin_lifts_it(
    running: Running, figures: Callable[..., None]
) -> None:
    base = running.base
    seconds = 15.0
    start, checked, refused = time.monotonic(), 0, 0
    while time.monotonic() - start < seconds:
        status = await _guess(base, "analyst-user", f"wrong-guess-{checked}-{refused}")
        checked += status == 401
        refused += status == 429
        assert status in (401, 429), status
        await asyncio.sleep(0.02)
    # the rule the figures follow: 3 free, then 1, 2, 4, 8 ... s, locked at 10 failures for an hour
    per_minute = checked * 60 / seconds
    figures(
        seconds=seconds,
        attempts=checked + refused,
        passwords_checked=checked,
        guesses_per_minute_first_minute=round(per_minute, 1),
        guesses_per_hour_after_lockout=ACCOUNT.lock_after,
    )
    assert checked <= 8 and refused > 0
    # the right password is refused too while the account is delayed: guessing learns nothing
    assert await _guess(base, "analyst-user", PASSWORD) == 429
    kinds = [e["event"] for e in await events.recent(running.db, 200)]
    assert kinds.count("login.failure") == checked and "login.throttled" in kinds
    assert not any(
        PASSWORD in str(e) or "wrong-guess" in str(e) for e in await events.recent(running.db, 200)
    )
    # an admin lifts the delay (account and address) from the CLI
    argv = ["user", "unlock", "analyst-user", "--address", "127.0.0.1", "--db", running.service.settings.db]
    assert await asyncio.to_thread(collector_cli, argv) == 0
    assert await _guess(base, "analyst-user", PASSWORD) == 302


async def test_sessions_end_at_logout_on_idle_and_when_an_admin_revokes_them(running: Running) -> None:
    base = running.base
    client = await running.session("analyst-user")
    try:
        assert (await client.get(f"{base}/homes", allow_redirects=False)).status == 200
        stolen = {c.key: c.value for c in client.cookie_jar}
        await client.post(f"{base}/logout", allow_redirects=False)
        # the cookie copied before logout opens nothing afterwards: the session ended on the server
        async with aiohttp.ClientSession(cookies=stolen, cookie_jar=aiohttp.CookieJar(unsafe=True)) as thief:
            assert (await thief.get(f"{base}/homes", allow_redirects=False)).status == 302
    finally:
        await client.close()

    idle = await running.session("analyst-user")
    try:
        # 31 minutes without a request (the server compares its own record of the last one)
        await running.db.execute(
            Statement(
                "UPDATE sessions SET last_seen = last_seen - 31 * 60 "
                "WHERE username = 'analyst-user' AND revoked_at IS NULL"
            )
        )
        assert (await idle.get(f"{base}/homes", allow_redirects=False)).status == 302
    finally:
        await idle.close()

    victim = await running.session("marketing-user")
    admin = await running.session("admin-user")
    try:
        page = await (await admin.get(f"{base}/admin")).text()
        ids = re.findall(r"/admin/sessions/([0-9a-f]{64})/revoke", page)
        assert len(ids) == 2  # the victim's and the admin's own
        for found in ids:
            row = await running.db.fetch_one("SELECT username FROM sessions WHERE id_hash = ?", (found,))
            if row and row["username"] == "marketing-user":
                assert (
                    await admin.post(f"{base}/admin/sessions/{found}/revoke", allow_redirects=False)
                ).status == 303
        assert (await victim.get(f"{base}/homes", allow_redirects=False)).status == 302
    finally:
        await victim.close()
        await admin.close()


async def test_cross_site_posts_are_refused_login_included(running: Running) -> None:
    base = running.base
    evil = {"Origin": "http://evil.example"}
    async with aiohttp.ClientSession() as client:
        login = await client.post(
            f"{base}/login",
            data={"user": "admin-user", "password": PASSWORD},
            headers=evil,
            allow_redirects=False,
        )
        assert (
            login.status == 403
        )  # login CSRF: the attacker's account is not planted in the victim's browser
        referer = await client.post(
            f"{base}/login",
            data={"user": "admin-user", "password": PASSWORD},
            headers={"Referer": "http://evil.example/page"},
            allow_redirects=False,
        )
        assert referer.status == 403
    admin = await running.session("admin-user")
    try:
        before = len(await tokens.listing(running.db))
        forged = await admin.post(
            f"{base}/admin/tokens",
            data={"name": "x", "role": "admin", "days": "1"},
            headers=evil,
            allow_redirects=False,
        )
        assert forged.status == 403 and len(await tokens.listing(running.db)) == before
        same = await admin.post(f"{base}/admin/tokens", data={"name": "ok", "role": "analyst", "days": "1"})
        assert same.status == 200 and len(await tokens.listing(running.db)) == before + 1
        assert (
            await admin.post(f"{base}/logout", headers={"Origin": "null"}, allow_redirects=False)
        ).status == 403
    finally:
        await admin.close()
    assert "csrf.refused" in [e["event"] for e in await events.recent(running.db, 50)]


@pytest.mark.parametrize("role", sorted(ROLES))
async def test_each_role_reaches_exactly_its_routes(running: Running, role: str) -> None:
    base = running.base
    app = running.service._runner.app if running.service._runner else None
    assert app is not None
    client = await running.session(f"{role}-user")
    wrong = []
    try:
        for route in app.router.routes():
            info = route.resource.get_info() if route.resource is not None else {}
            path = str(info.get("path") or info.get("formatter") or "")
            permission = declared(route.handler)
            if route.method == "HEAD" or path.startswith("/static") or path in ("/login", "/logout", ""):
                continue
            assert permission is not None, path
            if permission is Permission.PUBLIC:
                continue
            url = base + re.sub(r"\{[^}]+\}", "gw-none", path)
            response = await client.request(route.method, url, allow_redirects=False)
            if (response.status == 403) == allowed(role, permission) or response.status in (302, 401):
                wrong.append((route.method, path, response.status))
    finally:
        await client.close()
    assert not wrong, f"{role}: {wrong}"


async def test_a_bearer_token_opens_its_roles_api_not_the_pages_and_ends_when_revoked(
    running: Running,
) -> None:
    base = running.base
    full, token = await tokens.create(running.db, "suite", "analyst", 1, actor="suite")
    auth = {"Authorization": f"Bearer {full}"}
    async with aiohttp.ClientSession(headers=auth) as client:
        assert (await client.get(f"{base}/api/v1/gateways")).status == 200
        assert (
            await client.get(f"{base}/api/v1/security/events")
        ).status == 403  # analyst's role, not admin's
        page = await client.get(f"{base}/homes", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"].startswith("/login")
        await tokens.revoke(running.db, token.token_id, actor="suite")
        assert (await client.get(f"{base}/api/v1/gateways")).status == 401
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer x"}) as client:
        assert (await client.get(f"{base}/api/v1/gateways")).status == 401
    kinds = [e["event"] for e in await events.recent(running.db, 50)]
    assert "token.used" in kinds and "token.refused" in kinds
    assert not any(full in str(e) for e in await events.recent(running.db, 200))


async def test_security_headers_on_every_response_and_no_version_banner(running: Running) -> None:
    paths = ["/login", "/healthz", "/", "/api/v1/gateways", "/nowhere", "/static/homescope.css"]
    async with aiohttp.ClientSession() as client:
        for path in paths:
            response = await client.get(running.base + path, allow_redirects=False)
            h = response.headers
            csp = h["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
            assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY", path
            assert h["Referrer-Policy"] == "same-origin" and h["Server"] == "homescope", path
            assert "Strict-Transport-Security" not in h  # plain HTTP: HSTS is for TLS (test_tls)
            if not path.startswith("/static"):
                assert h["Cache-Control"] == "no-store", path


async def test_pages_carry_no_inline_script_or_style(running: Running) -> None:
    client = await running.session("admin-user")
    try:
        for path in (
            "/",
            "/homes",
            "/areas",
            "/quarantine",
            "/admin",
            "/security/events",
            "/login",
            "/installer",
        ):
            text = await (await client.get(running.base + path)).text()
            assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", text), path
    finally:
        await client.close()


async def test_health_tells_anonymous_callers_ok_or_degraded_only(running: Running) -> None:
    async with aiohttp.ClientSession() as client:
        body = await (await client.get(f"{running.base}/healthz")).json()
    assert set(body) == {"status"} and body["status"] in ("ok", "degraded")
    client = await running.session("admin-user")
    try:
        detail = await (await client.get(f"{running.base}/healthz")).json()
        assert "received" in detail
    finally:
        await client.close()


@pytest.mark.parametrize(
    "target", ["//evil.example/", "/\\evil.example", "https://evil.example/", "/\t/evil.example"]
)
async def test_the_login_redirect_stays_on_site(running: Running, target: str) -> None:
    async with aiohttp.ClientSession(headers={"Origin": running.base}) as client:
        response = await client.post(
            f"{running.base}/login",
            data={"user": "analyst-user", "password": PASSWORD, "next": target},
            allow_redirects=False,
        )
    assert response.status == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/gateways?limit=x", "limit"),
        ("/api/v1/homes?offset=-1", "offset"),
        ("/api/v1/security/events?limit=0", "limit"),
        ("/api/v1/security/events?event=nope", "event"),
        ("/api/v1/areas?level=street", "level"),
    ],
)
async def test_bad_parameters_get_400_naming_the_parameter(running: Running, path: str, name: str) -> None:
    client = await running.session("admin-user")
    try:
        response = await client.get(running.base + path)
        assert response.status == 400 and name in await response.text()
    finally:
        await client.close()
