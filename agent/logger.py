"""The agent's log lines: one line per event on stderr, which procd hands to logd (``logread``).

``logging`` and what it imports (``traceback``, ``tokenize``, ``linecache``, ``weakref``,
``string``, ``atexit``) cost about 0.4 MiB of RSS on a 32-bit gateway (bench/agent.py,
docs/gateway.md "Footprint") for what the agent uses of it: five levels, %-style arguments
formatted only when the line is kept, a traceback now and then, one format. This is that
subset. ``traceback`` is imported only when a line carries one.

Lines look as ``logging.basicConfig`` made them before: ``2026-12-07 09:00:00,123 INFO
agent.runner: message``. Until :func:`configure` is called (the CLI does, at INFO or DEBUG),
only warnings and worse are written, as ``logging`` does for a program that configured
nothing: the emulator and the tests, which drive many agents in one process, stay quiet.
"""

from __future__ import annotations

import sys
import time
from typing import Any

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR", CRITICAL: "CRITICAL"}
_LEVELS = {name: level for level, name in _NAMES.items()}

_threshold = WARNING


def level_of(name: str) -> int:
    """``"info"`` -> 20; a :class:`ValueError` naming the known levels for anything else."""
    try:
        return _LEVELS[name.upper()]
    except KeyError:
        raise ValueError(f"unknown log level {name!r} (one of {', '.join(_LEVELS).lower()})") from None


def configure(level: int | str) -> None:
    """Write lines of ``level`` and worse (a number or a name such as ``"info"``)."""
    global _threshold
    _threshold = level_of(level) if isinstance(level, str) else level


def threshold() -> int:
    return _threshold


class Logger:
    """The lines of one part of the agent, named as ``logging`` would name them (the module)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name, for callers that ask
        return level >= _threshold

    def log(self, level: int, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        if level < _threshold:
            return
        if args:
            try:
                msg = msg % args
            except (TypeError, ValueError) as exc:  # a bad format must not kill the caller
                msg = f"{msg!r} % {args!r} ({exc})"
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        line = f"{stamp},{int(now * 1000) % 1000:03d} {_NAMES.get(level, str(level))} {self.name}: {msg}\n"
        if exc_info is not None:
            import traceback  # only when there is one to print

            line += "".join(traceback.format_exception(type(exc_info), exc_info, exc_info.__traceback__))
        stream = sys.stderr  # looked up each time: whoever replaced stderr (a test, a daemoniser) gets it
        if stream is None:
            return
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: the line is lost, the agent goes on
            pass

    def debug(self, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        self.log(DEBUG, msg, *args, exc_info=exc_info)

    def info(self, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        self.log(INFO, msg, *args, exc_info=exc_info)

    def warning(self, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        self.log(WARNING, msg, *args, exc_info=exc_info)

    def error(self, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        self.log(ERROR, msg, *args, exc_info=exc_info)

    def critical(self, msg: str, *args: Any, exc_info: BaseException | None = None) -> None:
        self.log(CRITICAL, msg, *args, exc_info=exc_info)
