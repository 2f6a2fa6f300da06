"""A fake :class:`agent.system.System` answering from recorded outputs.

Anything not recorded fails the test loudly (``UnknownAccess``) instead of returning
something plausible, so a sampler cannot silently read what the fixture does not have.
Record a path or command as missing with ``MISSING`` to test the unavailable branch.
"""

from __future__ import annotations

from pathlib import Path

from agent.system import SystemAccessError

MISSING = object()


class UnknownAccess(AssertionError):
    """The code under test asked for something the fixture does not describe."""


class FakeSystem:
    def __init__(
        self,
        files: dict[str, str | Path | object] | None = None,
        commands: dict[tuple[str, ...], str | Path | object] | None = None,
        dirs: dict[str, list[str]] | None = None,
    ) -> None:
        self.files = dict(files or {})
        self.commands = dict(commands or {})
        self.dirs = dict(dirs or {})
        self.calls: list[str] = []

    @staticmethod
    def _text(value: str | Path | object, what: str) -> str:
        if value is MISSING:
            raise SystemAccessError(2, f"{what}: not present (recorded as missing)")
        if isinstance(value, Path):
            return value.read_text(encoding="utf-8")
        assert isinstance(value, str)
        return value

    def read(self, path: str) -> str:
        self.calls.append(path)
        if path not in self.files:
            raise UnknownAccess(f"unrecorded file read: {path}")
        return self._text(self.files[path], path)

    def run(self, argv: list[str], timeout: float = 10.0) -> str:
        key = tuple(argv)
        self.calls.append(" ".join(argv))
        if key not in self.commands:
            raise UnknownAccess(f"unrecorded command: {' '.join(argv)}")
        return self._text(self.commands[key], " ".join(argv))

    def listdir(self, path: str) -> list[str]:
        self.calls.append(f"ls {path}")
        if path not in self.dirs:
            raise UnknownAccess(f"unrecorded directory listing: {path}")
        return sorted(self.dirs[path])

    def exists(self, path: str) -> bool:
        if path in self.files:
            return self.files[path] is not MISSING
        if path in self.dirs:
            return True
        raise UnknownAccess(f"unrecorded existence check: {path}")
