"""The feed package passes OpenWrt's own feed scan, metadata and package-install rules.

The rules are reimplemented in ``openwrt_feed.py`` (scripts/feeds, include/scan.mk, scripts/metadata.pm) and
``openwrt_sdk.py`` (include/package.mk, package-defaults.mk, package-dumpinfo.mk, package-pack.mk, rules.mk,
and the packages feed's lang/python/python3-package.mk); each module's docstring cites the upstream file and
rule it follows. The feed Makefile itself is run by GNU make, unchanged.
"""

from __future__ import annotations

import ast
import importlib.util
import marshal
import shutil
import subprocess
import sys
from importlib.util import MAGIC_NUMBER
from pathlib import Path

from tests.packaging.conftest import FEED, FEED_NAME, ROOT, Built, build, working_tree_copy
from tests.packaging.openwrt_feed import dependency_names, dump_metadata, parse_package_metadata, scan_feed
from tests.packaging.openwrt_sdk import Sdk
from tests.packaging.openwrt_stdlib import SITE_PACKAGES, SPLIT, closure, package_of

#: Every python3-* package name the packages feed defines (lang/python/python3/Makefile and files/*.mk).
FEED_PACKAGES = {"python3", "python3-base", "python3-light", *SPLIT, *SITE_PACKAGES}
DECLARED = {
    "python3-light",
    "python3-logging",
    "python3-openssl",
    "python3-sqlite3",
    "python3-urllib",
    "python3-paho-mqtt",
    "python3-msgpack",
}
SHIPPED_OUTSIDE_LIB = {
    "/usr/bin/homescope-agent": 0o755,
    "/usr/libexec/homescope/wait-for-time": 0o755,
    "/etc/init.d/homescope": 0o755,
    "/etc/uci-defaults/90-homescope-agent": 0o755,
    "/etc/hotplug.d/ntp/90-homescope": 0o644,
    "/etc/config/homescope": 0o600,
    "/lib/upgrade/keep.d/homescope-agent": 0o644,
    "/etc/capabilities/homescope.json": 0o644,
    "/etc/capabilities/homescope-dpi.json": 0o644,
    "/usr/share/acl.d/homescope.json": 0o644,
}
CONFFILES = [
    "/etc/config/homescope",
    "/etc/homescope/ca.crt",
    "/etc/homescope/client.crt",
    "/etc/homescope/client.key",
]
#: Imports the agent makes inside try/except ImportError: absent on the gateway by design.
OPTIONAL = {"msgspec", "isal", "cryptography", "protocol._keys"}


def test_the_scan_finds_one_package_named_after_its_folder(tmp_path: Path) -> None:
    Sdk.create(tmp_path, FEED_NAME, FEED, python=sys.executable)
    assert scan_feed(tmp_path, FEED_NAME) == ["homescope-agent"]


def test_a_makefile_at_the_feed_root_is_no_package(tmp_path: Path) -> None:
    """The old layout: scan.mk's sed leaves ``Makefile:<line>``, a directory that does not exist."""
    feed = tmp_path / "oldfeed"
    feed.mkdir()
    shutil.copy(FEED / "homescope-agent" / "Makefile", feed / "Makefile")
    Sdk.create(tmp_path / "top", FEED_NAME, feed, python=sys.executable)
    [entry] = scan_feed(tmp_path / "top", FEED_NAME)
    assert entry.startswith("Makefile:") and not (feed / entry).is_dir()


def test_metadata_and_dependencies_resolve_in_the_packages_feed(built: Built) -> None:
    [package] = built.source.packages
    assert built.source.name == package.name == "homescope-agent"
    assert built.source.build_depends == ["python3/host"]
    assert package.fields["Version"] == "0.1.0-1"
    assert (package.fields["Section"], package.fields["Category"]) == ("net", "Network")
    assert package.fields["License"] == "Apache-2.0"
    assert (ROOT / package.fields["LicenseFiles"]).read_text().startswith("\n" + " " * 33 + "Apache License")
    names = dependency_names(package.depends)
    assert set(names) == DECLARED and len(names) == len(DECLARED)
    assert set(names) <= FEED_PACKAGES  # scripts/feeds install finds each in the packages feed
    assert "Python 3.11" in package.description


