"""The OpenWrt split of CPython 3.11's standard library, and a root holding only chosen parts of it.

OpenWrt 23.05 and 24.10 ship Python 3.11 as ``libpython3`` + ``python3-base`` (the interpreter and what it
needs to start) + ``python3-light`` (most of the standard library) and one ``python3-<name>`` package per
module set split out of it. The split is transcribed from the OpenWrt packages feed:

- ``lang/python/python3/Makefile``: ``PYTHON3_BASE_LIB_FILES`` (python3-base), the
  ``Py3Package/python3-light/filespec`` (everything under ``/usr/lib/python3.11`` minus the files every split
  package claims, minus idlelib, tkinter, turtledemo, ``distutils/cygwinccompiler.py``, ``_osx_support.py``),
  the ``DEPENDS`` of python3-base/-light, and ``--disable-test-modules`` (no ``test`` package, no ``_test*``);
- ``lang/python/python3/files/python3-package-*.mk``: each ``Py3BasePackage`` call's file list and its
  ``DEPENDS`` (e.g. python3-codecs = the ``_codecs_*`` extensions + ``unicodedata``; python3-urllib depends on
  python3-email);
- ``lang/python/python-paho-mqtt/Makefile`` and ``python-msgpack/Makefile``: their ``DEPENDS``. The paho
  entry (+python3-uuid +python3-logging +python3-urllib) is the feed's paho 2.x Makefile as quoted in
  ``shared/reviews/openwrt.md``; the copy the search tool stores is the older 1.4.0 one (+python3-light).
  paho 2.2 itself imports ``uuid``, ``urllib.request`` and ``logging`` at the top of ``client.py``.

Versions read: lang/python/python3/Makefile at 99c91ca (Python 3.11 era: libpython3, ``--disable-test-modules``,
``PYTHON3_PKG_BUILD:=0``), files/python3-package-*.mk as the search tool stores them (codecs 59071be, ctypes
013747f, urllib and email 3b3fa86, openssl 328df72, sqlite3 59071be, uuid 40ca2f6, lzma 59071be, ...).

A root built here holds real files copied from this machine's CPython 3.11 (a shared-libpython build whose
extension modules all live in ``lib-dynload``, as on OpenWrt), so a module of a package left out is really
absent: importing it fails as it would on the router.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
LIB = f"usr/lib/{PY}"

#: ``PYTHON3_BASE_LIB_FILES`` (paths below /usr/lib/python3.11).
BASE_FILES = (
    "encodings",
    "_collections_abc.py",
    "_sitebuiltins.py",
    "_sysconfigdata_*.py",
    "_weakrefset.py",
    "abc.py",
    "codecs.py",
    "genericpath.py",
    "io.py",
    "os.py",
    "posixpath.py",
    "site.py",
    "sysconfig.py",
    "stat.py",
)

#: Each ``Py3BasePackage``'s files: a directory, a module file, or ``lib-dynload/<name>`` (an extension).
SPLIT: dict[str, tuple[str, ...]] = {
    "python3-asyncio": ("asyncio",),
    "python3-cgi": ("cgi.py",),
    "python3-cgitb": ("cgitb.py",),
    "python3-codecs": (
        "lib-dynload/_codecs_cn",
        "lib-dynload/_codecs_hk",
        "lib-dynload/_codecs_iso2022",
        "lib-dynload/_codecs_jp",
        "lib-dynload/_codecs_kr",
        "lib-dynload/_codecs_tw",
        "lib-dynload/unicodedata",
    ),
    "python3-ctypes": ("ctypes", "lib-dynload/_ctypes"),
    "python3-dbm": ("dbm", "lib-dynload/_dbm", "lib-dynload/_gdbm"),
    "python3-decimal": ("decimal.py", "lib-dynload/_decimal"),
    "python3-distutils": ("distutils",),
    "python3-email": ("email",),
    "python3-lib2to3": ("lib2to3",),
    "python3-logging": ("logging",),
    "python3-lzma": ("lzma.py", "lib-dynload/_lzma"),
    "python3-multiprocessing": ("multiprocessing", "lib-dynload/_multiprocessing"),
    "python3-ncurses": ("curses", "lib-dynload/_curses", "lib-dynload/_curses_panel"),
    "python3-openssl": ("lib-dynload/_hashlib", "lib-dynload/_ssl"),
    "python3-pydoc": ("doctest.py", "pydoc.py", "pydoc_data"),
    "python3-readline": ("lib-dynload/readline",),
    "python3-sqlite3": ("sqlite3", "lib-dynload/_sqlite3"),
    "python3-unittest": ("unittest",),
    "python3-urllib": ("urllib",),
    "python3-uuid": ("uuid.py", "lib-dynload/_uuid"),
    "python3-venv": ("ensurepip", "venv"),
    "python3-webbrowser": ("webbrowser.py",),
    "python3-xml": ("xml", "xmlrpc", "lib-dynload/_elementtree", "lib-dynload/pyexpat"),
}

#: In no package at all: dropped by the light filespec, or not built (``--disable-test-modules``, n/a modules).
NOT_SHIPPED = (
    "idlelib",
    "tkinter",
    "turtledemo",
    "distutils/cygwinccompiler.py",
    "_osx_support.py",
    "test",
    "*/test",
    "*/tests",
    "*/idle_test",
    "site-packages",
    "config-*",
    "lib-dynload/_test*",
    "lib-dynload/_xxtestfuzz",
    "lib-dynload/_ctypes_test",
    "lib-dynload/xxlimited*",
    "lib-dynload/xxsubtype",
    "lib-dynload/_tkinter",
    "lib-dynload/nis",
)

#: Target packages' ``DEPENDS`` (python3-* and the C libraries they pull in), for the dependency closure.
FEED_DEPENDS: dict[str, tuple[str, ...]] = {
    "libpython3": ("libpthread",),
    "python3-base": ("libpython3",),
    "python3-light": ("python3-base", "libbz2", "zlib"),
    "python3-urllib": ("python3-light", "python3-email"),
    "python3-openssl": ("python3-light", "libopenssl"),
    "python3-sqlite3": ("python3-light", "libsqlite3"),
    "python3-uuid": ("python3-light", "libuuid"),
    "python3-lzma": ("python3-light", "liblzma"),
    "python3-ctypes": ("python3-light", "libffi"),
    "python3-cgi": ("python3-light", "python3-email"),
    "python3-distutils": ("python3-light", "python3-email"),
    "python3-paho-mqtt": ("python3-light", "python3-uuid", "python3-logging", "python3-urllib"),
    "python3-msgpack": ("python3-light", "libstdcpp"),
}

#: Third-party feed packages: which top-level names they install into site-packages.
SITE_PACKAGES = {"python3-paho-mqtt": ("paho",), "python3-msgpack": ("msgpack",)}


def closure(packages: Iterable[str]) -> set[str]:
    """The packages plus everything they depend on, transitively (``+`` stripped)."""
    todo = [p.lstrip("+") for p in packages]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(FEED_DEPENDS.get(name, ("python3-light",) if name in SPLIT else ()))
    return seen


def _matches(rel: str, pattern: str) -> bool:
    if pattern.startswith("lib-dynload/"):
        if not rel.startswith("lib-dynload/"):
            return False
        stem = rel.split("/", 1)[1].split(".", 1)[0]
        return fnmatch.fnmatchcase(stem, pattern.split("/", 1)[1])
    parts = rel.split("/")
    # a pattern names a file or directory: it matches the path itself or anything below it
    return any(fnmatch.fnmatchcase("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1))


def package_of(rel: str) -> str | None:
    """Which OpenWrt package ships ``/usr/lib/python3.11/<rel>`` (None: none does)."""
    if any(_matches(rel, p) for p in NOT_SHIPPED):
        return None
    if any(_matches(rel, p) for p in BASE_FILES):
        return "python3-base"
    for package, files in SPLIT.items():
        if any(_matches(rel, p) for p in files):
            return package
    return "python3-light"


@dataclass(frozen=True)
class StdlibRoot:
    """A root holding the chosen packages' files; ``home`` is what PYTHONHOME must be set to."""

    root: Path
    packages: frozenset[str]
    sizes: dict[str, int]

    @property
    def home(self) -> Path:
        return self.root / "usr"


