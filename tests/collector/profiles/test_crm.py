"""CRM import: documented columns, bad rows reported by line number, good rows kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector.cli import main
from collector.crm import parse_subscribers
from collector.store import open_store
from collector.store.base import insights

GOOD = "gateway_id,subscriber_id,plan_down_mbps,plan_up_mbps,price,contract_end,area,community\n"


NO_CHURN_COLUMNS = {"tenure_months": None, "complaints": None, "arrears": None}


def test_churn_columns_are_optional_numbers_and_bad_ones_name_their_line() -> None:
    text = (
        "gateway_id,subscriber_id,plan_down_mbps,tenure_months,complaints,arrears\n"
        "gw-1,S1,300,7,2,0\n"
        "gw-2,S2,300,seven,,\n"
        "gw-3,S3,300,,-1,\n"
        "gw-4,S4,300,,,12.5\n"
    )
    result = parse_subscribers(text)
    assert result.errors == [
        (3, "tenure_months is not a number: 'seven'"),
        (4, "complaints must be >= 0: '-1'"),
    ]
    assert [(r["gateway_id"], r["tenure_months"], r["complaints"], r["arrears"]) for r in result.rows] == [
        ("gw-1", 7.0, 2.0, 0.0),
        ("gw-4", None, None, 12.5),
    ]


def test_good_rows_are_typed_and_optional_columns_may_be_empty() -> None:
    result = parse_subscribers(GOOD + "gw-1,S1,300,50,39.90,2026-03-31,north,north-1\ngw-2,S2,100,,,,,\n")
    assert result.errors == [] and result.warnings == []
    assert result.rows == [
        {"gateway_id": "gw-1", "subscriber_id": "S1", "plan_down_mbps": 300.0, "plan_up_mbps": 50.0, "price": 39.9,
         "contract_end": "2026-03-31", "area": "north", "community": "north-1", **NO_CHURN_COLUMNS},
        {"gateway_id": "gw-2", "subscriber_id": "S2", "plan_down_mbps": 100.0, "plan_up_mbps": None, "price": None,
         "contract_end": None, "area": None, "community": None, **NO_CHURN_COLUMNS},
    ]  # fmt: skip


def test_bad_rows_are_reported_with_their_line_and_the_rest_kept() -> None:
    text = (
        "\ufeffGateway_ID,Subscriber_ID,Plan_Down_Mbps,price,contract_end,area,notes\n"  # line 1
        "gw-1,S1,300,39,2026-03-31,north,ok\n"  # 2
        "gw 2,S2,300,39,,north,\n"  # 3: bad id
        "gw-3,,300,39,,north,\n"  # 4: no subscriber
        "gw-4,S4,fast,39,,north,\n"  # 5: not a number
        "gw-5,S5,0,39,,north,\n"  # 6: zero speed
        "gw-6,S6,100,-1,,north,\n"  # 7: negative price
        "gw-7,S7,100,10,31/03/2026,north,\n"  # 8: not ISO
        "gw-8,S8,100,10,,north,,extra\n"  # 9: one field too many
        "\n"  # 10: blank, skipped
        "gw-1,S1b,500,49,,south,\n"  # 11: again: this line wins
    )
    result = parse_subscribers(text)
    assert [line for line, _ in result.errors] == [3, 4, 5, 6, 7, 8, 9]
    assert "gateway_id is not a valid gateway id" in result.errors[0][1]
    assert result.errors[1][1] == "subscriber_id is missing"
    assert result.errors[2][1] == "plan_down_mbps is not a number: 'fast'"
    assert "contract_end is not a YYYY-MM-DD date" in result.errors[5][1]
    assert result.warnings == [
        (1, "ignored column(s): notes"),
        (11, "gateway gw-1 already on line 2: this line wins"),
    ]
    assert [(r["gateway_id"], r["subscriber_id"], r["area"]) for r in result.rows] == [
        ("gw-1", "S1b", "south")
    ]


def test_a_file_without_the_required_columns_is_refused_whole() -> None:
    result = parse_subscribers("gateway_id,price\ngw-1,3\n")
    assert result.rows == [] and result.errors == [(1, "missing column(s): subscriber_id, plan_down_mbps")]
    assert parse_subscribers("").errors == [(1, "the file is empty")]


def test_the_command_imports_good_rows_and_exits_1_on_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "crm.csv"
    csv.write_text(GOOD + "gw-1,S1,300,50,39.90,2026-03-31,north,north-1\ngw-2,S2,x,,,,,\n")
    db = f"sqlite:///{tmp_path}/c.db"
    assert main(["import-subscribers", str(csv), "--db", db]) == 1
    out, err = capsys.readouterr()
    assert "imported 1 subscribers; 1 bad rows skipped" in out
    assert f"{csv}:3: plan_down_mbps is not a number: 'x'" in err
    csv.write_text(GOOD + "gw-1,S1,500,50,39.90,2026-03-31,south,south-1\n")
    assert main(["import-subscribers", str(csv), "--db", db]) == 0

    async def read() -> dict[str, dict[str, object]]:
        store = open_store(db)
        await store.open()
        try:
            return await insights(store).subscribers()
        finally:
            await store.close()

    rows = asyncio.run(read())
    assert (
        list(rows) == ["gw-1"] and rows["gw-1"]["plan_down_mbps"] == 500.0 and rows["gw-1"]["area"] == "south"
    )
    assert main(["import-subscribers", str(tmp_path / "missing.csv"), "--db", db]) == 2


def test_the_command_reports_warnings_and_refused_files_as_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    csv = tmp_path / "crm.csv"
    csv.write_text("gateway_id,subscriber_id,plan_down_mbps,notes\ngw-1,S1,300,x\ngw-1,S1,500,y\n")
    assert main(["import-subscribers", str(csv), "--db", db]) == 0  # warnings alone are not refusals
    out, err = capsys.readouterr()
    assert "imported 1 subscribers; 0 bad rows skipped" in out
    assert err.splitlines() == [
        f"{csv}:1: warning: ignored column(s): notes",
        f"{csv}:3: warning: gateway gw-1 already on line 2: this line wins",
    ]
    csv.write_text("gateway_id,price\ngw-2,3\n")  # no required columns: every row refused
    assert main(["import-subscribers", str(csv), "--db", db]) == 1
    out, err = capsys.readouterr()
    assert "imported 0 subscribers; 1 bad rows skipped" in out
    assert err.strip() == f"{csv}:1: missing column(s): subscriber_id, plan_down_mbps"


def test_the_command_exits_2_when_the_file_or_the_store_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    latin = tmp_path / "latin1.csv"
    latin.write_bytes((GOOD + "gw-1,S1,300,50,39.90,2026-03-31,Paris,Cr\xe9teil\n").encode("latin-1"))
    assert main(["import-subscribers", str(latin), "--db", db]) == 2
    assert f"cannot read {latin}" in capsys.readouterr().err
    csv = tmp_path / "crm.csv"
    csv.write_text(GOOD + "gw-1,S1,300,50,39.90,2026-03-31,north,north-1\n")
    assert main(["import-subscribers", str(csv), "--db", "nosuch:///x"]) == 2
    assert "no store for URL 'nosuch:///x'" in capsys.readouterr().err
    # a store that cannot be opened (a directory where the database file should be)
    assert main(["import-subscribers", str(csv), "--db", f"sqlite:///{tmp_path}"]) == 2
    assert "sqlite: cannot open" in capsys.readouterr().err
