"""Flash the agent costs on OpenWrt: our .ipk, and each OpenWrt package it pulls in. Figures, never a verdict.

Builds the feed package in the stand-in SDK (tests/packaging/openwrt_sdk.py; a copy of this working tree,
USE_SOURCE_DIR), then sizes every package of its dependency closure from the files OpenWrt's split puts in
it (tests/packaging/openwrt_stdlib.py):

- Python modules as OpenWrt ships them: legacy ``.pyc`` compiled by this CPython 3.11 (bytecode is the same
  on every architecture), sources dropped;
- extension modules and C libraries (libpython3, OpenSSL, SQLite, libstdc++, zlib, bzip2, libuuid) from this
  x86-64 machine, stripped: a stand-in for the MIPS/ARM builds, which differ by some tens of percent;
- ``flash`` is each package's files as one gzip stream (what an .ipk weighs, and roughly what a compressing
  overlay such as JFFS2 or UBIFS stores); ``installed`` is the uncompressed total (opkg's Installed-Size).

    python bench/openwrt_package.py --json
"""

from __future__ import annotations

import argparse
import io
import json
import marshal
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.packaging.conftest import build, working_tree_copy  # noqa: E402
from tests.packaging.openwrt_feed import dependency_names  # noqa: E402
from tests.packaging.openwrt_stdlib import LIB, SITE_PACKAGES, _stdlib_files, closure  # noqa: E402

SYSTEM_LIBS = Path("/lib/x86_64-linux-gnu")
#: The C libraries the packages depend on, and the x86-64 files standing in for them.
NATIVE = {
    "libpython3": [
        Path(sys.base_prefix) / "lib" / f"libpython{sys.version_info.major}.{sys.version_info.minor}.so.1.0"
    ],
    "libopenssl": [SYSTEM_LIBS / "libssl.so.3", SYSTEM_LIBS / "libcrypto.so.3"],
    "libsqlite3": [SYSTEM_LIBS / "libsqlite3.so.0"],
    "libstdcpp": [SYSTEM_LIBS / "libstdc++.so.6"],
    "zlib": [SYSTEM_LIBS / "libz.so.1"],
    "libbz2": [SYSTEM_LIBS / "libbz2.so.1.0"],
    "libuuid": [SYSTEM_LIBS / "libuuid.so.1"],
}


def _shipped(path: Path, scratch: Path) -> tuple[str, bytes]:
    """(name, bytes) of a file as OpenWrt ships it: .py as legacy .pyc, binaries stripped."""
    if path.suffix == ".py":
        code = compile(path.read_bytes(), "/" + path.name, "exec", dont_inherit=True)
        return path.name + "c", b"\0" * 16 + marshal.dumps(code)
    if ".so" in path.name:
        copy = scratch / path.name
        shutil.copyfile(path.resolve(), copy)
        subprocess.run(["strip", "--strip-unneeded", str(copy)], check=False, capture_output=True)
        return path.name, copy.read_bytes()
    return path.name, path.read_bytes()


def _sizes(files: list[Path], scratch: Path) -> dict[str, int]:
    buf = io.BytesIO()
    installed = 0
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for index, path in enumerate(files):
            name, data = _shipped(path, scratch)
            installed += len(data)
            info = tarfile.TarInfo(f"{index}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {"installed": installed, "flash": len(buf.getvalue())}


def measure(work: Path) -> dict[str, object]:
    built = build(work / "sdk", USE_SOURCE_DIR=str(working_tree_copy(work / "src")))
    [package] = built.source.packages
    chosen = frozenset(closure(dependency_names(package.depends)))
    stdlib = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = Path(__import__("paho").__file__).resolve().parents[1]
    files: dict[str, list[Path]] = {name: [] for name in chosen}
    for owner, owned in _stdlib_files(stdlib, chosen).items():
        files[owner].extend(owned)
    for pkg, names in SITE_PACKAGES.items():
        for name in names:
            files[pkg].extend(
                p for p in (site / name).rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
    for lib, paths in NATIVE.items():
        if lib in files:
            files[lib].extend(p for p in paths if p.exists())
    scratch = work / "strip"
    scratch.mkdir()
    packages = {name: _sizes(sorted(paths), scratch) for name, paths in sorted(files.items()) if paths}
    ours = {"installed": built.ipk.installed_size, "flash": built.ipk.path.stat().st_size}
    total_installed = ours["installed"] + sum(p["installed"] for p in packages.values())
    total_flash = ours["flash"] + sum(p["flash"] for p in packages.values())
    return {
        "ipk": built.ipk.path.name,
        "ipk_files": len(built.ipk.files),
        "homescope_agent": ours,
        "dependencies": packages,
        "not_sized": sorted(chosen - set(packages)),  # libpthread: part of musl libc on OpenWrt
        "total_installed_bytes": total_installed,
        "total_flash_bytes": total_flash,
        "python_lib": LIB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output too)")
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp))
    print(json.dumps(result, indent=None, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
