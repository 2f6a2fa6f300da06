"""One long-running event command (``ubus subscribe``/``ubus listen``) read by a thread.

Polling who is associated every minute cost seven process executions a minute (``ubus list``
and two calls per radio): about 105 of the ~154 a window. hostapd notifies ``assoc``,
``disassoc`` and ``deauth`` to ubus subscribers, and ``ubus subscribe hostapd.<iface>...``
prints each notification as one line, ``{ "assoc": { "address": ... } }`` (the method
name is the first key). The watch then polls only after a notification, and every few
minutes as a safety net. Only whether a trigger arrived is used, never the line's content:
the poll that follows reads the association lists, so a malformed or unknown line costs
nothing but is logged once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from agent.logger import Logger

log = Logger(__name__)

_METHOD = re.compile(r'\s*\{\s*"([A-Za-z0-9_.-]+)"\s*:')


def notification(line: str) -> str | None:
    """The method (hostapd) or event type (netifd) a ``ubus subscribe``/``listen`` line names."""
    match = _METHOD.match(line)
    return match.group(1) if match else None


class Subscription:
    """Runs ``argv`` through ``stream`` in a thread and remembers whether a trigger arrived."""

    def __init__(
        self, stream: Callable[[list[str]], Iterable[str]], argv: list[str], triggers: frozenset[str]
    ) -> None:
        self.argv = argv
        self.triggers = triggers
        self._changed = threading.Event()
        self._alive = True
        self._lines: Iterable[str] | None = None
        self._warned = False
        self._thread = threading.Thread(target=self._read, args=(stream,), name="subscription", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the command still runs (it exits when ubus or the object goes away)."""
        return self._alive

    def take(self) -> bool:
        """Whether a trigger arrived since the last call."""
        if self._changed.is_set():
            self._changed.clear()
            return True
        return False

    def _read(self, stream: Callable[[list[str]], Iterable[str]]) -> None:
        try:
            self._lines = stream(self.argv)
            for line in self._lines:
                method = notification(line)
                if method in self.triggers:
                    self._changed.set()
                elif method is None and line.strip() and not self._warned:
                    log.info("%s: ignoring an unexpected line: %.120s", self.argv[:2], line)
                    self._warned = True
        except OSError as exc:
            log.info("%s stopped: %s; polling instead", " ".join(self.argv[:2]), exc)
        finally:
            self._alive = False
            self._changed.set()  # whatever happened meanwhile, the next poll reads it

    def close(self) -> None:
        """Stop the command; the reader thread ends with it."""
        close = getattr(self._lines, "close", None)
        if callable(close):
            close()
