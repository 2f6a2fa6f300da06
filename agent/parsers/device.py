"""Helpers over :class:`agent.system.System`: which tools the device has, and ubus calls.

Nothing here touches the device directly; every access goes through the ``System`` given.
"""

from __future__ import annotations

import json
from typing import Any

from agent.parsers.procfs import NetDevCounters, parse_net_dev
from agent.system import System, SystemAccessError

#: Where OpenWrt and Debian-like systems keep the commands the samplers use.
TOOL_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


class Tools:
    """Finds commands once (``exists`` checks are cheap, but samplers ask often)."""

    def __init__(self, system: System) -> None:
        self.system = system
        self._found: dict[str, str | None] = {}

    def find(self, name: str) -> str | None:
        """The path of command ``name`` in :data:`TOOL_DIRS`, or ``None``."""
        if name not in self._found:
            self._found[name] = next(
                (f"{d}/{name}" for d in TOOL_DIRS if self.system.exists(f"{d}/{name}")), None
            )
        return self._found[name]

    def has(self, name: str) -> bool:
        """Whether command ``name`` is installed."""
        return self.find(name) is not None


def tools_for(shared: dict[str, Any], system: System) -> Tools:
    """The window's :class:`Tools`, shared by every sampler through ``ctx.shared``."""
    tools = shared.get("tools")
    if not isinstance(tools, Tools):
        tools = shared["tools"] = Tools(system)
    return tools


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """A JSON object from a command's output; :class:`SystemAccessError` if it is not one."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SystemAccessError(0, f"{what}: output is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SystemAccessError(0, f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def ubus_argv(path: str, method: str, args: dict[str, Any] | None = None) -> list[str]:
    """The ``ubus call`` command line; arguments are compact JSON (one argv word, no spaces)."""
    argv = ["ubus", "call", path, method]
    if args:
        argv.append(json.dumps(args, separators=(",", ":")))
    return argv


def ubus_call(system: System, path: str, method: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a ubus method and return its JSON reply; :class:`SystemAccessError` on any failure."""
    argv = ubus_argv(path, method, args)
    return parse_json_object(system.run(argv), " ".join(argv[:4]))


def parse_ubus_list(text: str) -> list[str]:
    """Object names from ``ubus list`` (one per line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def hostapd_objects(names: list[str]) -> dict[str, str]:
    """``{interface: ubus object}`` for every per-BSS hostapd object (``hostapd.wlan0``, ``hostapd.phy0-ap0``).

    The bare ``hostapd`` object is hostapd's global control object, not a BSS.
    """
    return {name.split(".", 1)[1]: name for name in names if name.startswith("hostapd.") and len(name) > 8}


def read_net_dev(shared: dict[str, Any], system: System) -> list[NetDevCounters]:
    """/proc/net/dev parsed once per window and shared (WAN, interfaces and radios all use it)."""
    rows = shared.get("net_dev")
    if not isinstance(rows, list):
        rows = shared["net_dev"] = parse_net_dev(system.read("/proc/net/dev"))
    return rows
