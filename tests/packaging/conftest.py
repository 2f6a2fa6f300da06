"""The feed package built once per session in a stand-in SDK (see openwrt_sdk.py), from a working tree."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.openwrt_feed import (
    SourcePackage,
    dump_metadata,
    install_src,
    parse_package_metadata,
    scan_feed,
)
from tests.packaging.openwrt_sdk import Ipk, Sdk, pack_ipk

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "packaging" / "openwrt"
FEED_NAME = "homescope"


@dataclass(frozen=True)
class Built:
    """What the SDK made of the feed: its metadata, the ipkg directory and the packed .ipk."""

    sdk: Sdk
    source: SourcePackage
    idir: Path
    ipk: Ipk


def working_tree_copy(dest: Path) -> Path:
    """The checkout's agent/, protocol/ and LICENSE as they are on disk: __pycache__, built .so and all."""
    for name in ("agent", "protocol"):
        shutil.copytree(ROOT / name, dest / name, symlinks=True)
    shutil.copy2(ROOT / "LICENSE", dest / "LICENSE")
    return dest


def build(topdir: Path, **make_vars: str) -> Built:
    sdk = Sdk.create(topdir, FEED_NAME, FEED, python=sys.executable)
    [package_dir] = scan_feed(topdir, FEED_NAME)
    [source] = parse_package_metadata(dump_metadata(topdir, FEED_NAME, package_dir, sdk.make_vars()))
    link = install_src(topdir, FEED_NAME, source)
    result = sdk.compile(link, **make_vars)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [idir] = (topdir / "build_dir" / "target").glob("*/ipkg-*/homescope-agent")
    return Built(sdk, source, idir, pack_ipk(idir, topdir / "bin" / "packages" / FEED_NAME))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``make package/homescope-agent/compile USE_SOURCE_DIR=<a copy of this working tree>``."""
    source = working_tree_copy(tmp_path_factory.mktemp("homescope-src"))
    return build(tmp_path_factory.mktemp("sdk"), USE_SOURCE_DIR=str(source))
