"""The real aiohttp app on loopback over a real SQLite store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.ingest import Incoming, classify
from collector.store import Batch, SpooledMessage, Store, open_store
from collector.web.auth import Auth
from protocol.codec import encode
from protocol.topics import topic_for
from tests.protocol.messages import report

TOKEN = "t0ken-for-tests"


@pytest.fixture
async def filled_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = open_store(f"sqlite:///{tmp_path}/web.db")
    await store.open()
    messages = []
    for seq, end in ((1, 1_700_000_100), (2, 1_700_001_000)):
        out = classify(
            Incoming(
                topic_for("gw-web", "report"),
                encode(report("gw-web", seq=seq, window_end=end)),
                1,
                1,
                time.time(),
            )
        )
        assert isinstance(out, SpooledMessage)
        messages.append(out)
    await store.write_batch(Batch(messages, [], []))
    yield store
    await store.close()


@pytest.fixture
async def client(aiohttp_client: Any, filled_store: Store) -> TestClient:
    auth = Auth.from_settings("alice:wonder", TOKEN, "secret")
    return await aiohttp_client(create_app(filled_store, auth))


@pytest.mark.parametrize("path", ["/", "/gateways/gw-web", "/quarantine"])
async def test_pages_redirect_to_login_without_a_session(client: TestClient, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/api/v1/gateways", "/api/v1/gateways/gw-web", "/api/v1/quarantine"])
async def test_api_needs_a_valid_token(client: TestClient, path: str) -> None:
    assert (await client.get(path)).status == 401
    assert (await client.get(path, headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})).status == 200


async def test_api_gateway_has_latest_figures_rates_and_history(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    data = await (await client.get("/api/v1/gateways", headers=headers)).json()
    assert [g["gateway_id"] for g in data["gateways"]] == ["gw-web"]
    one = await (await client.get("/api/v1/gateways/gw-web", headers=headers)).json()
    assert one["latest"]["system"]["cpu_usage_pct"] == 12.5
    assert one["rates"]["wan"]["rx_bps"] == pytest.approx(8 * 50_000 / 900, rel=1e-3)
    assert len(one["history"]) == 2
    assert (await client.get("/api/v1/gateways/nope", headers=headers)).status == 404
    assert (await client.get("/api/v1/gateways?limit=x", headers=headers)).status == 400


async def test_login_wrong_password_then_right_one_opens_the_pages(client: TestClient) -> None:
    bad = await client.post(
        "/login", data={"user": "alice", "password": "nope", "next": "/"}, allow_redirects=False
    )
    assert bad.status == 401
    good = await client.post(
        "/login",
        data={"user": "alice", "password": "wonder", "next": "/gateways/gw-web"},
        allow_redirects=False,
    )
    assert good.status == 302 and good.headers["Location"] == "/gateways/gw-web"
    page = await client.get("/gateways/gw-web")
    text = await page.text()
    assert page.status == 200 and "<svg" in text and "CPU %" in text and "iphone" in text
    listing = await (await client.get("/")).text()
    assert "gw-web" in listing and 'id="gateways"' in listing


async def test_login_does_not_redirect_off_site(client: TestClient) -> None:
    response = await client.post(
        "/login",
        data={"user": "alice", "password": "wonder", "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/"


def test_forged_or_expired_session_cookies_are_refused() -> None:
    auth = Auth.from_settings("alice:wonder", "", "secret")
    cookie = auth.session_cookie("alice", now=1000.0)
    assert auth.session_user(cookie, now=1001.0) == "alice"
    assert auth.session_user(cookie, now=1000.0 + 13 * 3600) is None
    assert auth.session_user(cookie.replace("alice", "mallory"), now=1001.0) is None
    assert Auth.from_settings("alice:wonder", "", "other").session_user(cookie, now=1001.0) is None
