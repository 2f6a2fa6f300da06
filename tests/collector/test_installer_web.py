"""The installer's routes on the real app and a real SQLite store (no broker needed here)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.ingest import Ingest
from collector.installer.channel import CommandChannel
from collector.installer.records import InstallerRecords
from collector.settings import Settings
from collector.store import StatusChange, Store, open_store
from collector.web.auth import Auth
from tests.collector.store.test_conformance import spooled

PW = "a-long-test-password"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/field.db")
    await s.open()
    now = time.time()
    await s.write_batch(
        [spooled("gw-on", window_end=int(now)), spooled("gw-off", window_end=int(now))],
        [],
        [StatusChange("gw-on", "online", now), StatusChange("gw-off", "offline", now)],
    )
    yield s
    await s.close()


async def _client(aiohttp_client: Any, store: Store, channel: CommandChannel | None) -> TestClient:
    auth = Auth.from_settings(f"fitter:{PW}", "", "secret", "fitter:installer")
    client: TestClient = await aiohttp_client(create_app(store, auth, commands=channel))
    # state-changing requests come from our own pages (the Origin check refuses others)
    client.session.headers["Origin"] = str(client.make_url("")).rstrip("/")
    response = await client.post("/login", data={"user": "fitter", "password": PW}, allow_redirects=False)
    assert response.status == 302
    return client


def _channel(store: Store) -> CommandChannel:
    # never started: the broker is not needed to refuse offline or unknown gateways
    return CommandChannel(Ingest(Settings(mqtt="mqtt://127.0.0.1:9"), store), InstallerRecords(store.db))


async def test_measure_now_says_at_once_why_it_cannot_ask(aiohttp_client: Any, store: Store) -> None:
    client = await _client(aiohttp_client, store, _channel(store))
    started = time.monotonic()
    offline = await client.post("/api/v1/installer/homes/gw-off/measure")
    assert offline.status == 409 and (await offline.json())["reason"] == "offline"
    assert time.monotonic() - started < 1.0
    unknown = await client.post("/api/v1/installer/homes/gw-nobody/measure")
    assert unknown.status == 404
    no_broker = await client.post("/api/v1/installer/homes/gw-on/measure")
    assert no_broker.status == 409 and (await no_broker.json())["reason"] == "no_broker"
    bad = await client.post("/api/v1/installer/homes/..%2F/measure")
    assert bad.status in (400, 404)
    nothing = await _client(aiohttp_client, store, None)
    assert (await nothing.post("/api/v1/installer/homes/gw-on/measure")).status == 503


async def test_a_recorded_visit_becomes_the_baseline_later_views_compare_with(
    aiohttp_client: Any, store: Store
) -> None:
    client = await _client(aiohttp_client, store, None)
    page = await client.get("/installer/homes/gw-on")
    assert page.status == 200 and "last report" in await page.text()
    saved = await client.post(
        "/installer/homes/gw-on/install",
        data={"mesh_added": "1", "placement": "landing, first floor", "notes": "<b>dog</b>"},
        allow_redirects=False,
    )
    assert saved.status == 303 and saved.headers["Location"] == "/installer/homes/gw-on"
    api = await (await client.get("/api/v1/installer/homes/gw-on")).json()
    baseline = api["baseline"]
    assert baseline["mesh_added"] and baseline["placement"] == "landing, first floor"
    assert baseline["wifi_score"] == api["snapshot"]["wifi_score"] is not None
    text = await (await client.get("/installer/homes/gw-on")).text()
    assert f"Wi-Fi score {baseline['wifi_score']:.0f} at install" in text and "(+0)" in text
    assert "<b>dog</b>" not in text  # notes are escaped (and not shown in the list)


async def test_search_needs_a_query_and_finds_gateways(aiohttp_client: Any, store: Store) -> None:
    client = await _client(aiohttp_client, store, None)
    assert (await client.get("/api/v1/installer/search")).status == 400
    assert (await client.get("/api/v1/installer/search", params={"q": "x" * 101})).status == 400
    found = await (await client.get("/api/v1/installer/search", params={"q": "gw-o"})).json()
    assert {h["gateway_id"] for h in found["homes"]} == {"gw-on", "gw-off"}
    page = await (await client.get("/installer", params={"q": "gw-of"})).text()
    assert 'href="/installer/homes/gw-off"' in page and "offline" in page
