"""The WAN connection (``Device.IP.Interface`` of the WAN, ``Device.PPP``/``DHCPv4.Client``).

On OpenWrt ``ubus call network.interface.wan status`` names the device, protocol, address,
gateway, DNS servers and connection uptime; elsewhere the IPv4 default route names the WAN.
Online and offline seconds within the window come from observations of the connection state:
one per window, or one a minute when the runner calls :meth:`WanSampler.tick`.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from agent.parsers.device import Tools, read_net_dev, tools_for, ubus_call
from agent.parsers.procfs import parse_default_gateway
from agent.record import field, record
from agent.samplers.base import SampleContext, conform
from agent.subscription import Subscription
from agent.system import System, SystemAccessError
from protocol.shapes import Wan

#: OpenWrt's logical name of the WAN interface in /etc/config/network.
WAN_LOGICAL = "wan"
#: With netifd's events followed, the connection is still looked at this often.
SAFETY_TICK_S = 300.0
#: The ``ubus listen`` event types that may change the WAN's state.
INTERFACE_EVENTS = frozenset({"network.interface"})


@record
class WanStatus:
    """What one look at the WAN connection tells."""

    up: bool
    device: str | None = None
    protocol: str | None = None
    ipv4: str | None = None
    gateway: str | None = None
    dns: list[str] = field(default_factory=list)
    uptime_s: int | None = None  # how long the connection has been up, when the source knows
    from_ubus: bool = False  # netifd's view; otherwise the routing table's, to be completed from Linux files


def parse_interface_status(reply: dict[str, Any]) -> WanStatus:
    """``ubus call network.interface.<name> status``."""
    up = bool(reply.get("up"))
    device = reply.get("l3_device") or reply.get("device")
    addresses = [a for a in reply.get("ipv4-address") or [] if isinstance(a, dict)]
    routes = [r for r in reply.get("route") or [] if isinstance(r, dict)]
    gateway = next(
        (
            r.get("nexthop")
            for r in routes
            if r.get("target") == "0.0.0.0"
            and r.get("mask") == 0
            and r.get("nexthop") not in (None, "0.0.0.0")
        ),
        None,
    )
    uptime = reply.get("uptime")
    return WanStatus(
        up=up,
        device=device if isinstance(device, str) else None,
        protocol=reply.get("proto") if isinstance(reply.get("proto"), str) else None,
        ipv4=addresses[0].get("address") if addresses else None,
        gateway=gateway if isinstance(gateway, str) else None,
        dns=[d for d in reply.get("dns-server") or [] if isinstance(d, str)][:16],
        uptime_s=int(uptime) if up and isinstance(uptime, int) else None,
        from_ubus=True,
    )


def parse_resolv_conf(text: str) -> list[str]:
    """``nameserver`` addresses of a resolv.conf, loopback ones left out (a local resolver)."""
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith(("127.", "::1")):
            out.append(parts[1])
    return out[:16]


def parse_ip_addr(text: str) -> str | None:
    """The first IPv4 address in ``ip -4 -o addr show dev X`` output."""
    for line in text.splitlines():
        parts = line.split()
        if "inet" in parts:
            index = parts.index("inet")
            if index + 1 < len(parts):
                return parts[index + 1].split("/")[0]
    return None


class OnlineClock:
    """Online and offline seconds between observations of the connection.

    Between two observations the later state decides, except that a connection up for less than
    the interval was offline before it came up. So the error is at most one observation interval.
    """

    def __init__(self) -> None:
        self._last: float | None = None
        self.online = 0.0
        self.offline = 0.0

    def observe(self, at: float, up: bool, uptime_s: int | None) -> None:
        """Account the time since the previous observation."""
        if self._last is not None and at > self._last:
            elapsed = at - self._last
            if up:
                online = elapsed if uptime_s is None else min(float(uptime_s), elapsed)
                self.online += online
                self.offline += elapsed - online
            else:
                self.offline += elapsed
        self._last = at

    def take(self, window_s: int, up: bool, uptime_s: int | None) -> tuple[int, int]:
        """``(online_s, offline_s)`` scaled to the window, then start counting afresh."""
        total = self.online + self.offline
        if total > 0:
            online = round(window_s * self.online / total)
        elif up:  # nothing observed before: the connection uptime is all we know
            online = window_s if uptime_s is None else min(uptime_s, window_s)
        else:
            online = 0
        self.online = self.offline = 0.0
        return online, window_s - online


def utilization_pct(delta_bytes: int, elapsed_s: float, rate_kbps: int) -> float | None:
    """Mean use of a link of ``rate_kbps`` over ``elapsed_s``; ``None`` when it cannot be known."""
    if delta_bytes < 0 or elapsed_s <= 0 or rate_kbps <= 0:
        return None
    return round(min(100.0, 100.0 * delta_bytes * 8 / 1000.0 / elapsed_s / rate_kbps), 2)


class WanSampler:
    """The ``wan`` section; leaves ``wan_device`` and ``wan_gateway`` in ``ctx.shared``."""

    name: ClassVar[str] = "wan"

    def __init__(self) -> None:
        self._clock = OnlineClock()
        self._tools: Tools | None = None
        self._last_bytes: tuple[float, str, int, int] | None = None  # (monotonic, device, rx, tx)
        self._configured_device = ""
        self._events: Subscription | None = None
        self._last_tick = self._subscribed_at = 0.0

    def available(self, ctx: SampleContext) -> str | None:
        if tools_for(ctx.shared, ctx.system).has("ubus") or ctx.system.exists("/proc/net/route"):
            return None
        return "neither ubus nor /proc/net/route: cannot find the WAN"

    def _status(self, system: System, tools: Tools, wan_device: str) -> WanStatus | None:
        if tools.has("ubus"):
            try:
                return parse_interface_status(ubus_call(system, f"network.interface.{WAN_LOGICAL}", "status"))
            except SystemAccessError:
                pass  # no "wan" interface in /etc/config/network: fall back to the routing table
        try:
            route = parse_default_gateway(system.read("/proc/net/route"))
        except SystemAccessError:
            route = None
        device = wan_device or (route[0] if route else None)
        if device is None:
            return None
        try:
            state = system.read(f"/sys/class/net/{device}/operstate").strip()
        except SystemAccessError:
            state = "down"
        up = state in ("up", "unknown") and route is not None and route[0] == device
        return WanStatus(up=up, device=device, gateway=route[1] if route and route[0] == device else None)

    def tick(self, system: System, monotonic: float) -> None:
        """One cheap look at the connection between windows (the runner may call this each minute).

        Where netifd's events can be followed (``ubus listen network.interface``, one
        long-running command), the look is taken only after an interface event and every
        :data:`SAFETY_TICK_S` seconds: between events the state is unchanged, so the online
        time is as exact as with a look every minute, for 3 executions a window instead of 15.
        """
        tools = self._tools or Tools(system)
        if self._quiet(system, tools, monotonic):
            return
        self._last_tick = monotonic
        status = self._status(system, tools, self._configured_device)
        self._clock.observe(monotonic, bool(status and status.up), status.uptime_s if status else None)

    def _quiet(self, system: System, tools: Tools, monotonic: float) -> bool:
        stream = getattr(system, "stream", None)
        if not callable(stream) or not tools.has("ubus"):
            return False
        if self._events is None or not self._events.alive:
            # a command that keeps failing is retried at the safety pace, not every minute
            if self._events is None or monotonic - self._subscribed_at >= SAFETY_TICK_S:
                self._subscribed_at = monotonic
                self._events = Subscription(stream, ["ubus", "listen", "network.interface"], INTERFACE_EVENTS)
            return False
        if self._events.take():
            return False
        return monotonic - self._last_tick < SAFETY_TICK_S

    def close(self) -> None:
        """Stop following netifd's events (clean shutdown, tests)."""
        if self._events is not None:
            self._events.close()

    def _linux_details(self, ctx: SampleContext, status: WanStatus) -> None:
        tools = tools_for(ctx.shared, ctx.system)
        if status.ipv4 is None and status.device and tools.has("ip"):
            with contextlib.suppress(SystemAccessError):
                status.ipv4 = parse_ip_addr(
                    ctx.system.run(["ip", "-4", "-o", "addr", "show", "dev", status.device])
                )
        if not status.dns:
            for path in ("/tmp/resolv.conf.d/resolv.conf.auto", "/etc/resolv.conf"):
                try:
                    status.dns = parse_resolv_conf(ctx.system.read(path))
                except SystemAccessError:
                    continue
                break

    def _utilization(self, ctx: SampleContext, device: str, row: dict[str, Any]) -> None:
        counters = next((c for c in read_net_dev(ctx.shared, ctx.system) if c.name == device), None)
        if counters is None:
            return
        last, self._last_bytes = (
            self._last_bytes,
            (ctx.monotonic, device, counters.bytes_received, counters.bytes_sent),
        )
        if last is None or last[1] != device:
            return
        elapsed = ctx.monotonic - last[0]
        down_kbps, up_kbps = ctx.config.plan_down_kbps, ctx.config.plan_up_kbps
        if not down_kbps or not up_kbps:
            try:
                speed = int(ctx.system.read(f"/sys/class/net/{device}/speed").strip())
            except (SystemAccessError, ValueError):
                speed = 0
            down_kbps, up_kbps = down_kbps or speed * 1000, up_kbps or speed * 1000
        row["down_utilization_pct"] = utilization_pct(counters.bytes_received - last[2], elapsed, down_kbps)
        row["up_utilization_pct"] = utilization_pct(counters.bytes_sent - last[3], elapsed, up_kbps)

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        self._tools = tools_for(ctx.shared, ctx.system)
        self._configured_device = ctx.config.wan_interface
        status = self._status(ctx.system, self._tools, ctx.config.wan_interface)
        if status is None:
            self._clock.observe(ctx.monotonic, False, None)
            online, offline = self._clock.take(ctx.window_end - ctx.window_start, False, None)
            return {"wan": {"connected": False, "online_s": online, "offline_s": offline}}
        if ctx.config.wan_interface:
            status.device = ctx.config.wan_interface  # configuration beats discovery
        if not status.from_ubus:
            self._linux_details(ctx, status)
        self._clock.observe(ctx.monotonic, status.up, status.uptime_s)
        online, offline = self._clock.take(ctx.window_end - ctx.window_start, status.up, status.uptime_s)
        row: dict[str, Any] = {
            "interface": status.device,
            "protocol": status.protocol,
            "ipv4": status.ipv4,
            "gateway": status.gateway,
            "dns": status.dns,
            "connected": status.up,
            "connection_uptime_s": status.uptime_s,
            "online_s": online,
            "offline_s": offline,
            "plan_down_kbps": ctx.config.plan_down_kbps or None,
            "plan_up_kbps": ctx.config.plan_up_kbps or None,
        }
        if status.device:
            ctx.shared["wan_device"] = status.device
            self._utilization(ctx, status.device, row)
        if status.gateway:
            ctx.shared["wan_gateway"] = status.gateway
        return {"wan": conform(Wan, row)}
