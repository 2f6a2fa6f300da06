"""An operator signs in with real headless Chromium and opens the main pages, then the home pages."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.profiles.rules import rules
from collector.service import Service
from collector.settings import Settings
from collector.store.base import drain_folds, insights
from emulator.fleet import Fleet
from tests.broker import Broker
from tests.cdp import Browser

pytestmark = pytest.mark.browser


@pytest.mark.timeout(120)
async def test_operator_signs_in_and_sees_gateways_charts_and_topology(
    broker: Broker, tmp_path: Path, browser: Browser
) -> None:
    svc = Service(
        Settings(
            db=f"sqlite:///{tmp_path}/ui.db",
            mqtt=broker.url,
            http="127.0.0.1:0",
            users="op:secret-pw-for-tests",
            mqtt_client_id=f"ui-{tmp_path.name}",
        )
    )
    await svc.start()
    fleet = Fleet(3, broker.url, prefix="ui")
    try:
        fleet.start()
        assert await asyncio.to_thread(fleet.wait_connected, 15)
        for window in range(4):
            await asyncio.to_thread(fleet.report_all, 1_700_000_000 + 900 * (window + 1), 900)
        assert await asyncio.to_thread(fleet.drain, 20.0) == 0
        base = f"http://127.0.0.1:{svc.port}"

        await browser.goto(f"{base}/")
        assert "/login" in await browser.evaluate("location.pathname")
        await browser.evaluate(
            "document.querySelector('input[name=user]').value='op';"
            "document.querySelector('input[name=password]').value='wrong';"
            "document.querySelector('form.login').submit()"
        )
        await browser.wait_for("document.body && document.body.innerText.includes('Wrong user or password')")
        await browser.evaluate(
            "document.querySelector('input[name=user]').value='op';"
            "document.querySelector('input[name=password]').value='secret-pw-for-tests';"
            "document.querySelector('form.login').submit()"
        )
        await browser.wait_for("document.querySelector('#gateways') !== null")
        rows = await browser.evaluate(
            "[...document.querySelectorAll('#gateways tbody tr')].map(r => r.cells[0].innerText)"
        )
        assert sorted(r for r in rows if r.startswith("ui-")) == ["ui-00000", "ui-00001", "ui-00002"]

        await browser.evaluate("document.querySelector('a[href=\"/gateways/ui-00001\"]').click()")
        await browser.wait_for("document.querySelector('svg.topology') !== null")
        charts = await browser.evaluate("document.querySelectorAll('svg.chart polyline').length")
        assert charts >= 4, "CPU, memory and WAN charts draw lines"
        box = await browser.evaluate(
            "(() => { const r = document.querySelector('svg.topology').getBoundingClientRect(); return [r.width, r.height]; })()"
        )
        assert box[0] > 100 and box[1] > 100, "the topology picture is rendered with a real size"
        shots = Path(os.environ.get("HOMESCOPE_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        await browser.screenshot(shots / "gateway-page.png")
        assert (shots / "gateway-page.png").stat().st_size > 10_000

        # the home pages: evaluate what the fleet sent, then follow the header's link
        as_of = 1_700_000_000 + 900 * 4
        await drain_folds(insights(svc.store))
        await evaluate(insights(svc.store), load_config(), as_of=as_of)
        await browser.evaluate("document.querySelector('header a[href=\"/homes\"]').click()")
        await browser.wait_for("document.querySelector('#homes') !== null")
        homes = await browser.evaluate(
            "[...document.querySelectorAll('#homes tbody tr')].map(r => r.cells[0].innerText)"
        )
        assert {"ui-00000", "ui-00001", "ui-00002"} <= set(homes)
        bars = await browser.evaluate("document.querySelectorAll('svg.bars rect.chart-bar').length")
        assert bars == len(rules()), "one bar per registered label, flag and warning"
        await browser.goto(f"{base}/homes/ui-00001?as_of={as_of}")
        await browser.wait_for("document.querySelector('#terminals') !== null")
        widths = await browser.evaluate(
            "[...document.querySelectorAll('svg[aria-label^=\"Wi-Fi experience\"] rect.chart-bar')]"
            ".map(r => r.getBoundingClientRect().width)"
        )
        assert len(widths) >= 2 and max(widths) > 10, "the Wi-Fi score and its parts are drawn as bars"
        assert await browser.evaluate("document.querySelectorAll('#terminals tbody tr').length") >= 1
        await browser.screenshot(shots / "home-page.png")
    finally:
        fleet.stop()
        await svc.stop()