def test_python_older_than_3_11_is_refused(tmp_path: Path) -> None:
    """OpenWrt 22.03 ships 3.10: the package is BROKEN in menuconfig and a build stops with the reason."""
    sdk = Sdk.create(tmp_path, FEED_NAME, FEED, python=sys.executable)
    mk = tmp_path / "feeds" / "packages" / "lang" / "python" / "python3-package.mk"
    mk.write_text(mk.read_text().replace("PYTHON3_VERSION_MINOR:=11", "PYTHON3_VERSION_MINOR:=10"))
    [source] = parse_package_metadata(dump_metadata(tmp_path, FEED_NAME, "homescope-agent", sdk.make_vars()))
    assert "@BROKEN" in source.packages[0].depends
    result = sdk.compile(FEED / "homescope-agent", USE_SOURCE_DIR=str(working_tree_copy(tmp_path / "src")))
    assert result.returncode != 0 and "needs Python 3.11 or later" in result.stderr


def test_without_pkg_build_0_the_feed_would_build_a_wheel(tmp_path: Path) -> None:
    """python3-package.mk puts a wheel build in Build/Compile and Build/Install unless PYTHON3_PKG_BUILD is 0."""
    feed = tmp_path / "feed" / "homescope-agent"
    shutil.copytree(FEED / "homescope-agent", feed)
    makefile = feed / "Makefile"
    makefile.write_text(makefile.read_text().replace("PYTHON3_PKG_BUILD:=0\n", ""))
    sdk = Sdk.create(tmp_path / "top", FEED_NAME, feed.parent, python=sys.executable)
    source = working_tree_copy(tmp_path / "src")
    result = sdk.compile(
        tmp_path / "top" / "feeds" / FEED_NAME / "homescope-agent", USE_SOURCE_DIR=str(source)
    )
    assert result.returncode != 0
    assert ".built] Error" in result.stderr  # Build/Install ran python -m installer on a wheel nothing built


def _assert_pyc_only(files: dict[str, int]) -> None:
    lib = {f for f in files if f.startswith("/usr/lib/homescope/")}
    assert lib, "no modules shipped"
    assert all(f.endswith((".pyc", ".tsv")) for f in lib), sorted(
        f for f in lib if not f.endswith((".pyc", ".tsv"))
    )
    assert not any("__pycache__" in f or f.endswith(".so") or "/_keys" in f for f in files)
    assert "/usr/lib/homescope/protocol/models.pyc" not in lib  # the collector's (pydantic)
    assert "/usr/lib/homescope/protocol/inbound.pyc" not in lib  # the collector's way in (msgspec, pydantic)
    expected = {
        "/usr/lib/homescope/" + p.relative_to(ROOT).with_suffix(".pyc").as_posix()
        for d in ("agent", "protocol")
        for p in (ROOT / d).rglob("*.py")
        if "__pycache__" not in p.parts
        and p not in (ROOT / "protocol" / "models.py", ROOT / "protocol" / "inbound.py")
    }
    expected |= {
        "/usr/lib/homescope/" + p.relative_to(ROOT).as_posix()
        for d in ("agent", "protocol")  # protocol/oui.tsv: the OUI table both sides use
        for p in ROOT.glob(f"{d}/**/*.tsv")
    }
    assert lib == expected
    assert set(files) - lib == set(SHIPPED_OUTSIDE_LIB)


def test_the_ipk_holds_only_pyc_and_the_service_files(built: Built) -> None:
    ipk = built.ipk
    assert ipk.control["Architecture"] == "all"  # PKGARCH:=all though the SDK's ARCH is mipsel_24kc
    assert ipk.path.name == "homescope-agent_0.1.0-1_all.ipk"
    assert set(ipk.control["Depends"].split(", ")) == DECLARED
    _assert_pyc_only(ipk.files)
    for path, mode in SHIPPED_OUTSIDE_LIB.items():
        assert (built.idir / path.lstrip("/")).stat().st_mode & 0o777 == mode, path
    assert (built.idir / "etc" / "homescope").is_dir()  # where the operator puts ca.crt
    assert ipk.conffiles == CONFFILES
    # conffiles the package does not ship are kept over sysupgrade through keep.d (package-pack.mk)
    keep = (built.idir / "lib" / "upgrade" / "keep.d" / "homescope-agent").read_text().split()
    assert keep == CONFFILES[1:]


