"""Interfaces sampler: roles, link state and speed, cumulative counters."""

from __future__ import annotations

from agent.samplers.interfaces import InterfacesSampler, interface_role, parse_default_route
from agent.samplers.wan import WanSampler
from tests.agent.samplers.conftest import ARCHER, MESH, CtxFactory
from tests.agent.samplers.recorded import recorded


def test_archer_interfaces_after_the_wan_sampler(make_ctx: CtxFactory) -> None:
    ctx = make_ctx(recorded(ARCHER, "step1"), 1)
    WanSampler().sample(ctx)
    rows = {r["name"]: r for r in InterfacesSampler().sample(ctx)["interfaces"]}
    assert list(rows) == [
        "eth0",
        "lan1",
        "lan2",
        "lan3",
        "lan4",
        "wan",
        "br-lan",
        "phy0-ap0",
        "phy1-ap0",
    ]  # no lo
    wan = rows["wan"]
    assert (wan["role"], wan["up"], wan["speed_mbps"], wan["mac"]) == ("wan", True, 1000, "c0:4a:00:11:22:31")
    assert (wan["bytes_received"], wan["bytes_sent"]) == (
        17_970_517_064 + 1_125_000_000,
        625_158_434 + 112_500_000,
    )
    assert rows["lan1"]["up"] is False and "speed_mbps" not in rows["lan1"]  # -1: no link
    assert "speed_mbps" not in rows["br-lan"]  # virtual devices refuse to report a speed
    assert rows["phy1-ap0"]["role"] == "wifi"
    assert rows["lan2"]["role"] == "lan"


def test_counters_stay_cumulative_across_a_reset(make_ctx: CtxFactory) -> None:
    # The collector turns counters into deltas using uptime; the agent reports them as read.
    rows = {
        r["name"]: r
        for r in InterfacesSampler().sample(make_ctx(recorded(ARCHER, "step1", "step2-reset"), 2))[
            "interfaces"
        ]
    }
    assert rows["wan"]["bytes_received"] == (17_970_517_064 + 1_125_000_000) // 1000


def test_wan_from_the_default_route_when_alone(make_ctx: CtxFactory) -> None:
    rows = {r["name"]: r for r in InterfacesSampler().sample(make_ctx(recorded(MESH), 0))["interfaces"]}
    assert rows["pppoe-wan"]["role"] == "wan"
    assert rows["pppoe-wan"]["up"] is True  # operstate "unknown" on a point-to-point device


def test_roles() -> None:
    assert interface_role("eth1", "eth1", ()) == "wan"
    assert interface_role("br-guest", None, ("br-guest",)) == "lan"
    assert interface_role("wlan1", None, ()) == "wifi"
    assert interface_role("tun0", None, ()) == "other"


def test_default_route(shared_testdata: object) -> None:
    text = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nwan\t00000000\t017100CB\t0003\t0\t0\t10\t00000000\n"
    assert parse_default_route(text) == "wan"
    assert parse_default_route(text.replace("0003", "0002")) is None  # route not up
