"""Stand-ins for modules paho imports but the agent never uses, loaded only if touched.

``paho.mqtt.client`` imports ``urllib.request`` (which pulls in ``http.client`` and the
``email`` package) for proxy discovery it does only when PySocks is installed, and ``uuid``
(with the ``_uuid`` extension, OpenWrt's python3-uuid) to invent a client id when none is
given. The agent has no PySocks and always names its client, so neither is ever used:
about 1.2 MiB of RSS on a 32-bit CPython (bench/agent.py). A stand-in is a plain module
whose first attribute access imports the real one, so a caller that does need it still
gets it, only later.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def defer(*names: str) -> None:
    """Put a stand-in in ``sys.modules`` for each module not imported yet."""
    for name in names:
        if name in sys.modules:
            continue
        stub = types.ModuleType(name, f"stand-in for {name}, imported on first use (agent.publisher.deferred)")
        stub.__getattr__ = _loader(name, stub)  # type: ignore[method-assign]
        sys.modules[name] = stub
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(importlib.import_module(parent), child, stub)


def _loader(name: str, stub: types.ModuleType) -> Any:
    def load(attr: str) -> Any:
        if sys.modules.get(name) is stub:
            del sys.modules[name]
        real = importlib.import_module(name)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, real)
        return getattr(real, attr)

    return load
