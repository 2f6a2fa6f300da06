"""Make the pictures of docs/operator.md again: the report archive page and a report's first page.

    .venv/bin/python scripts/doc_pictures.py [--out docs]

Back-fills the synthetic report fleet of the tests (``tests/collector/reports/fleet.py``:
known figures, 3 areas) into a throw-away SQLite store, evaluates it, archives the weekly
report of week 48 of 2026 (HTML, PDF, CSVs), serves the real app on loopback and signs in
with headless Chromium: ``report-archive.png`` is the /reports page as an operator sees it
(the app's stylesheet, CSP and all), ``report-week.png`` the PDF's first page (poppler's
``pdftoppm``). Needs Chromium and poppler-utils (``scripts/system-deps.sh``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.app import create_app  # noqa: E402
from collector.profiles.config import load_config  # noqa: E402
from collector.profiles.evaluate import evaluate  # noqa: E402
from collector.reports.lease import StoreLeases  # noqa: E402
from collector.reports.schedule import produce_due  # noqa: E402
from collector.reports.settings import ReportSettings  # noqa: E402
from collector.store import open_store  # noqa: E402
from collector.store.base import insights  # noqa: E402
from collector.web.auth import Auth  # noqa: E402
from tests.broker import free_port  # noqa: E402
from tests.cdp import Browser, chromium_binary  # noqa: E402
from tests.collector.reports.fleet import FleetSpec, fill  # noqa: E402

NOV = (date(2026, 11, 1) - date(1970, 1, 1)).days
FLEET = FleetSpec(homes=36, first_day=NOV + 9, days=21, worse_from=NOV + 23, areas=3, prefix="home")
REPORT = "week-2026-W48"
PASSWORD = "doc-pictures-only-pw"


async def make(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    binary = chromium_binary()
    if binary is None or shutil.which("pdftoppm") is None:
        raise SystemExit("needs chromium and pdftoppm: bash scripts/system-deps.sh")
    with tempfile.TemporaryDirectory(prefix="hs-doc-pictures-") as tmp:
        store = open_store(f"sqlite:///{tmp}/doc.db")
        await store.open()
        await fill(store, FLEET)
        await evaluate(
            insights(store), load_config(), as_of=(FLEET.first_day + FLEET.days) * 86400, workers=1
        )
        made = await produce_due(store, load_config(), ReportSettings(periods="week"), StoreLeases(store.db),
                                 "doc-pictures", date(2026, 12, 2))  # fmt: skip
        assert REPORT in made, made
        runner = web.AppRunner(create_app(store, Auth.from_settings(f"op:{PASSWORD}", "", "")))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        browser = Browser(binary)
        try:
            await browser.start()
            await browser.call("Emulation.setDeviceMetricsOverride", width=1200, height=420, deviceScaleFactor=1,
                               mobile=False)  # fmt: skip
            await browser.goto(f"http://127.0.0.1:{port}/reports")
            await browser.evaluate(
                f"document.querySelector('input[name=user]').value='op';"
                f"document.querySelector('input[name=password]').value='{PASSWORD}';"
                "document.querySelector('form.login').submit()"
            )
            await browser.wait_for("document.querySelector('#reports') !== null")
            await browser.wait_for("getComputedStyle(document.querySelector('header')).display === 'flex'")
            archive = out / "report-archive.png"
            data = await browser.call("Page.captureScreenshot", format="png")
            archive.write_bytes(base64.b64decode(data["data"]))
        finally:
            await browser.stop()
            await runner.cleanup()
        row = await store.db.fetch_one(
            "SELECT data FROM report_files WHERE report_name = ? AND file_name = 'report.pdf'", (REPORT,)
        )
        await store.close()
        assert row is not None, "the report has no PDF"
        pdf = Path(tmp) / "report.pdf"
        pdf.write_bytes(bytes(row["data"]))
        subprocess.run(["pdftoppm", "-png", "-r", "133", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(out / "report-week")], check=True, timeout=120)  # fmt: skip
    return [archive, out / "report-week.png"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs", help="where the PNG files go (default docs/)"
    )
    args = parser.parse_args()
    for path in asyncio.run(make(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
