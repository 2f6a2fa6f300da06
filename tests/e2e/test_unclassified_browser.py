"""Issue 21's unclassified-domains view end to end: emulated gateways opted in send their unnamed
domains over MQTT to a running collector (store writer process and all); an operator in headless
Chromium sees the week's shared domains (no home's own domain), assigns one a category in the
form, and the next reports count that domain's bytes under the category in the homes' days."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector.profiles import layout
from collector.service import Service
from collector.settings import Settings
from collector.store.base import drain_folds, insights
from collector.store.folding import fold_body, stored_report
from emulator.fleet import Fleet
from tests.broker import Broker
from tests.cdp import Browser

pytestmark = pytest.mark.browser
MONDAY_NOON = 1_795_996_800 + 12 * 3600  # 2026-11-30 12:00 UTC, ISO week 2026-W49
HOMES, MIN_HOMES = 8, 3


async def _video(svc: Service) -> dict[str, int]:
    await drain_folds(insights(svc.store))
    days = await insights(svc.store).home_days(MONDAY_NOON // 86400)
    return {gid: int(d["v"][layout.cat_at("video", layout.CAT_DOWN)]) for gid, _, d in days}


async def _named_in(svc: Service, window_end: int, domain: str) -> dict[str, int]:
    """Bytes down each gateway's report of that window named ``domain`` with (read back from the store)."""
    rows = await svc.store.db.fetch(
        "SELECT gateway_id, epoch, seq, window_start, window_end, uptime_s, sent_at, received_at, payload"
        " FROM reports WHERE window_end = ?", (window_end,))  # fmt: skip
    out: dict[str, int] = {}
    for row in rows:
        m = stored_report(tuple(row.values()))
        assert m is not None
        body = fold_body(m)
        out[m.gateway_id] = sum(
            int(u["bytes_down"]) for u in body.get("unclassified") or [] if u["domain"] == domain
        )
    return out


@pytest.mark.timeout(150)
async def test_the_operator_classifies_a_domain_the_fleet_could_not(
    broker: Broker, tmp_path: Path, browser: Browser
) -> None:
    svc = Service(Settings(
        db=f"sqlite:///{tmp_path}/unc.db", mqtt=broker.url, http="127.0.0.1:0", users="op:secret-pw-for-tests",
        mqtt_client_id=f"unc-{tmp_path.name}", dpi_unclassified_min_homes=MIN_HOMES,
    ))  # fmt: skip
    await svc.start()
    assert svc.writer is not None  # the store writer process folds half the gateways: it needs the key too
    fleet = Fleet(HOMES, broker.url, prefix="unc", unclassified=20)
    try:
        fleet.start()
        assert await asyncio.to_thread(fleet.wait_connected, 15)
        for window in range(4):
            await asyncio.to_thread(fleet.report_all, MONDAY_NOON + 900 * (window + 1), 900)
        assert await asyncio.to_thread(fleet.drain, 20.0) == 0
        await drain_folds(insights(svc.store))
        base = f"http://127.0.0.1:{svc.port}"

        await browser.goto(f"{base}/dpi/unclassified?week=2026-W49")
        await browser.evaluate(
            "document.querySelector('input[name=user]').value='op';"
            "document.querySelector('input[name=password]').value='secret-pw-for-tests';"
            "document.querySelector('form.login').submit()"
        )
        await browser.wait_for("document.querySelector('#unclassified') !== null", timeout=20)
        await browser.wait_for("document.querySelectorAll('#unclassified tr').length > 1", timeout=20)
        shown = await browser.evaluate(
            "[...document.querySelectorAll('#unclassified tr')].slice(1).map(r => [r.cells[0].innerText,"
            " +r.cells[1].innerText])"
        )
        assert shown and all(homes >= MIN_HOMES for _, homes in shown)
        assert not any(domain.startswith("site-") for domain, _ in shown)  # each home's own: hidden
        assert "other domain" in await browser.evaluate("document.querySelector('main p').innerText")
        domain, homes = shown[0]
        senders: set[str] = set()
        for window in range(4):
            found = await _named_in(svc, MONDAY_NOON + 900 * (window + 1), domain)
            senders |= {g for g, size in found.items() if size}
        # every sender counted, whichever process folded it (the writer process pseudonymises too)
        assert homes == len(senders)

        await browser.evaluate(
            "const row = [...document.querySelectorAll('#unclassified tr')].find(r => r.cells[0].innerText == "
            f"'{domain}'); row.querySelector('select').value = 'video'; row.querySelector('form').submit()"
        )
        await browser.wait_for(
            "[...document.querySelectorAll('#domain-rules tr')].some(r => r.cells[0].innerText == "
            f"'{domain}' && r.cells[1].innerText == 'video')"
        )
        before = await _video(svc)
        end = MONDAY_NOON + 900 * 5
        await asyncio.to_thread(fleet.report_all, end, 900)
        assert await asyncio.to_thread(fleet.drain, 20.0) == 0
        after = await _video(svc)
        named = await _named_in(svc, end, domain)
        assert sum(named.values()) > 0
        assert {g: after[g] - before.get(g, 0) for g in after} == {g: named.get(g, 0) for g in after}
    finally:
        fleet.stop()
        await svc.stop()
