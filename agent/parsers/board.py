"""Device identity (``Device.DeviceInfo``) and temperature, from OpenWrt or plain Linux sources.

Pure ``parse_*`` functions take the text of one source; :func:`read_board` and
:func:`read_temperature` merge what the device has, richest source first.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from typing import Any

from agent.parsers.device import Tools, ubus_call
from agent.parsers.procfs import parse_millidegrees
from agent.system import System, SystemAccessError


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().strip("\x00").strip()
    return text[:128] or None


def manufacturer_of(model: str | None, board_name: str | None) -> str | None:
    """The maker, from the model's first word when it agrees with the board id's vendor prefix.

    OpenWrt board ids look like ``tplink,archer-c6-v3`` and model names like ``TP-Link Archer C6
    v3``: the model gives the spelling, the board id confirms the model starts with the maker.
    """
    vendor = board_name.split(",", 1)[0] if board_name and "," in board_name else None
    first = model.split()[0] if model and model.split() else None
    if (
        first
        and vendor
        and re.sub(r"[^a-z0-9]", "", first.lower()) == re.sub(r"[^a-z0-9]", "", vendor.lower())
    ):
        return first
    return vendor or None


def parse_system_board(reply: dict[str, Any]) -> dict[str, str]:
    """``ubus call system board``: kernel, hostname, model, board_name, release{...}."""
    raw = reply.get("release")
    release: dict[str, Any] = raw if isinstance(raw, dict) else {}
    distribution, version = _clean(release.get("distribution")), _clean(release.get("version"))
    out = {
        "model": _clean(reply.get("model")),
        "hostname": _clean(reply.get("hostname")),
        "kernel": _clean(reply.get("kernel")),
        "target": _clean(release.get("target")),
        "release": " ".join(p for p in (distribution, version) if p) or None,
        "manufacturer": manufacturer_of(_clean(reply.get("model")), _clean(reply.get("board_name"))),
    }
    return {k: v for k, v in out.items() if v}


def parse_shell_vars(text: str) -> dict[str, str]:
    """``KEY='value'`` lines, as in /etc/openwrt_release and /etc/os-release."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.isidentifier():
            try:
                words = shlex.split(value)
            except ValueError:
                words = [value.strip("'\"")]
            out[key] = " ".join(words)
    return out


def parse_openwrt_release(text: str) -> dict[str, str]:
    """/etc/openwrt_release: ``DISTRIB_ID``, ``DISTRIB_RELEASE``, ``DISTRIB_TARGET``."""
    values = parse_shell_vars(text)
    release = " ".join(p for p in (values.get("DISTRIB_ID"), values.get("DISTRIB_RELEASE")) if p)
    out = {"release": release, "target": values.get("DISTRIB_TARGET", "")}
    return {k: v for k, v in out.items() if v}


def parse_board_json(text: str) -> dict[str, str]:
    """/etc/board.json: ``model.name`` and ``model.id`` (the board id gives the maker)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict):
        return {}
    name, board = _clean(model.get("name")), _clean(model.get("id"))
    out = {"model": name, "manufacturer": manufacturer_of(name, board)}
    return {k: v for k, v in out.items() if v}


def parse_os_release(text: str) -> dict[str, str]:
    """/etc/os-release ``PRETTY_NAME`` (plain Linux)."""
    pretty = parse_shell_vars(text).get("PRETTY_NAME", "")
    return {"release": pretty} if pretty else {}


def _read(system: System, path: str) -> str | None:
    try:
        return system.read(path)
    except SystemAccessError:
        return None


def _read_value(system: System, path: str) -> str | None:
    text = _read(system, path)
    return _clean(text) if text else None


def read_board(system: System, tools: Tools) -> dict[str, str]:
    """Board identity from ``ubus call system board``, else OpenWrt files, else plain Linux files."""
    board: dict[str, str] = {}

    def fill(found: dict[str, str]) -> None:
        for key, value in found.items():
            board.setdefault(key, value)

    if tools.has("ubus"):
        with contextlib.suppress(SystemAccessError):
            fill(parse_system_board(ubus_call(system, "system", "board")))
    if not {"release", "model"} <= board.keys():
        text = _read(system, "/etc/openwrt_release")
        if text:
            fill(parse_openwrt_release(text))
        text = _read(system, "/etc/board.json")
        if text:
            fill(parse_board_json(text))
    if "release" not in board:
        text = _read(system, "/etc/os-release")
        if text:
            fill(parse_os_release(text))
    for key, path in (
        ("hostname", "/proc/sys/kernel/hostname"),
        ("kernel", "/proc/sys/kernel/osrelease"),
        ("model", "/sys/class/dmi/id/product_name"),
        ("manufacturer", "/sys/class/dmi/id/sys_vendor"),
    ):
        if key not in board:
            value = _read_value(system, path)
            if value:
                board[key] = value
    return board


def read_temperature(system: System) -> float | None:
    """The hottest plausible reading of the thermal zones and hwmon sensors, if there are any.

    The hottest is what matters to an operator (throttling, failing fans); zone names vary too
    much between SoCs to pick "the CPU" reliably.
    """
    readings: list[float] = []
    try:
        zones = [z for z in system.listdir("/sys/class/thermal") if z.startswith("thermal_zone")]
    except SystemAccessError:
        zones = []
    for zone in zones:
        value = _read(system, f"/sys/class/thermal/{zone}/temp")
        celsius = parse_millidegrees(value) if value else None
        if celsius is not None:
            readings.append(celsius)
    try:
        monitors = system.listdir("/sys/class/hwmon")
    except SystemAccessError:
        monitors = []
    for monitor in monitors:
        try:
            names = system.listdir(f"/sys/class/hwmon/{monitor}")
        except SystemAccessError:
            continue
        for name in names:
            if name.startswith("temp") and name.endswith("_input"):
                value = _read(system, f"/sys/class/hwmon/{monitor}/{name}")
                celsius = parse_millidegrees(value) if value else None
                if celsius is not None:
                    readings.append(celsius)
    return max(readings) if readings else None
