"""Erasing a home reaches the files that name it, on both stores: the report archive (CSV and
HTML rewritten, the PDF printed again from the rewritten HTML) and the file sender's drop
folder; checked by scanning every file afterwards. Retention ages both out."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from collector.marketing.senders import FileSender, Outgoing
from collector.privacy import retention
from collector.privacy.erase import erase
from collector.privacy.files import expire_drop_files, names
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.reports.lease import StoreLeases
from collector.reports.pdf import chromium, html_to_pdf
from collector.reports.schedule import produce_due
from collector.reports.settings import ReportSettings
from collector.settings import Settings
from collector.store import Store
from collector.store.base import insights
from collector.store.sql import Statement
from tests.collector.reports.fleet import FleetSpec, fill

NOV = (date(2026, 11, 1) - date(1970, 1, 1)).days
# Wi-Fi of the i % 5 == 0 homes gets worse in week 48: the report lists them by gateway id
SPEC = FleetSpec(homes=12, first_day=NOV + 9, days=21, worse_from=NOV + 23, areas=2, prefix="era")
GONE, KEPT = SPEC.gid(0), SPEC.gid(5)


def _pdf_text(data: bytes, tmp: Path) -> str:
    path = tmp / "r.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


async def _files(store: Store) -> dict[str, bytes]:
    rows = await store.db.fetch("SELECT report_name, file_name, data FROM report_files")
    return {f"{r['report_name']}/{r['file_name']}": bytes(r["data"]) for r in rows}


@pytest.mark.timeout(180)
async def test_erase_rewrites_the_report_archive_and_the_drop_folder(store: Store, tmp_path: Path) -> None:
    if chromium() is None:
        pytest.fail("chromium is not installed: run `sudo apt-get install -y chromium`")
    await fill(store, SPEC)
    await evaluate(insights(store), load_config(), as_of=(SPEC.first_day + SPEC.days) * 86400, workers=1)
    made = await produce_due(store, load_config(), ReportSettings(periods="week"), StoreLeases(store.db), "t",
                             date(2026, 12, 2))  # fmt: skip
    assert "week-2026-W48" in made
    before = await _files(store)
    worse_csv = before["week-2026-W48/wifi_worse.csv"].decode("utf-8-sig")
    assert GONE in worse_csv and KEPT in worse_csv  # the report names both homes
    assert GONE in _pdf_text(before["week-2026-W48/report.pdf"], tmp_path)
    drop = tmp_path / "drop"
    sender = FileSender(drop)
    await sender.send([Outgoing(1, 1, "sub-0", GONE, "sms", "offer", "mesh", "Hello"),
                       Outgoing(2, 1, "sub-5", KEPT, "sms", "offer", "mesh", "Hello")])  # fmt: skip
    await sender.send([Outgoing(3, 2, "sub-0", GONE, "sms", "offer", "mesh", "Again")])

    done = await erase(store.db, "gateway", GONE, key=b"k" * 32, actor="test", print_pdf=html_to_pdf,
                       drop_folder=drop)  # fmt: skip

    after = await _files(store)
    assert set(after) == set(before)  # every file is still there, rewritten where it named the home
    for name, data in after.items():
        text = _pdf_text(data, tmp_path) if name.endswith(".pdf") else data.decode("utf-8")
        assert not names(text, [GONE]), name
    assert KEPT in after["week-2026-W48/wifi_worse.csv"].decode("utf-8-sig")
    assert KEPT in _pdf_text(after["week-2026-W48/report.pdf"], tmp_path)  # printed again, others kept
    assert done.files.reprinted == ["report week-2026-W48/report.pdf"]
    batches = sorted(drop.glob("*.csv"))
    assert len(batches) == 1 and done.files.removed  # the batch for GONE alone is deleted
    kept = batches[0].read_text(encoding="utf-8")
    assert GONE not in kept and KEPT in kept and "sub-0" not in kept
    audit = await store.db.fetch("SELECT tables FROM erasures")
    assert len(audit) == 1 and GONE not in audit[0]["tables"] and '"files"' in audit[0]["tables"]


async def test_erase_without_a_printer_removes_the_pdf_naming_the_home(store: Store) -> None:
    await fill(store, SPEC)
    await evaluate(insights(store), load_config(), as_of=(SPEC.first_day + SPEC.days) * 86400, workers=1)
    await store.db.execute(Statement(
        "INSERT INTO report_archive (name, kind, first_day, last_day, created_at, owner, seconds, headline)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ("week-2026-W48", "week", "2026-11-23", "2026-11-29", time.time(), "t",
                                               1.0, "{}")))  # fmt: skip
    for file_name, kind, data in (("report.html", "text/html", f"<table><tr><td>{GONE}</td></tr></table>"),
                                  ("report.pdf", "application/pdf", "%PDF-1.4 stand-in"),
                                  ("kpis.csv", "text/csv", "\ufeffa,b\r\n1,2\r\n")):  # fmt: skip
        await store.db.execute(Statement(
            "INSERT INTO report_files (report_name, file_name, content_type, size, data) VALUES (?, ?, ?, ?, ?)",
            ("week-2026-W48", file_name, kind, len(data), data.encode())))  # fmt: skip
    done = await erase(store.db, "gateway", GONE, key=b"k" * 32, actor="test", print_pdf=None)
    assert done.files.removed == ["report week-2026-W48/report.pdf"]
    assert set(await _files(store)) == {"week-2026-W48/report.html", "week-2026-W48/kpis.csv"}
    assert (await _files(store))["week-2026-W48/report.html"] == b"<table></table>"


async def test_retention_ages_out_old_reports_and_drop_batches(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = time.time() - 500 * 86400
    await store.db.execute(Statement(
        "INSERT INTO report_archive (name, kind, first_day, last_day, created_at, owner, seconds, headline)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ("week-2025-W30", "week", "2025-07-21", "2025-07-27", old, "t", 1.0,
                                               "{}")))  # fmt: skip
    await store.db.execute(Statement(
        "INSERT INTO report_files (report_name, file_name, content_type, size, data) VALUES (?, ?, ?, ?, ?)",
        ("week-2025-W30", "kpis.csv", "text/csv", 1, b"x")))  # fmt: skip
    drop = tmp_path / "drop"
    await FileSender(drop).send([Outgoing(1, 1, "sub-0", GONE, "sms", "offer", "mesh", "Hello")])
    stale = next(drop.glob("*.csv"))
    os.utime(stale, (old, old))
    await FileSender(drop).send([Outgoing(2, 1, "sub-1", KEPT, "sms", "offer", "mesh", "Hello")])
    monkeypatch.setenv("HOMESCOPE_SENDER", f"file:{drop}")
    deleted = await retention.retain(store.db, Settings(db=store.url), time.time())
    assert (
        deleted["report_files"] == 1 and deleted["report_archive"] == 1 and deleted["drop_folder_files"] == 1
    )
    assert not stale.exists() and len(list(drop.glob("*.csv"))) == 1
    assert expire_drop_files(None, 1) == 0
