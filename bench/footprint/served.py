"""The bench home written out as plain JSON, and served back from it inside the measured process.

``bench/footprint/daemon.py`` measures what the agent's daemon costs. Building the home there
(``bench/footprint/home.py`` over the recorded-fixture loaders, which import ``pathlib``) put
~0.2 MiB of bench harness in the figure on a 32-bit CPython. So the parent writes each window's
home once (``write_homes``), and the daemon process serves it with :class:`ServedSystem`, which
needs only ``json`` (the agent imports it anyway) and answers exactly as the recorded system does:
the same texts, the same missing files, absent directories and failing commands.

This module is imported by the measured process: it must import nothing beyond what the agent does.
"""

from __future__ import annotations

import json
import os
from typing import Any

from agent.system import SystemAccessError


class UnknownAccess(AssertionError):
    """The agent asked for something the bench home does not describe (as tests/agent/fakesystem.py's)."""


#: argv items are joined with this in the JSON (no recorded argument contains it)
SEP = "\x1f"


def snapshot(system: Any) -> dict[str, Any]:
    """A recorded system (tests/agent/samplers/recorded.py) as JSON-able data; None stands for MISSING."""
    from tests.agent.fakesystem import MISSING

    def text(value: object, what: str) -> str | None:
        return None if value is MISSING else str(system._text(value, what))

    return {
        "files": {path: text(value, path) for path, value in system.files.items()},
        "commands": {SEP.join(argv): text(value, " ".join(argv)) for argv, value in system.commands.items()},
        "failing": {SEP.join(argv): code for argv, code in system.failing.items()},
        "dirs": {path: sorted(names) for path, names in system.dirs.items()},
        "absent_dirs": sorted(system.absent_dirs),
    }


def write_homes(folder: str, steps: int) -> None:
    """``folder/home-N.json`` for N in 0..steps: the bench home N windows after the first reading."""
    from bench.footprint.home import home

    os.makedirs(folder, exist_ok=True)
    for step in range(steps + 1):
        with open(os.path.join(folder, f"home-{step}.json"), "w", encoding="utf-8") as out:
            json.dump(snapshot(home(step)), out)


class ServedSystem:
    """One window's home read back from ``write_homes``: the agent's ``System`` calls, as recorded."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.files: dict[str, str | None] = data["files"]
        self.commands: dict[str, str | None] = data["commands"]
        self.failing: dict[str, int] = data["failing"]
        self.dirs: dict[str, list[str]] = data["dirs"]
        self.absent_dirs = set(data["absent_dirs"])

    @classmethod
    def load(cls, folder: str, step: int) -> ServedSystem:
        with open(os.path.join(folder, f"home-{step}.json"), encoding="utf-8") as src:
            return cls(json.load(src))

    @staticmethod
    def _text(value: str | None, what: str) -> str:
        if value is None:
            raise SystemAccessError(2, f"{what}: not present (recorded as missing)")
        return value

    def add_file(self, path: str, text: str | None) -> None:
        self.files[path] = text

    def read(self, path: str) -> str:
        if path not in self.files:
            raise UnknownAccess(f"unrecorded file read: {path}")
        return self._text(self.files[path], path)

    def run(self, argv: list[str], timeout: float = 10.0) -> str:
        key = SEP.join(argv)
        if key in self.failing:
            raise SystemAccessError(0, f"{' '.join(argv)} exited {self.failing[key]}: (recorded failure)")
        if key not in self.commands:
            raise UnknownAccess(f"unrecorded command: {' '.join(argv)}")
        return self._text(self.commands[key], " ".join(argv))

    def listdir(self, path: str) -> list[str]:
        if path in self.absent_dirs:
            raise SystemAccessError(2, f"cannot list {path}: recorded as absent")
        if path not in self.dirs:
            raise UnknownAccess(f"unrecorded directory listing: {path}")
        return sorted(self.dirs[path])

    def exists(self, path: str) -> bool:
        if path in self.absent_dirs:
            return False
        if path in self.files:
            return self.files[path] is not None
        if path in self.dirs:
            return True
        raise UnknownAccess(f"unrecorded existence check: {path}")
