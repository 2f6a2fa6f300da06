"""Labelled crash points for the fault tests: ``HOMESCOPE_CRASH_AT=ingest.after_commit:3``.

The collector SIGKILLs itself the n-th time it passes the named point (``ingest.before_commit``
with a batch in hand, ``ingest.after_commit`` before any acknowledgement); the store writer
process has ``writer.before_commit`` (a batch received, nothing of it written), where it kills
its parent and then itself, so no part of the collector lives on to finish the batch. The
agent has the same for its own points (``agent/publisher/crash.py``). Unset, a point is a
dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def _crash_targets() -> dict[str, int]:
    # Fault tests only: HOMESCOPE_CRASH_AT=ingest.after_commit:3 SIGKILLs the collector the
    # third time it passes that point (the agent has the same, agent/publisher/crash.py).
    out: dict[str, int] = {}
    for part in os.environ.get("HOMESCOPE_CRASH_AT", "").split(","):
        label, _, n = part.strip().partition(":")
        if label.startswith(("ingest.", "writer.")):
            out[label] = int(n) if n.isdigit() and int(n) > 0 else 1
    return out


_CRASH_AT = _crash_targets()


def crash_point(label: str, *, parent_too: bool = False) -> None:
    """SIGKILL this process here (and first its parent, if asked) if ``HOMESCOPE_CRASH_AT`` says so."""
    if label in _CRASH_AT:
        _CRASH_AT[label] -= 1
        if _CRASH_AT[label] == 0:
            if parent_too:
                os.kill(os.getppid(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
