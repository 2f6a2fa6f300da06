"""The operator's domain rules: checked input, the TOML file for operators who deploy by file, the
fold's snapshot; and the recount of a window's bytes and the ISO weeks, as pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.dpi import rules, unclassified
from collector.dpi.recount import recount
from collector.profiles import layout
from collector.store import Store


def test_weeks_are_iso_and_sort_as_time_does() -> None:
    assert unclassified.iso_week(1_795_996_800) == 202649  # Monday 2026-11-30
    assert unclassified.iso_week(1_767_139_200) == 202601  # Thursday 2025-12-31 is in 2026-W01
    assert unclassified.week_label(202601) == "2026-W01" and unclassified.parse_week("2026-W01") == 202601
    assert unclassified.weeks_before(202602, 3) == 202551 and unclassified.weeks_before(202053, 1) == 202052
    for bad in ("2026-49", "2026-W54", "2025-W53", "W49", "2026-W49x"):  # 2025 has 52 ISO weeks
        with pytest.raises(ValueError, match=r"week|ISO"):
            unclassified.parse_week(bad)


def test_rules_are_checked() -> None:
    assert rules.checked(" Example.ORG. ", "video") == ("example.org", "video")
    with pytest.raises(rules.RuleError, match="not a domain"):
        rules.checked("example", "video")
    with pytest.raises(rules.RuleError, match=r"category .movies. for example\.org"):
        rules.checked("example.org", "movies")


def test_a_rules_file_names_what_is_wrong() -> None:
    assert rules.parse_file('[domains]\n"example.org" = "video"\n"plug.example" = "iot"\n') == {
        "example.org": "video", "plug.example": "iot"}  # fmt: skip
    for text, message in (('[domains]\n"example.org" = "movies"\n', "f.toml: category 'movies'"),
                          ('[domain]\n"x.org" = "video"\n', "f.toml: unknown table 'domain'"),
                          ('[domains]\n"x.org" = 3\n', "f.toml: x.org: the category must be a string"),
                          ("[domains\n", "f.toml: ")):  # fmt: skip
        with pytest.raises(rules.RuleError, match=message):
            rules.parse_file(text, "f.toml")


async def test_the_file_owns_its_rules_and_leaves_the_pages_alone(store: Store, tmp_path: Path) -> None:
    await rules.assign(store.db, "page.example", "shopping", actor="analyst")
    path = tmp_path / "domains.toml"
    path.write_text('[domains]\n"a.example" = "video"\n"b.example" = "game"\n')
    assert await rules.load_path(store.db, str(path)) == (2, 0)
    path.write_text('[domains]\n"a.example" = "music"\n')
    assert await rules.load_path(store.db, str(path)) == (1, 1)  # b.example left the file: its rule goes
    listed = {r.domain: (r.category, r.source) for r in await rules.listing(store.db)}
    assert listed == {"a.example": ("music", "file"), "page.example": ("shopping", "ui")}
    with pytest.raises(rules.RuleError, match="cannot read"):
        await rules.load_path(store.db, str(tmp_path / "missing.toml"))
    snapshot = rules.RuleSnapshot()
    assert await snapshot.refresh(store.db) and snapshot.categories["a.example"] == "music"
    assert not await snapshot.refresh(store.db)  # unchanged: one small query, no reload
    await rules.remove(store.db, "page.example")
    assert await snapshot.refresh(store.db) and "page.example" not in snapshot.categories


def _window(web_down: int, other_down: int = 0) -> dict[int, int]:
    return {layout.cat_at("web", layout.CAT_DOWN): web_down, layout.cat_at("web", layout.CAT_UP): 1000,
            layout.cat_at("other", layout.CAT_DOWN): other_down}  # fmt: skip


def test_recount_moves_bytes_and_never_more_than_were_counted() -> None:
    sparse = _window(1000)
    rows = [{"domain": "v.example", "category": "web", "bytes_up": 10, "bytes_down": 600, "active_minutes": 4},
            {"domain": "w.example", "category": "web", "bytes_up": 0, "bytes_down": 900, "active_minutes": 2},
            {"domain": "unruled.example", "category": "web", "bytes_down": 100}]  # fmt: skip
    moved = recount(sparse, rows, {"v.example": "video", "w.example": "game"}, 900)
    at = layout.cat_at
    assert sparse[at("video", layout.CAT_DOWN)] == 600 and sparse[at("video", layout.CAT_ENGAGED)] == 4
    assert sparse[at("game", layout.CAT_DOWN)] == 400  # only what web still held
    assert sparse[at("web", layout.CAT_DOWN)] == 0 and moved == 610 + 400
    assert sparse[layout.ENGAGED] == 4


def test_recount_to_a_device_category_counts_as_background() -> None:
    sparse = _window(0, other_down=5000)
    recount(sparse, [{"domain": "plug.example", "category": "other", "bytes_down": 5000, "active_minutes": 15}],
            {"plug.example": "iot"}, 900)  # fmt: skip
    assert sparse[layout.cat_at("iot", layout.CAT_DOWN)] == 5000
    assert (
        sparse[layout.BACKGROUND + layout.BG_BYTES] == 5000
        and sparse[layout.BACKGROUND + layout.BG_MIN] == 15
    )
    assert sparse.get(layout.ENGAGED, 0) == 0 and sparse.get(layout.cat_at("iot", layout.CAT_ENGAGED), 0) == 0


def test_the_cli_loads_a_file_and_names_a_bad_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from collector.cli import main

    db = f"sqlite:///{tmp_path}/cli.db"
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[domains]\n"a.example" = "video"\n')
    bad.write_text('[domains]\n"a.example" = "movies"\n')
    assert main(["dpi-domains", str(good), "--db", db]) == 0
    assert "1 domain rules from" in capsys.readouterr().out
    assert main(["dpi-domains", str(bad), "--db", db]) == 2
    assert "bad.toml: category 'movies' for a.example" in capsys.readouterr().err
