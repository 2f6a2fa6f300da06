"""The unclassified-domains page, its CSV and JSON, and the rule forms over HTTP (the real app, a
real store): only domains of at least the minimum of homes appear on any of them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.dpi import rules
from collector.store import Store, open_store
from collector.web.auth import Auth
from tests.collector.dpi.fleet import KEY, category_down, message, send

MIN_HOMES = 4


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/dpi-pages.db")
    await s.open()
    s.folds.state.home_key = KEY
    await send(s, [message(f"gw-{i}", 1, {"shared.example": 90_000, "tv.example": 20_000}) for i in range(5)]
               + [message(f"gw-{i}", 2, {"few.example": 5_000}) for i in range(MIN_HOMES - 1)])  # fmt: skip
    yield s
    await s.close()


@pytest.fixture
async def client(aiohttp_client: Any, store: Store) -> TestClient:
    auth = Auth.from_settings("ana:an-analyst-pw,mark:a-marketing-pw", "", roles="ana:analyst,mark:marketing")
    c: TestClient = await aiohttp_client(create_app(store, auth, unclassified_min_homes=MIN_HOMES))
    assert (
        await c.post("/login", data={"user": "ana", "password": "an-analyst-pw", "next": "/"})
    ).status == 200
    c.session.headers["Origin"] = str(c.make_url("")).rstrip("/")  # forms come from our own pages
    return c


async def test_the_page_lists_only_domains_of_enough_homes(client: TestClient) -> None:
    page = await (await client.get("/dpi/unclassified?week=2026-W49")).text()
    assert "shared.example" in page and "tv.example" in page
    assert "few.example" not in page and "1 other domain stayed under that minimum" in page
    assert '<option value="2026-W49" selected>' in page  # the week picker
    data = await (await client.get("/dpi/unclassified.json?week=2026-W49")).json()
    assert [(d["domain"], d["homes"]) for d in data["domains"]] == [("shared.example", 5), ("tv.example", 5)]
    response = await client.get("/dpi/unclassified.csv?week=2026-W49")
    assert response.headers["Content-Disposition"].endswith('homescope-unclassified-2026-W49.csv"')
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows == [["Domain", "Homes", "Bytes", "Category"], ["shared.example", "5", str(5 * 91_000), ""],
                    ["tv.example", "5", str(5 * 21_000), ""]]  # fmt: skip
    assert (await client.get("/dpi/unclassified?week=2026-W60")).status == 400
    assert (await client.get("/dpi/unclassified?weak=2026-W49")).status == 400  # unknown parameter


async def test_assigning_from_the_page_classifies_the_next_report(client: TestClient, store: Store) -> None:
    done = await client.post("/dpi/rules", data={"domain": "tv.example", "category": "video", "week": "2026-W49"},
                             allow_redirects=False)  # fmt: skip
    assert done.status == 303 and done.headers["Location"] == "/dpi/unclassified?week=2026-W49"
    page = await (await client.get("/dpi/unclassified?week=2026-W49")).text()
    assert "<td>tv.example</td><td>video</td><td>ui</td><td>ana</td>" in page  # the rules table says who
    await send(store, [message("gw-0", 3, {"tv.example": 20_000})])
    assert await category_down(store, "gw-0", "video") == 20_000
    bad = await client.post("/dpi/rules", data={"domain": "tv.example", "category": "movies"})
    assert bad.status == 400 and "movies" in await bad.text()
    gone = await client.post("/dpi/rules/delete", data={"domain": "tv.example"}, allow_redirects=False)
    assert gone.status == 303 and await rules.listing(store.db) == []
    assert (await client.post("/dpi/rules/delete", data={"domain": "tv.example"})).status == 404


async def test_forms_need_our_origin_and_marketing_sees_no_domains(client: TestClient) -> None:
    del client.session.headers["Origin"]
    forged = await client.post("/dpi/rules", data={"domain": "x.example", "category": "video"},
                               headers={"Origin": "https://evil.example"})  # fmt: skip
    assert forged.status == 403
    await client.post("/logout", headers={"Origin": str(client.make_url("")).rstrip("/")})
    assert (
        await client.post("/login", data={"user": "mark", "password": "a-marketing-pw", "next": "/"})
    ).status == 200
    assert (await client.get("/dpi/unclassified")).status == 403
