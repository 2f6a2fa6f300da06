"""Stand-ins for modules paho imports but the agent never uses, loaded only if touched.

``paho.mqtt.client`` imports ``urllib.request`` (which pulls in ``http.client`` and the
``email`` package) for proxy discovery it does only when PySocks is installed, and ``uuid``
(with the ``_uuid`` extension, OpenWrt's python3-uuid) to invent a client id when none is
given. The agent has no PySocks and always names its client, so neither is ever used:
about 1.2 MiB of RSS on a 32-bit CPython (bench/agent.py). It also imports ``logging``,
for a logger the agent never gives it (paho logs nothing without one); the agent writes its
own lines (agent/logger.py). And it imports ``ssl`` and ``hashlib``, whose first import
initialises OpenSSL (its digests and ciphers: ~2 MiB on a 32-bit gateway): a broker reached
over plain MQTT needs neither, an ``mqtts://`` one loads them when the transport sets TLS up.

A stand-in is a plain module whose first attribute access imports the real one, so a caller
that does need it still gets it, only later; ``known`` attributes are answered without
importing (paho reads ``logging``'s level numbers when it is imported, and names
``ssl.SSLWantReadError`` in the ``except`` clauses of every socket read). Once the real module
is loaded, the stand-in's attributes are replaced by the real ones, so a module that bound the
stand-in at its import (``import ssl`` in paho) sees the real classes from then on.

``start_light`` does the same, when the daemon's entry point (``agent/cli.py``) is first imported
and in no other process, for what the standard library itself imports and the agent's loop does
not use (bench/agent.py, 32-bit):
``ipaddress``, which ``urllib.parse`` imports for bracketed IPv6 hosts only, and ``datetime``,
whose module first compiles a pure-Python datetime and then replaces every name with the
``_datetime`` extension's (msgpack and sqlite3 import it; the extension alone is the same API).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

#: ``logging``'s level numbers (unchanged since Python 2.3), which paho's client module reads at import.
LOGGING_LEVELS = {"CRITICAL": 50, "ERROR": 40, "WARNING": 30, "INFO": 20, "DEBUG": 10, "NOTSET": 0}


class _NeverRaised(Exception):
    """Stands for an ``ssl`` exception class while ``ssl`` is not loaded: a plain socket never raises it."""


#: What paho's socket reads and writes name of ``ssl`` on every call (in ``except`` clauses).
SSL_EXCEPTIONS = {"SSLWantReadError": _NeverRaised, "SSLWantWriteError": _NeverRaised}


def platform_system() -> str:
    """``platform.system()`` on a POSIX system (``uname -s``), which paho reads once at its import."""
    return os.uname().sysname


def start_light() -> None:
    """Stand-ins for standard-library modules the agent's imports pull in but its loop does not use.

    Called by ``agent/cli.py`` (the daemon's entry point) before anything else of the agent is
    imported; a process that only uses the agent as a library (the emulator, tests) never calls it,
    and one that has already imported a module keeps the real one.
    """
    defer("ipaddress")
    # the extension is built on OpenWrt too (python3-light's lib-dynload); a Python without it keeps
    # datetime.py's pure-Python classes
    if "datetime" not in sys.modules and importlib.util.find_spec("_datetime") is not None:
        sys.modules["datetime"] = importlib.import_module("_datetime")


def defer(*names: str, known: dict[str, dict[str, Any]] | None = None) -> None:
    """Put a stand-in in ``sys.modules`` for each module not imported yet.

    ``known`` gives some stand-ins attributes answered without the import (module name -> attributes).
    A module that is not installed gets none: its importers see the ImportError they expect.
    """
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)  # where it is, without running it
        if spec is None:
            continue
        stub = types.ModuleType(
            name, f"stand-in for {name}, imported on first use (agent.publisher.deferred)"
        )
        stub.__spec__ = spec  # what importlib.util.find_spec answers for a module already in sys.modules
        stub.__dict__.update((known or {}).get(name, {}))
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
        # whoever bound the stand-in now reads the real attributes (the ``known`` ones included)
        stub.__dict__.update(vars(real))
        return getattr(real, attr)

    return load
