"""Marketing staff go from a flag on /homes to a launched campaign and its results, in headless Chromium."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from collector.app import create_app
from collector.marketing.catalogue import load_catalogue
from collector.marketing.delivery import deliver_due
from collector.marketing.outcomes import parse_outcomes
from collector.marketing.policy import after_quiet_hours
from collector.marketing.results import import_outcomes
from collector.marketing.senders import FileSender
from collector.store import Store, open_store
from collector.web.auth import Auth
from tests.broker import free_port
from tests.cdp import Browser
from tests.collector.marketing.homes import Home, kind_of, seed

pytestmark = pytest.mark.browser
MESH = "14 devices; 38% of station-time below -75 dBm on 2.4 GHz; Wi-Fi score 44/100"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/mkt.db")
    await s.open()
    homes = [
        Home(f"gw-{i:03d}", area=("north", "south")[i % 2], results={"mesh_or_fttr": MESH}) for i in range(80)
    ]
    await seed(s, [*homes, Home("gw-plain")])
    yield s
    await s.close()


@pytest.mark.timeout(120)
async def test_from_a_flag_to_a_launched_campaign_and_its_results(
    store: Store, browser: Browser, tmp_path: Path
) -> None:
    auth = Auth.from_settings("mia:a-long-password", "", "secret", "mia:marketing")
    runner = web.AppRunner(create_app(store, auth))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        await browser.goto(f"{base}/login")
        await browser.evaluate(
            "document.querySelector('input[name=user]').value='mia';"
            "document.querySelector('input[name=password]').value='a-long-password';"
            "document.querySelector('form.login').submit()"
        )
        await browser.wait_for("location.pathname === '/'")
        await browser.goto(f"{base}/homes?flag=mesh_or_fttr")
        await browser.wait_for("document.querySelector('#target') !== null")
        assert "80" in await browser.evaluate("document.querySelector('#total').innerText")
        await browser.evaluate("document.querySelector('#target').click()")
        await browser.wait_for("document.querySelector('form.desk') !== null")
        assert await browser.evaluate("document.querySelector('select[name=flag]').value") == "mesh_or_fttr"
        assert await browser.evaluate("document.querySelector('select[name=offer_id]').value") == "mesh"
        await browser.evaluate(
            "document.querySelector('input[name=name]').value='Mesh north and south';"
            "document.querySelector('#create').click()"
        )
        await browser.wait_for("document.querySelector('#launch') !== null")
        treated = int(await browser.evaluate("document.querySelector('#treatment').innerText"))
        control = int(await browser.evaluate("document.querySelector('#control').innerText"))
        assert treated + control == 80 and control >= 4
        preview = await browser.evaluate("document.querySelector('#preview li').innerText")
        assert preview.startswith("Hello customer, Mesh Wi-Fi") and MESH in preview
        await browser.evaluate("document.querySelector('#launch').click()")
        await browser.wait_for("document.querySelector('#results') !== null")
        assert await browser.evaluate("document.querySelector('#state').innerText") == "launched"

        # messages go out, some treated homes buy, one control home buys on its own
        db, cat = store.db, load_catalogue(None, kind_of)
        # at the end of the quiet hours if the test runs in them (the policy holds messages until then)
        await deliver_due(
            db, cat, FileSender(tmp_path / "drop"), now=after_quiet_hours(cat.policy, time.time())
        )
        arms = await db.fetch("SELECT subscriber_id, arm FROM mkt_members ORDER BY subscriber_id")
        buyers = [r["subscriber_id"] for r in arms if r["arm"] == "treatment"][:15]
        buyers += [r["subscriber_id"] for r in arms if r["arm"] == "control"][:1]
        at = time.time() + 5
        parsed = parse_outcomes("subscriber_id,kind,offer_id,at\n" + "".join(f"{b},order,mesh,{at}\n" for b in buyers),
                                cat.offers)  # fmt: skip
        await import_outcomes(db, parsed.rows)
        campaign_path = await browser.evaluate("location.pathname")
        await browser.goto(base + campaign_path)
        await browser.wait_for("document.querySelector('#arms-chart') !== null")
        assert await browser.evaluate("document.querySelectorAll('#arms-chart polyline').length") == 2
        assert await browser.evaluate("document.querySelectorAll('#arms-chart .axis-time').length") >= 1
        uplift = await browser.evaluate("document.querySelector('#uplift').innerText")
        assert uplift.endswith("points") and uplift.startswith("+")
        body = await browser.evaluate("document.body.innerText")
        assert f"Contacted\n{treated}" in body
        assert "Control contacted\n0" in body
        shots = Path(os.environ.get("HOMESCOPE_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        await browser.screenshot(shots / "campaign-results.png")
    finally:
        await runner.cleanup()
