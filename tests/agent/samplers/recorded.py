"""Fixture sets recorded from a router (``packaging/openwrt/capture-fixtures.sh``) as a fake System.

A set is a directory with an ``index.tsv`` of ``kind<TAB>recording<TAB>path-or-argv`` lines:

- ``file``: a file's content is in ``recording``;
- ``dir``: ``recording`` lists a directory's entries, one a line;
- ``cmd``: a command's standard output is in ``recording`` (argv split on spaces);
- ``exists``: the path exists (a command found in a tool directory);
- ``absent``: the path does not exist (reads and listings fail, ``exists`` is false);
- ``nocmd``: the command is not installed;
- ``fail``: the command ran and exited non-zero (``recording`` is ``exit=N``).

Steps (``step1``, ``step2-reset``) are subdirectories with their own ``index.tsv`` whose lines
replace the base set's for the same path or argv. Anything not listed raises ``UnknownAccess``.
"""

from __future__ import annotations

from pathlib import Path

from agent.system import SystemAccessError
from tests.agent.fakesystem import MISSING, FakeSystem, UnknownAccess

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "openwrt"


class RecordedSystem(FakeSystem):
    """:class:`FakeSystem` plus absent directories and commands that exit non-zero."""

    def __init__(self) -> None:
        super().__init__()
        self.absent_dirs: set[str] = set()
        self.failing: dict[tuple[str, ...], int] = {}

    def listdir(self, path: str) -> list[str]:
        if path in self.absent_dirs:
            self.calls.append(f"ls {path}")
            raise SystemAccessError(2, f"cannot list {path}: recorded as absent")
        return super().listdir(path)

    def run(self, argv: list[str], timeout: float = 10.0) -> str:
        key = tuple(argv)
        if key in self.failing:
            self.calls.append(" ".join(argv))
            raise SystemAccessError(0, f"{' '.join(argv)} exited {self.failing[key]}: (recorded failure)")
        return super().run(argv, timeout)

    def exists(self, path: str) -> bool:
        if path in self.absent_dirs:
            return False
        return super().exists(path)

    def recording(self, what: str | list[str]) -> str:
        """The recorded text of a file (a path) or a command (an argv list)."""
        value = self.files[what] if isinstance(what, str) else self.commands[tuple(what)]
        return self._text(value, str(what))

    def add_file(self, path: str, text: str | Path | object) -> None:
        """Record a file (or ``MISSING``)."""
        self.files[path] = text

    def add_command(self, argv: list[str], output: str | Path | object) -> None:
        """Record a command's output (or ``MISSING`` for a command that is not installed)."""
        self.failing.pop(tuple(argv), None)
        self.commands[tuple(argv)] = output

    def add_failure(self, argv: list[str], code: int = 1) -> None:
        """Record a command that exits ``code``."""
        self.commands.pop(tuple(argv), None)
        self.failing[tuple(argv)] = code

    def load_index(self, folder: Path) -> None:
        """Add (or replace) everything ``folder/index.tsv`` lists."""
        for number, line in enumerate((folder / "index.tsv").read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            try:
                kind, recording, what = line.split("\t", 2)
            except ValueError as exc:
                raise ValueError(f"{folder}/index.tsv:{number}: expected three tab-separated fields") from exc
            self._add(folder, kind, recording, what)

    def _add(self, folder: Path, kind: str, recording: str, what: str) -> None:
        if kind == "file":
            self.absent_dirs.discard(what)
            self.files[what] = folder / recording
        elif kind == "exists":
            self.files[what] = ""
        elif kind == "absent":
            self.files[what] = MISSING
            self.dirs.pop(what, None)
            self.absent_dirs.add(what)
        elif kind == "dir":
            self.absent_dirs.discard(what)
            self.dirs[what] = (folder / recording).read_text(encoding="utf-8").split()
        elif kind == "cmd":
            self.add_command(what.split(" "), folder / recording)
        elif kind == "nocmd":
            self.add_command(what.split(" "), MISSING)
        elif kind == "fail":
            self.add_failure(what.split(" "), int(recording.removeprefix("exit=")))
        else:
            raise ValueError(f"{folder}/index.tsv: unknown kind {kind!r}")


def recorded(board: str | Path, *steps: str) -> RecordedSystem:
    """The fixture set ``board`` (a name under tests/fixtures/openwrt, or a path), with ``steps`` overlaid."""
    root = board if isinstance(board, Path) else FIXTURES / board
    system = RecordedSystem()
    system.load_index(root)
    for step in steps:
        system.load_index(root / step)
    return system


__all__ = ["FIXTURES", "MISSING", "RecordedSystem", "UnknownAccess", "recorded"]