def _copy_tree_files(files: Iterable[Path], source: Path, dest: Path) -> int:
    total = 0
    for path in files:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)  # read-only use: a hard link is a copy that costs nothing
        except OSError:
            shutil.copy2(path, target)
        total += path.stat().st_size
    return total


def _stdlib_files(stdlib: Path, chosen: frozenset[str]) -> dict[str, list[Path]]:
    """The files of each chosen package, walking only directories some chosen package can own."""
    wanted: dict[str, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(stdlib):
        here = Path(dirpath)
        rel_dir = here.relative_to(stdlib).as_posix()
        keep = []
        for name in sorted(dirnames):
            rel = f"{name}" if rel_dir == "." else f"{rel_dir}/{name}"
            owner = package_of(rel) if name != "__pycache__" else None
            if owner is not None and (owner in chosen or owner == "python3-light"):
                keep.append(name)  # light's own tree may still hold a chosen package's files
        dirnames[:] = keep
        for name in filenames:
            if name.endswith(".pyc"):
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            owner = package_of(rel)
            if owner in chosen:
                wanted.setdefault(owner, []).append(here / name)
    return wanted


def build_root(root: Path, packages: Iterable[str], site_packages: Path) -> StdlibRoot:
    """Copy into ``root`` the files of ``packages`` (closed over their dependencies), and nothing else."""
    chosen = frozenset(closure(packages))
    stdlib = Path(sys.base_prefix) / "lib" / PY
    sizes: dict[str, int] = dict.fromkeys(chosen, 0)
    for owner, files in _stdlib_files(stdlib, chosen).items():
        sizes[owner] += _copy_tree_files(files, stdlib, root / LIB)
    (root / LIB / "lib-dynload").mkdir(parents=True, exist_ok=True)  # libpython3 creates it
    for package, names in SITE_PACKAGES.items():
        if package not in chosen:
            continue
        for name in names:
            files = [
                p for p in (site_packages / name).rglob("*") if p.is_file() and "__pycache__" not in p.parts
            ]
            sizes[package] += _copy_tree_files(files, site_packages, root / LIB / "site-packages")
    return StdlibRoot(root, chosen, sizes)
