"""Topology: 802.11s peers and batman-adv originators as links towards the gateway."""

from __future__ import annotations

from agent.samplers.topology import (
    Originator,
    TopologySampler,
    batman_links,
    parse_batctl_originators,
    parse_batctl_own_mac,
    parse_batctl_translations,
)
from tests.agent.samplers.conftest import ARCHER, MESH, CtxFactory
from tests.agent.samplers.recorded import recorded

# batctl 2019.4 BATMAN_V layout (throughput instead of TQ), from a batman-adv mailing-list thread.
BATMAN_V = """[B.A.T.M.A.N. adv 2019.4, MainIF/MAC: eth0/00:0c:29:c5:d2:da (bat0/de:8b:cc:39:d0:69 BATMAN_V)]
   Originator        last-seen ( throughput)  Nexthop           [outgoingIF]
   00:0c:29:53:f8:c9    0.320s (    10000.0)  00:0c:29:53:f8:d3 [      eth1]
 * 00:0c:29:53:f8:c9    0.320s (    10000.0)  00:0c:29:53:f8:c9 [      eth0]
"""


def test_mesh_topology(make_ctx: CtxFactory) -> None:
    links = TopologySampler().sample(make_ctx(recorded(MESH), 0))["topology"]
    assert links == [
        {
            "node": "c0:4a:00:be:7b:09",
            "parent": "94:83:c4:a0:00:12",
            "medium": "wifi",
            "signal_dbm": -14,
            "tx_rate_kbps": 6500,
            "rx_rate_kbps": 39000,
        },
        {"node": "02:11:22:33:44:66", "parent": "c0:4a:00:be:7b:09", "medium": "wifi"},
    ]


def test_no_mesh_no_links(make_ctx: CtxFactory) -> None:
    assert TopologySampler().sample(make_ctx(recorded(ARCHER), 0)) == {"topology": []}


def test_batman_v_over_ethernet() -> None:
    assert parse_batctl_own_mac(BATMAN_V) == "00:0c:29:c5:d2:da"
    originators = parse_batctl_originators(BATMAN_V)
    assert originators == [Originator("00:0c:29:53:f8:c9", "00:0c:29:53:f8:c9", "eth0")]
    assert batman_links("00:0c:29:c5:d2:da", originators, set()) == [
        {"node": "00:0c:29:53:f8:c9", "parent": "00:0c:29:c5:d2:da", "medium": "ethernet"}
    ]


def test_translations() -> None:
    text = (
        "   Client             VID Flags Last ttvn     Via        ttvn  (CRC       )\n"
        " * 32:21:1f:29:72:04    0 [....] (  1) 00:30:1a:4e:aa:23 (  2) (0x3e5717a8)\n"
        " * 32:21:1f:29:72:04   -1 [....] (  1) 00:30:1a:4e:aa:24 (  2) (0xcfe8055b)\n"
    )
    assert parse_batctl_translations(text) == {"32:21:1f:29:72:04": "00:30:1a:4e:aa:23"}  # first entry wins
    assert parse_batctl_own_mac("no header") is None
