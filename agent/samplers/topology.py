"""Mesh topology: which access point hangs off which, and the backhaul between them.

Two sources. 802.11s mesh peers in the mesh interface's station list (signal and rates of the
backhaul), and B.A.T.M.A.N. advanced originators (``batctl o``: multi-hop, over Wi-Fi or
Ethernet) with its global translation table (``batctl tg``: which client sits behind which
node). Vendor FTTR (fibre room unit) controllers expose nothing standard and are not read.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from agent.parsers.assoc import associations
from agent.parsers.device import Tools, tools_for
from agent.parsers.wireless import wifi_interfaces
from agent.record import record
from agent.samplers.base import SampleContext, conform
from agent.system import System, SystemAccessError
from protocol.shapes import TopologyLink

_MAC = r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}"
_HEADER = re.compile(rf"MainIF/MAC:\s*\S+?/({_MAC})")
_ORIGINATOR = re.compile(rf"^\s*\*\s+({_MAC})\s+\S+\s+\(\s*[\d.]+\)\s+({_MAC})\s+\[\s*([^\]]+?)\s*\]")
_TRANSLATION = re.compile(rf"^\s*\*?\s*({_MAC})\s+-?\d+\s+\[[^\]]*\]\s+\(\s*\d+\)\s+({_MAC})")


@record(frozen=True)
class Originator:
    """A mesh node reachable through ``nexthop`` on ``interface`` (``batctl o``, best routes only)."""

    mac: str
    nexthop: str
    interface: str


def parse_batctl_own_mac(text: str) -> str | None:
    """This node's originator address, from the ``[B.A.T.M.A.N. adv ..., MainIF/MAC: if/mac ...]`` header."""
    match = _HEADER.search(text)
    return match.group(1).lower() if match else None


def parse_batctl_originators(text: str) -> list[Originator]:
    """``batctl o``: lines starting with ``*`` are the selected route to each originator."""
    out: list[Originator] = []
    for line in text.splitlines():
        match = _ORIGINATOR.match(line)
        if match:
            out.append(Originator(match.group(1).lower(), match.group(2).lower(), match.group(3)))
    return out


def parse_batctl_translations(text: str) -> dict[str, str]:
    """``batctl tg``: ``{client MAC: originator MAC}`` (the node the client is attached to)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _TRANSLATION.match(line)
        if match:
            out.setdefault(match.group(1).lower(), match.group(2).lower())
    return out


def batman_links(own: str, originators: list[Originator], wifi_ports: set[str]) -> list[dict[str, Any]]:
    """One link per node: its parent is the next hop towards it, or this gateway when adjacent.

    For paths longer than two hops the next hop is an ancestor rather than the parent, which still
    draws a connected tree rooted at the gateway.
    """
    links: list[dict[str, Any]] = []
    for node in originators:
        parent = own if node.nexthop == node.mac else node.nexthop
        medium = "wifi" if node.interface in wifi_ports else "ethernet"
        links.append({"node": node.mac, "parent": parent, "medium": medium})
    return links


def mesh_clients(system: System, tools: Tools) -> dict[str, str]:
    """Clients attached to other mesh nodes, from ``batctl tg`` (empty without batman-adv)."""
    if not tools.has("batctl"):
        return {}
    try:
        return parse_batctl_translations(system.run(["batctl", "tg"]))
    except SystemAccessError:
        return {}


class TopologySampler:
    """The ``topology`` section: one link per mesh node seen from this gateway."""

    name: ClassVar[str] = "topology"

    def available(self, ctx: SampleContext) -> str | None:
        tools = tools_for(ctx.shared, ctx.system)
        if tools.has("batctl") or tools.has("iw") or tools.has("ubus"):
            return None
        return "no batctl, iw or ubus: no mesh to map"

    def _own_mac(self, system: System, iface: str, known: str | None) -> str | None:
        if known:
            return known
        try:
            return system.read(f"/sys/class/net/{iface}/address").strip().lower() or None
        except SystemAccessError:
            return None

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        tools = tools_for(ctx.shared, ctx.system)
        links: dict[str, dict[str, Any]] = {}
        ifaces = wifi_interfaces(ctx.shared, ctx.system) if tools.has("iw") or tools.has("ubus") else []
        mesh_ifaces = [i for i in ifaces if i.mode == "mesh"]
        if mesh_ifaces:
            assoc = associations(ctx.shared, ctx.system)
            for iface in mesh_ifaces:
                own = self._own_mac(ctx.system, iface.name, iface.mac)
                for peer in assoc.get(iface.name, []):
                    if peer.mesh_plink not in (None, "ESTAB"):
                        continue  # a peer link still being set up is not backhaul yet
                    links[peer.mac] = {
                        "node": peer.mac,
                        "parent": own,
                        "medium": "wifi",
                        "signal_dbm": peer.signal_dbm,
                        "tx_rate_kbps": peer.tx_rate_kbps,
                        "rx_rate_kbps": peer.rx_rate_kbps,
                    }
        if tools.has("batctl"):
            try:
                text = ctx.system.run(["batctl", "o"])
            except SystemAccessError:
                text = ""
            own = parse_batctl_own_mac(text)
            if own:
                wifi_ports = {i.name for i in ifaces}
                for link in batman_links(own, parse_batctl_originators(text), wifi_ports):
                    # An 802.11s peer already has its radio figures; batman adds the multi-hop nodes.
                    links.setdefault(link["node"], link)
        return {"topology": [conform(TopologyLink, link) for link in links.values()]}
