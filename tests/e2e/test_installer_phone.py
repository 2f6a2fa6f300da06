"""An installer on a 390x844 phone finds a home, opens it and presses "measure now".

Real parts: Mosquitto, the collector service (ingest, command channel, web), emulated
gateways that answer commands like the agent, and headless Chromium emulating a phone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from collector.service import Service
from collector.settings import Settings
from collector.store.base import insights
from emulator.fleet import Fleet
from tests.broker import Broker
from tests.cdp import Browser

pytestmark = pytest.mark.browser

#: Any element whose box reaches past the viewport's right edge (1 px of rounding allowed).
OVERFLOW = """[...document.querySelectorAll('body *')].filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1);
}).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
#: Buttons and links in the page's main part smaller than a 44 px touch target.
SMALL_TARGETS = """[...document.querySelectorAll('main button, main a, header a, header button, main input[type=checkbox]')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.height < 27.5 || (r.height < 44 && e.tagName !== 'INPUT')); })
  .map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 30) + ' ' + Math.round(e.getBoundingClientRect().height))"""


async def _phone(page: Browser) -> None:
    await page.call(
        "Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=3, mobile=True
    )
    await page.call("Emulation.setTouchEmulationEnabled", enabled=True)


async def _no_overflow(page: Browser, where: str) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), where
    assert await page.evaluate(OVERFLOW) == [], where
    assert await page.evaluate(SMALL_TARGETS) == [], where


@pytest.mark.timeout(120)
async def test_installer_finds_a_home_and_measures_it_now_on_a_phone(
    broker: Broker,
    tmp_path: Path,
    browser: Browser,
) -> None:
    svc = Service(
        Settings(
            db=f"sqlite:///{tmp_path}/field.db",
            mqtt=broker.url,
            http="127.0.0.1:0",
            users="fitter:a-long-test-password",
            roles="fitter:installer",
            mqtt_client_id=f"field-{tmp_path.name}",
        )
    )
    await svc.start()
    fleet = Fleet(3, broker.url, prefix="field")
    try:
        await insights(svc.store).upsert_subscribers(
            [
                {
                    "gateway_id": f"field-{i:05d}",
                    "subscriber_id": f"SUB-77{i}",
                    "plan_down_mbps": 300.0,
                    "area": "Riverside",
                    "community": f"Block {i}",
                }
                for i in range(3)
            ]
        )
        fleet.start()
        assert await asyncio.to_thread(fleet.wait_connected, 15)
        now = int(time.time()) // 900 * 900
        for window in range(2):
            await asyncio.to_thread(fleet.report_all, now - 900 * (1 - window), 900)
        assert await asyncio.to_thread(fleet.drain, 20.0) == 0
        base = f"http://127.0.0.1:{svc.port}"

        await _phone(browser)
        await browser.goto(f"{base}/installer")
        await browser.evaluate(
            "document.querySelector('input[name=user]').value='fitter';"
            "document.querySelector('input[name=password]').value='a-long-test-password';"
            "document.querySelector('form.login').submit()"
        )
        await browser.wait_for("document.querySelector('form.search') !== null")
        await _no_overflow(browser, "search page")
        await browser.evaluate(
            "document.querySelector('input[name=q]').value='sub-771';document.querySelector('form.search').submit()"
        )
        await browser.wait_for("document.querySelectorAll('ul.hits a').length === 1")
        await _no_overflow(browser, "search results")
        await browser.evaluate("document.querySelector('ul.hits a').click()")
        await browser.wait_for("document.querySelector('#measure-now') !== null")
        assert "SUB-771" in await browser.evaluate("document.body.innerText")
        assert "last report" in await browser.evaluate("document.body.innerText")
        await _no_overflow(browser, "home page")

        pressed = time.time()
        await browser.evaluate("document.querySelector('#measure-now').click()")
        await browser.wait_for(
            "document.querySelector('#measure-status').innerText.startsWith('Measured')", timeout=30
        )
        measured_at = int(await browser.evaluate("document.querySelector('#snapshot').dataset.measuredAt"))
        assert measured_at >= int(pressed) - 1, "the figures shown are not the fresh measurement"
        text = await browser.evaluate("document.querySelector('#measure-result').innerText")
        assert "measured now" in text and "Terminals" in text and "dBm" in text
        await _no_overflow(browser, "home page after measuring")
        await browser.screenshot(tmp_path / "installer-phone.png")

        # the installer reaches this view and nothing of the operators'
        assert await browser.evaluate("fetch('/homes').then(r => r.status)") == 403
    finally:
        await asyncio.to_thread(fleet.stop)
        await svc.stop()
