"""The only module that touches the device: files under /proc and /sys, and commands.

Samplers get a :class:`System` and call ``read``/``run``/``listdir``; tests hand them a
fake that answers from recorded outputs and fails loudly on anything it does not know.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Protocol


class SystemAccessError(OSError):
    """A file or command the sampler wanted is missing, forbidden or failed."""


class System(Protocol):
    """What a sampler may ask of the device."""

    def read(self, path: str) -> str:
        """The text of a file; :class:`SystemAccessError` if it cannot be read."""
        ...

    def run(self, argv: list[str], timeout: float = 10.0) -> str:
        """A command's standard output; :class:`SystemAccessError` if missing or failing."""
        ...

    def listdir(self, path: str) -> list[str]:
        """Entries of a directory, sorted; :class:`SystemAccessError` if missing."""
        ...

    def exists(self, path: str) -> bool:
        """Whether a path exists."""
        ...


class CommandStream:
    """The output lines of a long-running command, as they come; ``close`` stops it."""

    def __init__(self, argv: list[str]) -> None:
        try:
            self._proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, errors="replace"
            )
        except FileNotFoundError as exc:
            raise SystemAccessError(2, f"command not found: {argv[0]}") from exc
        except OSError as exc:
            raise SystemAccessError(exc.errno or 0, f"cannot run {argv[0]}: {exc.strerror}") from exc
        self.argv = argv

    def __iter__(self) -> Iterator[str]:
        assert self._proc.stdout is not None
        with self._proc.stdout:  # closed by the reader: close() only ends the process
            for line in self._proc.stdout:
                yield line.rstrip("\n")
        code = self._proc.wait()
        raise SystemAccessError(0, f"{' '.join(self.argv[:2])} exited {code}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


class LocalSystem:
    """The real device."""

    def stream(self, argv: list[str]) -> CommandStream:
        """A long-running command's output lines (``ubus subscribe``). Not part of :class:`System`."""
        return CommandStream(argv)

    def read(self, path: str) -> str:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError as exc:
            raise SystemAccessError(exc.errno or 0, f"cannot read {path}: {exc.strerror}") from exc

    def lines(self, path: str) -> Iterator[str]:
        """A file's lines as they are consumed: a busy /proc table is never held whole.

        Not part of :class:`System`: callers fall back to ``read`` where it is missing (fakes).
        """
        try:
            handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise SystemAccessError(exc.errno or 0, f"cannot read {path}: {exc.strerror}") from exc
        with handle:
            for line in handle:
                yield line.rstrip("\n")

    def run(self, argv: list[str], timeout: float = 10.0) -> str:
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=timeout, check=False, text=True, errors="replace"
            )
        except FileNotFoundError as exc:
            raise SystemAccessError(2, f"command not found: {argv[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise SystemAccessError(62, f"{argv[0]} timed out after {timeout:g}s") from exc
        except OSError as exc:
            raise SystemAccessError(exc.errno or 0, f"cannot run {argv[0]}: {exc.strerror}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise SystemAccessError(0, f"{' '.join(argv)} exited {done.returncode}: {detail[0][:200]}")
        return done.stdout

    def run_all(self, argvs: list[list[str]], timeout: float = 10.0) -> list[str | SystemAccessError]:
        """Start every command at once, then collect each one's output or error, in order.

        For probes that mostly wait (ping): fourteen of them take as long as the slowest, not
        as long as all of them together. Not part of :class:`System`: callers fall back to
        ``run`` one by one where it is missing (fakes).
        """
        started: list[subprocess.Popen[str] | SystemAccessError] = []
        for argv in argvs:
            try:
                started.append(
                    subprocess.Popen(
                        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
                    )
                )
            except FileNotFoundError:
                started.append(SystemAccessError(2, f"command not found: {argv[0]}"))
            except OSError as exc:
                started.append(SystemAccessError(exc.errno or 0, f"cannot run {argv[0]}: {exc.strerror}"))
        deadline = time.monotonic() + timeout
        results: list[str | SystemAccessError] = []
        for argv, proc in zip(argvs, started, strict=True):
            if isinstance(proc, SystemAccessError):
                results.append(proc)
                continue
            try:
                out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                results.append(SystemAccessError(62, f"{argv[0]} timed out after {timeout:g}s"))
                continue
            if proc.returncode != 0:
                detail = (err or out).strip().splitlines()[-1:] or [""]
                results.append(
                    SystemAccessError(0, f"{' '.join(argv)} exited {proc.returncode}: {detail[0][:200]}")
                )
            else:
                results.append(out)
        return results

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError as exc:
            raise SystemAccessError(exc.errno or 0, f"cannot list {path}: {exc.strerror}") from exc

    def exists(self, path: str) -> bool:
        return os.path.exists(path)
