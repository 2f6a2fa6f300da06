"""The packaged domain tables, the operator's own table, and the importer that regenerates the imported one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agent.dpi import DpiError
from agent.dpi.classifier import CATEGORIES, PACKAGED_TABLES, Classifier

REPO = Path(__file__).resolve().parents[3]


def load_importer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_domains", REPO / "scripts" / "import_domains.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_domains"] = module
    spec.loader.exec_module(module)
    return module


def test_packaged_tables_cover_every_category() -> None:
    classifier = Classifier()
    per_category = {c: 0 for c in CATEGORIES}
    for category in classifier.categories.values():
        per_category[category] += 1
    assert all(count > 0 for count in per_category.values()), per_category
    assert (REPO / "agent" / "dpi" / PACKAGED_TABLES[1]).is_file()
    # Imported entries are found (names only the imported table lists).
    for host, app in (
        ("www.hotstar.com", "hotstar"),
        ("abema.tv", "abema"),
        ("www.coupang.com", "coupang"),
        ("nicovideo.jp", "niconico"),
        ("humblebundle.com", "game_sites"),
    ):
        verdict = classifier.by_host(host)
        assert verdict is not None and verdict.app == app, host


def test_operator_table_extends_and_overrides() -> None:
    extra = "isp_tv\tvideo\ttv.myisp.example\nshop_local\tshopping\tcoupang.com\n"
    classifier = Classifier(extra_tables=[("/etc/homescope/domains.tsv", extra)])
    tv = classifier.by_host("live.tv.myisp.example")
    assert tv is not None and (tv.app, tv.category) == ("isp_tv", "video")
    overridden = classifier.by_host("www.coupang.com")
    assert overridden is not None and overridden.app == "shop_local"
    assert Classifier().by_host("live.tv.myisp.example") is None


def test_operator_table_errors_name_the_file_and_line() -> None:
    with pytest.raises(DpiError, match=r"/etc/x.tsv line 2: unknown category 'movies'"):
        Classifier(extra_tables=[("/etc/x.tsv", "ok_app\tvideo\tok.example\nbad\tmovies\tbad.example\n")])
    with pytest.raises(DpiError, match="already has category"):
        Classifier(extra_tables=[("/etc/x.tsv", "netflix\tshopping\tnetflix.example\n")])


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_importer_maps_lists_follows_includes_and_skips(tmp_path: Path) -> None:
    importer = load_importer()
    source = tmp_path / "src"
    write(
        source / "data" / "video-a",
        "include:video-a-cdn\ninclude:other-app\nvideo-a.example\n"
        "full:edge.video-a.example\nregexp:^x\\.example$\n"
        "ads.video-a.example @ads\nshared-cdn.example\nold.example\n",
    )
    write(source / "data" / "video-a-cdn", "video-a-cdn.example # a CDN of its own\n")
    write(source / "data" / "other-app", "other.example\nvideo-a.example\n")
    write(source / "COMMITS", "video-a\t" + "a" * 40 + "\n")
    mapping = write(
        tmp_path / "map.tsv",
        "video-a\tvideo_a\tvideo\nother-app\tother_app\tsocial\n@exclude\tshared-cdn.example\n",
    )
    base = write(tmp_path / "base.tsv", "video_a\tvideo\told.example\n")
    out = tmp_path / "out.tsv"
    assert (
        importer.main(
            ["--source", str(source), "--map", str(mapping), "--base", str(base), "--out", str(out)]
        )
        == 0
    )
    text = out.read_text(encoding="utf-8")
    assert "# list video-a @ " + "a" * 40 in text
    assert "MIT" in text
    rows = {
        line.split("\t")[0]: line.split("\t")[2].split()
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    # The included CDN list joins its includer; a mapped include stays its own app; the base table wins;
    # @ads, regexp: and excluded entries are left out; a domain claimed first keeps its app.
    assert rows == {
        "video_a": ["video-a-cdn.example", "video-a.example", "edge.video-a.example"],
        "other_app": ["other.example"],
    }
    # The output loads as a table next to the base one.
    classifier = Classifier(base.read_text(encoding="utf-8") + text)
    verdict = classifier.by_host("www.video-a-cdn.example")
    assert verdict is not None and verdict.app == "video_a"


def test_importer_refuses_a_category_the_base_contradicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    importer = load_importer()
    write(tmp_path / "src" / "data" / "x", "x.example\n")
    mapping = write(tmp_path / "map.tsv", "x\tnetflix\tshopping\n")
    assert (
        importer.main(
            ["--source", str(tmp_path / "src"), "--map", str(mapping), "--out", str(tmp_path / "out.tsv")]
        )
        == 2
    )
    assert "netflix is video in the base table" in capsys.readouterr().err


def test_importer_refuses_an_unknown_category(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    importer = load_importer()
    mapping = write(tmp_path / "map.tsv", "# reviewed\nx\tx_app\tmovies\n")
    assert (
        importer.main(["--source", str(tmp_path), "--map", str(mapping), "--out", str(tmp_path / "o")]) == 2
    )
    assert "map.tsv:2: unknown category 'movies'" in capsys.readouterr().err


def test_importer_map_and_scoring_map_agree() -> None:
    from tests.agent.dpi import ndpi_reference as ref

    disagree = {
        app: (category, ref.NDPI_APP_CATEGORY[app])
        for app, category in ref.importer_map().items()
        if ref.NDPI_APP_CATEGORY[app] != category
    }
    assert not disagree, disagree
    assert len(ref.importer_map()) > 150


def test_importer_reads_ndpi_host_table(tmp_path: Path) -> None:
    importer = load_importer()
    c_file = write(
        tmp_path / "ndpi_content_match.c.inc",
        """
