"""OpenWrt's feed scan and ``scripts/feeds install`` logic, reimplemented to run on a feed folder.

The rules, and where they come from (openwrt/openwrt unless noted):

- ``scripts/feeds`` ``update_index``: a feed is scanned with ``include/scan.mk`` as ``SCAN_DIR=feeds/<name>``
  and ``SCAN_DEPTH=5``.
- ``include/scan.mk``, the ``$(FILELIST)`` rule: ``find -L feeds/<name> -mindepth 1 -maxdepth 5 -name Makefile``,
  kept when a line matches ``call (Build/DefaultTargets|Build(Package|Target)|.+Package)``, then
  ``sed -e 's#^feeds/<name>/##' -e 's#/Makefile:.*##'`` and ``uniq``: each result is a *package directory*
  (a Makefile at the feed root yields the string ``Makefile:<the matching line>``, which is no directory).
  The ``PackageDir`` rule then runs ``make DUMP=1 -C feeds/<name>/<dir>`` and prefixes its output with
  ``Source-Makefile: feeds/<name>/<dir>/Makefile``.
- ``scripts/metadata.pm`` ``parse_package_metadata``: the source package is named after the Makefile's
  directory (``Source-Makefile: ... ([^/]+)/Makefile``); ``Package:`` opens a binary package; ``Depends:``,
  ``Build-Depends:`` are split on whitespace; ``Description:`` runs to a line starting ``@@``.
- ``scripts/feeds`` ``do_install_src``: ``ln -sf ../../../<path> package/feeds/<feed>/`` (so
  ``make package/<dir>/compile`` works); ``install_src`` walks each package's ``depends``, skipping entries
  with ``@``, stripping ``+`` and any ``CONDITION:`` prefix, and installs each from the feed that has it.
- ``include/package.mk`` ``BuildPackage``: a package missing TITLE, CATEGORY, SECTION or VERSION is an error.

Versions read (via the search tool's stored copies): include/scan.mk at a3b41b5 (``PackageDir``, lines 24-33;
``$(FILELIST)``, lines 35-37), scripts/feeds at 737d3d7 (``update_index``, ``do_install_src``, ``install_src``,
``install_package``), scripts/metadata.pm at fd1feb3 (``parse_package_metadata``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SCAN_DEPTH = 5
_CALLS = re.compile(r"call (Build/DefaultTargets|Build(Package|Target)|.+Package)")


def scan_feed(topdir: Path, feed: str) -> list[str]:
    """The package directories ``scripts/feeds update`` finds in ``feeds/<feed>`` (scan.mk's FILELIST)."""
    scan_dir = f"feeds/{feed}"
    makefiles: list[str] = []
    for dirpath, dirnames, filenames in os.walk(topdir / scan_dir, followlinks=True):
        rel = Path(dirpath).relative_to(topdir).as_posix()
        depth = rel.count("/") - scan_dir.count("/")  # of the files in this directory, below SCAN_DIR
        if depth + 1 >= SCAN_DEPTH:
            dirnames[:] = []
        dirnames.sort()
        if "Makefile" in filenames:
            makefiles.append(f"{rel}/Makefile")
    entries: list[str] = []
    for makefile in sorted(makefiles):
        for line in (topdir / makefile).read_text(errors="replace").splitlines():
            if _CALLS.search(line):
                entry = re.sub(
                    r"/Makefile:.*", "", re.sub(f"^{re.escape(scan_dir)}/", "", f"{makefile}:{line}")
                )
                if not entries or entries[-1] != entry:  # uniq
                    entries.append(entry)
    return entries


@dataclass
class BinaryPackage:
    """One ``Package:`` of the metadata: what ``opkg`` installs."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)
    depends: list[str] = field(default_factory=list)
    description: str = ""


@dataclass
class SourcePackage:
    """One scanned Makefile (metadata.pm's ``%srcpackage`` entry)."""

    makefile: str
    name: str
    packages: list[BinaryPackage] = field(default_factory=list)
    build_depends: list[str] = field(default_factory=list)


def parse_package_metadata(text: str) -> list[SourcePackage]:
    """metadata.pm's parse of ``make DUMP=1`` output (the fields this package uses)."""
    sources: list[SourcePackage] = []
    src: SourcePackage | None = None
    pkg: BinaryPackage | None = None
    lines = iter(text.splitlines())
    for line in lines:
        m = re.match(r"^Source-Makefile: \s*((?:package/)?((?:.+/)?([^/]+))/Makefile)\s*$", line)
        if m:
            src = SourcePackage(makefile=m.group(1), name=m.group(3))
            sources.append(src)
            pkg = None
            continue
        if src is None:
            continue
        if m := re.match(r"^Package:\s*(.+?)\s*$", line):
            pkg = BinaryPackage(m.group(1))
            src.packages.append(pkg)
        elif m := re.match(r"^Build-Depends: \s*(.+)\s*$", line):
            src.build_depends = m.group(1).split()
        elif pkg is None:
            continue
        elif m := re.match(r"^Depends: \s*(.+)\s*$", line):
            pkg.depends = m.group(1).split()
        elif m := re.match(r"^Description: \s*(.*)\s*$", line):
            body = [m.group(1)]
            for more in lines:
                if more.startswith("@@"):
                    break
                body.append(more)
            pkg.description = "\n".join(body).strip()
        elif m := re.match(r"^([A-Za-z-]+): \s*(.+?)\s*$", line):
            pkg.fields[m.group(1)] = m.group(2)
    return sources


def dump_metadata(topdir: Path, feed: str, package_dir: str, make_vars: dict[str, str]) -> str:
    """scan.mk's PackageDir rule: ``Source-Makefile:`` plus ``make DUMP=1`` of one package directory."""
    makefile = f"feeds/{feed}/{package_dir}/Makefile"
    args = [f"{k}={v}" for k, v in make_vars.items()]
    result = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "DUMP=1",
            "-C",
            str(topdir / "feeds" / feed / package_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"ERROR: please fix {makefile}\n{result.stderr}")
    return f"Source-Makefile: {makefile}\n{result.stdout}\n"


def dependency_names(depends: Iterable[str]) -> list[str]:
    """scripts/feeds ``install_src``: the package names a ``Depends:`` list makes it install."""
    names = []
    for dep in depends:
        if "@" in dep:
            continue
        name = re.sub(r"^.+:", "", dep.removeprefix("+"))
        if name:
            names.append(name)
    return names


def install_src(topdir: Path, feed: str, source: SourcePackage) -> Path:
    """``do_install_src``: link the package into ``package/feeds/<feed>/``; return the link."""
    path = source.makefile.removesuffix("/Makefile")
    dest = topdir / "package" / "feeds" / feed
    dest.mkdir(parents=True, exist_ok=True)
    link = dest / Path(path).name
    if link.is_symlink():
        link.unlink()
    link.symlink_to(Path("../../..") / path)
    return link
