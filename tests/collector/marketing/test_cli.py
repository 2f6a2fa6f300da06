"""``import-outcomes`` and ``import-contacts``: bad rows named by line, good rows kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector.cli import main
from collector.store import open_store


async def _rows(url: str, sql: str) -> list[dict[str, object]]:
    store = open_store(url)
    await store.open()
    try:
        return await store.db.fetch(sql)
    finally:
        await store.close()


def test_import_outcomes_reports_bad_lines_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    f = tmp_path / "outcomes.csv"
    f.write_text(
        "\ufeffsubscriber_id,kind,offer_id,at,plan_down_mbps\n"
        "s1,order,mesh,2026-12-01,\n"
        "s2,order,yacht,2026-12-01,\n"
        "s3,plan_change,,2026-12-02T10:00:00,500\n"
        ",order,mesh,2026-12-01,\n"
        "s4,opt_out,,1765000000,\n"
        "s5,order,mesh,yesterday,\n",
        encoding="utf-8",
    )
    assert main(["import-outcomes", str(f), "--db", url]) == 1
    out = capsys.readouterr()
    assert f"{f}:3: offer_id is not an offer of the catalogue: 'yacht'" in out.err
    assert f"{f}:5: subscriber_id is missing" in out.err
    assert f"{f}:7: at is not YYYY-MM-DD[THH:MM:SS] or epoch seconds: 'yesterday'" in out.err
    assert "imported 3 outcomes; 3 bad rows skipped" in out.out
    kept = asyncio.run(_rows(url, "SELECT subscriber_id, kind FROM mkt_outcomes ORDER BY subscriber_id"))
    assert [(r["subscriber_id"], r["kind"]) for r in kept] == [
        ("s1", "order"),
        ("s3", "plan_change"),
        ("s4", "opt_out"),
    ]
    assert [
        r["subscriber_id"] for r in asyncio.run(_rows(url, "SELECT subscriber_id FROM mkt_opt_outs"))
    ] == ["s4"]


def test_import_contacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    f = tmp_path / "contacts.csv"
    f.write_text(
        "subscriber_id,name,phone,address\ns1,Zoë,+33 6,1 rue\n,Nobody,,\ns2,Al,,,extra\n", encoding="utf-8"
    )
    assert main(["import-contacts", str(f), "--db", url]) == 1
    err = capsys.readouterr().err
    assert f"{f}:3: subscriber_id is missing" in err and f"{f}:4: 1 more field(s) than the header" in err
    rows = asyncio.run(_rows(url, "SELECT subscriber_id, name FROM mkt_contact_fields"))
    assert rows == [{"subscriber_id": "s1", "name": "Zoë"}]