static ndpi_protocol_match host_match[] =
  {
   { "example-video.com",   "ExVideo", NDPI_PROTOCOL_X, NDPI_PROTOCOL_CATEGORY_VIDEO, 0, 0 },
   { "exvideo.",            "ExVideo", NDPI_PROTOCOL_X, NDPI_PROTOCOL_CATEGORY_VIDEO, 0, 0 },
   { "-buy.exshop.com", /* a comment */ "ExShop", NDPI_PROTOCOL_Y, NDPI_PROTOCOL_CATEGORY_SHOPPING, 0, 0 },
   { "exshop-",             "ExShop", NDPI_PROTOCOL_Y, NDPI_PROTOCOL_CATEGORY_SHOPPING, 0, 0 },
   { "old.example",         "ExShop", NDPI_PROTOCOL_Y, NDPI_PROTOCOL_CATEGORY_SHOPPING, 0, 0 },
   { "unmapped.example",    "Other", NDPI_PROTOCOL_Z, NDPI_PROTOCOL_CATEGORY_WEB, 0, 0 },
   { NULL, NULL, 0, 0, 0, 0 }
  };
static ndpi_category_match category_match[] = { { "not.a.host.match", 0, 0 } };
""",
    )
    mapping = write(tmp_path / "map.tsv", "ExVideo\tex_video\tvideo\nExShop\tex_shop\tshopping\n")
    base = write(tmp_path / "base.tsv", "ex_shop\tshopping\told.example\n")
    out = tmp_path / "out.tsv"
    assert (
        importer.main(
            [
                "--ndpi",
                str(c_file),
                "--commit",
                "c" * 40,
                "--map",
                str(mapping),
                "--base",
                str(base),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text(encoding="utf-8")
    assert "LGPL-3.0" in text and "# list host_match @ " + "c" * 40 in text
    rows = {
        line.split("\t")[0]: line.split("\t")[2].split()
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    # "name." is any TLD, "-name" a label's end; a substring pattern has no equivalent; the base wins.
    assert rows == {"ex_video": ["example-video.com", "exvideo.*"], "ex_shop": ["*-buy.exshop.com"]}
    classifier = Classifier(base.read_text(encoding="utf-8") + text)
    for host, app in (("cdn.exvideo.co.uk", "ex_video"), ("p12-buy.exshop.com", "ex_shop")):
        verdict = classifier.by_host(host)
        assert verdict is not None and verdict.app == app, host
