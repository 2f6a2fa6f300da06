"""Labelled crash points for the fault tests: ``HOMESCOPE_CRASH_AT=label[:n][,label[:n]]``.

When the environment names a label, the process SIGKILLs itself the n-th time (default
the first) it passes that point: no ``finally``, no atexit, no buffered write, as when
the OOM killer or a watchdog stops it. Unset, as always in production, a crash point is
one dictionary lookup. The labels in use are listed in :data:`LABELS` and in
docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import threading

#: Every labelled point in the agent, in the order a record passes them.
LABELS = (
    "outbox.before_commit",  # the record is written but its transaction is not committed
    "outbox.after_commit",  # the record is durable and not yet sent
    "publisher.after_publish",  # the record is handed to MQTT, no ack yet
    "outbox.before_ack",  # the collector's ack arrived, the records are not yet deleted
    "outbox.after_ack",  # the acknowledged records are deleted
)


def parse_crash_spec(spec: str) -> dict[str, int]:
    """``"a:3,b"`` -> ``{"a": 3, "b": 1}``."""
    targets: dict[str, int] = {}
    for part in spec.split(","):
        label, _, count = part.strip().partition(":")
        if label:
            targets[label] = int(count) if count.isdigit() and int(count) > 0 else 1
    return targets


_TARGETS = parse_crash_spec(os.environ.get("HOMESCOPE_CRASH_AT", ""))
_passes: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(label: str) -> None:
    """Die here, by SIGKILL, if the environment asked for it."""
    if label not in _TARGETS:
        return
    with _lock:
        _passes[label] = _passes.get(label, 0) + 1
        hit = _passes[label] == _TARGETS[label]
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)
