"""Interface counters and link state (``Device.IP.Interface.{i}.Stats``, ``Device.Ethernet.Interface``)."""

from __future__ import annotations

from typing import Any, ClassVar

from agent.parsers.device import read_net_dev
from agent.parsers.procfs import parse_default_gateway
from agent.samplers.base import SampleContext, conform
from agent.system import SystemAccessError
from protocol.shapes import Interface

_SKIP_PREFIXES = ("lo", "sit", "ip6tnl", "gre", "teql", "dummy", "ifb", "imq", "veth")


def parse_default_route(text: str) -> str | None:
    """The device of the IPv4 default route in /proc/net/route, if any."""
    found = parse_default_gateway(text)
    return found[0] if found else None


def interface_role(name: str, wan: str | None, lan: tuple[str, ...]) -> str:
    """``wan``, ``lan``, ``wifi`` or ``other`` from the configuration and naming habits."""
    if wan and name == wan:
        return "wan"
    if name in lan or name.startswith(("br-lan", "lan", "eth")):
        return "lan"
    if name.startswith(("wlan", "phy", "ath", "ra", "wl")):
        return "wifi"
    return "other"


class InterfacesSampler:
    """Reads /proc/net/dev and /sys/class/net/<if>/{operstate,speed,address}.

    The WAN device comes from the configuration, else from the ``wan`` sampler (which runs
    first), else from the default route.
    """

    name: ClassVar[str] = "interfaces"

    def available(self, ctx: SampleContext) -> str | None:
        return None if ctx.system.exists("/proc/net/dev") else "/proc/net/dev is missing"

    def _wan(self, ctx: SampleContext) -> str | None:
        if ctx.config.wan_interface:
            return ctx.config.wan_interface
        wan = ctx.shared.get("wan_device")
        if isinstance(wan, str):
            return wan
        try:
            return parse_default_route(ctx.system.read("/proc/net/route"))
        except SystemAccessError:
            return None

    def _sys(self, ctx: SampleContext, name: str, leaf: str) -> str | None:
        try:
            return ctx.system.read(f"/sys/class/net/{name}/{leaf}").strip()
        except SystemAccessError:
            return None

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        wan = self._wan(ctx)
        rows: list[dict[str, Any]] = []
        for counters in read_net_dev(ctx.shared, ctx.system):
            if counters.name.startswith(_SKIP_PREFIXES) and counters.name != wan:
                continue
            row: dict[str, Any] = {
                "name": counters.name,
                "role": interface_role(counters.name, wan, ctx.config.lan_interfaces),
            }
            row.update({k: v for k, v in counters._asdict().items() if k != "name"})
            state = self._sys(ctx, counters.name, "operstate")
            if state is not None:
                row["up"] = state in ("up", "unknown")
            speed = self._sys(ctx, counters.name, "speed")
            # Virtual devices report -1 or refuse to read; only a positive figure is a link rate.
            if speed and speed.lstrip("-").isdigit() and int(speed) > 0:
                row["speed_mbps"] = int(speed)
            mac = self._sys(ctx, counters.name, "address")
            if mac:
                row["mac"] = mac.lower()
            rows.append(conform(Interface, row))
        if wan:
            ctx.shared.setdefault("wan_device", wan)
        return {"interfaces": rows}
