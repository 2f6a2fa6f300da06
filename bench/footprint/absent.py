"""The standard-library modules a router lacks when only the package's declared dependencies are installed.

Debian's i386 CPython (the bench's 32-bit interpreter) has the whole standard library, with
``unicodedata`` even built into the binary; OpenWrt splits it into ``python3-light`` and one
``python3-<name>`` package per module set (tests/packaging/openwrt_stdlib.py transcribes that
split). What the package's ``DEPENDS`` do not pull in is not on the router, and that changes
what the agent loads: without ``python3-codecs`` there is no ``unicodedata``, so the ``idna``
codec cannot load and the agent's ASCII stand-in answers instead (agent/publisher/hostnames.py).

``absent_modules`` names the top-level modules to refuse; ``bench/footprint/daemon.py`` refuses
them (``HOMESCOPE_BENCH_ABSENT``) before importing anything of the agent, as the router would.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.packaging.openwrt_feed import dependency_names
from tests.packaging.openwrt_stdlib import closure, package_of

MAKEFILE = Path(__file__).resolve().parents[2] / "packaging" / "openwrt" / "homescope-agent" / "Makefile"


def declared_depends(makefile: Path = MAKEFILE) -> list[str]:
    """The ``DEPENDS:=`` of the package definition, continuation lines joined."""
    text = makefile.read_text().replace("\\\n", " ")
    found = re.search(r"^\s*DEPENDS:=(.*)$", text, re.MULTILINE)
    if found is None:
        raise ValueError(f"{makefile}: no DEPENDS:= line")
    # make conditionals such as "$(if $(HOMESCOPE_PYTHON_OK),,@BROKEN)" add no package here
    return [name for name in dependency_names(found.group(1).split()) if not name.startswith("$")]


def _module(rel: str) -> str | None:
    """``email/mime/text.py`` -> ``email.mime.text``; ``lib-dynload/_ssl.cpython-311-...so`` -> ``_ssl``."""
    if rel.startswith("lib-dynload/"):
        return rel.split("/", 1)[1].split(".", 1)[0]
    if not rel.endswith(".py"):
        return None
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def absent_modules(stdlib: Path, builtins: list[str], depends: list[str]) -> list[str]:
    """The outermost modules of ``stdlib`` (and built-in modules) that no package of ``depends`` ships."""
    chosen = closure(depends)
    names: set[str] = set()
    for path in stdlib.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts or "site-packages" in path.parts:
            continue
        rel = path.relative_to(stdlib).as_posix()
        name = _module(rel)
        if name is not None and package_of(rel) not in chosen:
            names.add(name)
    for name in builtins:  # Debian builds some into the binary (unicodedata): placed where OpenWrt ships them
        if package_of(f"lib-dynload/{name}") not in chosen:
            names.add(name)
    return sorted(n for n in names if not any(n.startswith(p + ".") for p in names))
