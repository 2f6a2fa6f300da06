"""The marketing API over HTTP on loopback: roles and contact fields, CSV export, bad input
named, next-best offers, campaigns, and a signed, retried, idempotent push to a real local
HTTP server."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.app import create_app
from collector.marketing.audiences import upsert_contacts
from collector.marketing.export import KEY_HEADER, SIGNATURE_HEADER, verify
from collector.store import Store, open_store
from collector.store.sql import Statement
from collector.web.auth import Auth
from tests.collector.marketing.homes import Home, seed

PASSWORD = "a-long-test-password"
MESH = "14 devices; Wi-Fi score 44/100"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/web.db")
    await s.open()
    await seed(s, [Home(f"gw-{i}", results={"mesh_or_fttr": MESH, "heavy_gamer": "3.1 h/day of gaming"})
                   for i in range(20)] + [Home("gw-quiet", results={"inactive": "0.1 h/day engaged"}, wifi=40)])  # fmt: skip
    await upsert_contacts(s.db, [("sub-gw-0", '=HYPERLINK("x")', "+33 6 00", "1 rue Zoë")])
    yield s
    await s.close()


async def _client(aiohttp_client: Any, store: Store, role: str) -> TestClient:
    # one user per role: accounts live in the store, so a name keeps the role it was first given
    auth = Auth.from_settings(f"{role}-user:{PASSWORD}", "", "secret", f"{role}-user:{role}")
    client: TestClient = await aiohttp_client(create_app(store, auth))
    # state-changing requests come from our own pages (the Origin check refuses others)
    client.session.headers["Origin"] = str(client.make_url("")).rstrip("/")
    r = await client.post(
        "/login", data={"user": f"{role}-user", "password": PASSWORD}, allow_redirects=False
    )
    assert r.status == 302
    return client


async def test_export_shows_contacts_only_to_roles_that_may_see_them(
    aiohttp_client: Any, store: Store
) -> None:
    marketing = await _client(aiohttp_client, store, "marketing")
    r = await marketing.post(
        "/api/v1/audiences", json={"name": "mesh", "definition": {"flag": "mesh_or_fttr"}}
    )
    audience = await r.json()
    assert r.status == 200 and audience["size"] == 20
    r = await marketing.get(f"/api/v1/audiences/{audience['id']}/export.csv?offer=mesh")
    raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    first = next(row for row in rows if row["subscriber_id"] == "sub-gw-0")
    assert first["name"] == '\'=HYPERLINK("x")' and first["address"] == "1 rue Zoë"
    assert first["offer"].startswith("Mesh Wi-Fi") and first["evidence"] == f"mesh_or_fttr: {MESH}"
    analyst = await _client(aiohttp_client, store, "analyst")
    r = await analyst.get(f"/api/v1/audiences/{audience['id']}/export.csv")
    header = (await r.read()).decode("utf-8-sig").splitlines()[0]
    assert header == "subscriber_id,gateway_id,area,community,offer,evidence"
    r = await analyst.post("/api/v1/audiences", json={"name": "x", "definition": {"flag": "mesh_or_fttr"}})
    assert r.status == 403


async def test_bad_input_is_named(aiohttp_client: Any, store: Store) -> None:
    client = await _client(aiohttp_client, store, "marketing")
    r = await client.post("/api/v1/segments/preview", json={"definition": {"all": [{"flag": "mesh_or_fttr"},
                                                                                   {"wifi": {"lt": 5}}]}})  # fmt: skip
    assert r.status == 400
    assert "segment.all[1]: unknown field 'wifi'" in (await r.json())["error"]
    r = await client.post("/api/v1/audiences", json={"name": "a", "definition": {"flag": "mesh_or_fttr"}})
    audience = await r.json()
    r = await client.post("/api/v1/campaigns", json={"name": "c", "audience_id": audience["id"], "offer_id": "mesh",
                                                    "template": "Dear {nme}, {offer}"})  # fmt: skip
    assert r.status == 400 and "unknown parameter {nme}" in (await r.json())["error"]


async def test_offers_and_a_campaign_over_the_api(aiohttp_client: Any, store: Store) -> None:
    client = await _client(aiohttp_client, store, "marketing")
    r = await client.get("/api/v1/subscribers/sub-gw-3/offers")
    found = await r.json()
    assert [o["offer"] for o in found["offers"]] == ["mesh", "acceleration"]  # fttr: excluded by mesh
    assert len(found["offers"]) <= 6 and MESH in found["offers"][0]["talk"]
    assert not {"mesh", "fttr"} <= {o["offer"] for o in found["offers"]}  # mutually exclusive
    assert (await client.get("/api/v1/subscribers/nobody/offers")).status == 404
    audience = await (
        await client.post("/api/v1/audiences", json={"name": "a", "definition": {"flag": "mesh_or_fttr"}})
    ).json()
    c = await (await client.post("/api/v1/campaigns", json={"name": "c", "audience_id": audience["id"], "offer_id": "mesh",
                                                            "template": "Hi {name}: {offer}", "send_at": time.time()})).json()  # fmt: skip
    assert (await client.post(f"/api/v1/campaigns/{c['id']}/launch")).status == 200
    assert (await client.post(f"/api/v1/campaigns/{c['id']}/launch")).status == 400
    results = await (await client.get(f"/api/v1/campaigns/{c['id']}/results")).json()
    assert results["treated"] + results["control"] == 20 and results["control_contacted"] == 0
    # a treated member orders mesh, and the next day its gateway reports two mesh nodes
    (buyer,) = await store.db.fetch("SELECT gateway_id, subscriber_id FROM mkt_members WHERE campaign_id = ?"
                                    " AND arm = 'treatment' ORDER BY gateway_id LIMIT 1", (c["id"],))  # fmt: skip
    day = int(time.time()) // 86400
    await store.db.transaction([
        Statement("INSERT INTO mkt_outcomes (subscriber_id, offer_id, kind, at, imported_at) VALUES (?, 'mesh',"
                  " 'order', ?, 0)", (buyer["subscriber_id"], time.time() + 1)),
        Statement("INSERT INTO home_days (gateway_id, day, data, detail, updated_at) VALUES (?, ?, ?, '{}', 0)",
                  [(buyer["gateway_id"], day - 1, '{"mesh": 0}'), (buyer["gateway_id"], day + 1, '{"mesh": 2}')],
                  many=True)])  # fmt: skip
    results = await (await client.get(f"/api/v1/campaigns/{c['id']}/results")).json()
    assert (
        results["verified_conversions"] == 1
        and results["verified"][0]["subscriber_id"] == buyer["subscriber_id"]
    )
    page = await (await client.get(f"/marketing/campaigns/{c['id']}")).text()
    assert 'id="verified"' in page and "mesh nodes/APs in the topology 0 -&gt; 2" in page
    winback = await (await client.get("/api/v1/winback")).json()
    assert (
        winback["total"] == 1
        and winback["areas"][0]["subscribers"][0]["likely_reason"] == "poor Wi-Fi (score 40)"
    )
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/subscribers/{subscriber_id}/offers" in doc["paths"]


async def test_webhook_push_is_signed_retried_and_idempotent(
    aiohttp_client: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOMESCOPE_WEBHOOK_SECRET", "shh")
    seen: list[tuple[str, str, bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.headers[SIGNATURE_HEADER], request.headers[KEY_HEADER], body))
        return web.Response(status=503 if len(seen) == 1 else 200)  # the first attempt fails

    crm = web.Application()
    crm.router.add_post("/hook", receive)
    server = TestServer(crm, host="127.0.0.1")
    await server.start_server()
    try:
        client = await _client(aiohttp_client, store, "marketing")
        audience = await (
            await client.post("/api/v1/audiences", json={"name": "a", "definition": {"flag": "mesh_or_fttr"}})
        ).json()
        url = str(server.make_url("/hook"))
        r = await client.post(f"/api/v1/audiences/{audience['id']}/push", json={"url": url})
        assert r.status == 400 and "not a configured CRM webhook" in (await r.json())["error"]
        assert not seen  # nothing left for an endpoint the operator did not configure
        monkeypatch.setenv("HOMESCOPE_CRM_WEBHOOK", url)
        r = await client.post(f"/api/v1/audiences/{audience['id']}/push", json={"url": url})
        answer = await r.json()
        assert r.status == 200 and answer["attempts"] == 2 and answer["status"] == "delivered"
        assert len(seen) == 2 and seen[0][1] == seen[1][1]  # the retry carries the same idempotency key
        assert all(verify(b"shh", body, signature) for signature, _, body in seen)
        assert not verify(b"other", seen[1][2], seen[1][0])
        again = await (
            await client.post(f"/api/v1/audiences/{audience['id']}/push", json={"url": url})
        ).json()
        assert again["repeat"] is True and len(seen) == 2  # pushed once
    finally:
        await server.close()