def test_modules_are_compiled_like_python3_package_mk_does(built: Built) -> None:
    """Legacy .pyc beside where the source was (-b), for the host Python = the target's, paths from / (-d)."""
    data = (built.idir / "usr" / "lib" / "homescope" / "agent" / "cli.pyc").read_bytes()
    assert data[:4] == MAGIC_NUMBER
    code = marshal.loads(data[16:])
    assert code.co_filename == "/usr/lib/homescope/agent/cli.py"


def test_the_release_tarball_builds_the_same_package(tmp_path: Path) -> None:
    """PKG_SOURCE: release.sh's ``git archive`` unpacks into PKG_BUILD_DIR and builds without USE_SOURCE_DIR."""
    out = subprocess.run(
        ["sh", str(FEED / "release.sh"), "HEAD", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    tarball, hash_line = Path(out[0]), out[1]
    assert tarball.name == "homescope-agent-0.1.0.tar.gz" and len(hash_line.removeprefix("PKG_HASH:=")) == 64
    top = tmp_path / "top"
    top.mkdir()
    (top / "dl").mkdir()
    shutil.copy(tarball, top / "dl" / tarball.name)
    tarball_built = build(top)
    lib = {f for f in tarball_built.ipk.files if f.startswith("/usr/lib/homescope/")}
    assert "/usr/lib/homescope/agent/cli.pyc" in lib
    assert all(f.endswith((".pyc", ".tsv")) for f in lib)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, optional) for every absolute import; optional when a try catches ImportError around it."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, optional: bool) -> None:
        if isinstance(node, ast.Try):
            catches = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            guarded = bool(catches & {"ImportError", "ModuleNotFoundError", "Exception"})
            for child in node.body:
                visit(child, optional or guarded)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, optional)
            return
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            return  # for the type checker only
        if isinstance(node, ast.Import):
            found.extend((alias.name, optional) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, optional))
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    visit(ast.parse(path.read_text()), False)
    return found


def _stdlib_owner(top: str, stdlib: Path) -> str | None:
    """The OpenWrt package of a standard-library module (None: not in the standard library)."""
    if top == "ssl":  # ssl.py is in python3-light, its C half _ssl in python3-openssl
        return "python3-openssl"
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        return None
    if spec.origin == "built-in":
        return "python3-base"  # compiled into libpython3
    origin = Path(spec.origin) if spec.origin != "frozen" else stdlib / f"{top}.py"
    if not origin.exists():
        origin = stdlib / top / "__init__.py"
    return package_of(origin.relative_to(stdlib).as_posix()) if stdlib in origin.parents else None


def test_every_module_the_agent_imports_is_in_a_declared_package() -> None:
    """Static complement to the run in test_openwrt_root.py: imports on paths a short run does not take."""
    allowed = closure(DECLARED)
    stdlib = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    missing: dict[str, str] = {}
    for path in sorted([*ROOT.glob("agent/**/*.py"), *ROOT.glob("protocol/*.py")]):
        if path.name in ("models.py", "inbound.py") and path.parent.name == "protocol":  # the collector's
            continue
        for module, optional in _imports(path):
            top = module.split(".")[0]
            if top in ("agent", "protocol", "__future__") and module not in OPTIONAL:
                continue
            if optional and (module in OPTIONAL or top in OPTIONAL):
                continue
            owner = next((pkg for pkg, names in SITE_PACKAGES.items() if top in names), None)
            if owner is None:
                owner = _stdlib_owner(top, stdlib)
            if owner is None or owner not in allowed:
                missing[f"{path.relative_to(ROOT)}: {module}"] = str(owner)
    assert not missing, missing
