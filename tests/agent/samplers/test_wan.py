"""WAN sampler: ubus status, plain-Linux fallback, online/offline accounting and utilisation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.samplers import wan as wan_module
from agent.samplers.wan import (
    OnlineClock,
    WanSampler,
    parse_interface_status,
    parse_ip_addr,
    parse_resolv_conf,
    utilization_pct,
)
from tests.agent.samplers.conftest import ARCHER, MESH, WINDOW, CtxFactory
from tests.agent.samplers.recorded import MISSING, RecordedSystem, recorded

STATUS = ["ubus", "call", "network.interface.wan", "status"]


def test_parse_shared_dhcp_status(shared_testdata: Any) -> None:
    reply = json.loads(
        (
            shared_testdata / "openwrt/network_interface_status.dhcp-wan.openwisp-transliterated.json"
        ).read_text()
    )
    status = parse_interface_status(reply)
    assert (status.up, status.device, status.protocol) == (True, "eth2", "dhcp")
    assert (status.ipv4, status.gateway, status.dns, status.uptime_s) == (
        "192.168.0.144",
        "192.168.0.1",
        ["192.168.0.1"],
        132,
    )


def test_parse_down_interface() -> None:
    status = parse_interface_status({"up": False, "device": "wan", "proto": "dhcp", "uptime": 0})
    assert (status.up, status.device, status.uptime_s, status.gateway) == (False, "wan", None, None)


def test_archer_windows_online_and_reconnect(make_ctx: CtxFactory) -> None:
    sampler = WanSampler()
    primed = sampler.sample(make_ctx(recorded(ARCHER), 0))["wan"]
    assert (primed["online_s"], primed["offline_s"]) == (0, 0)  # a zero-length window
    first = sampler.sample(make_ctx(recorded(ARCHER, "step1"), 1))["wan"]
    assert first == {
        "interface": "wan",
        "protocol": "dhcp",
        "ipv4": "203.0.113.7",
        "gateway": "203.0.113.1",
        "dns": ["203.0.113.53", "198.51.100.53"],
        "connected": True,
        "connection_uptime_s": 15000,
        "online_s": 900,
        "offline_s": 0,
        "plan_down_kbps": 100_000,
        "plan_up_kbps": 20_000,
        "down_utilization_pct": 10.0,
        "up_utilization_pct": 5.0,
    }
    # The connection came back 250 s before this sample: it was down for the rest of the window.
    second = sampler.sample(make_ctx(recorded(ARCHER, "step1", "step2-reset"), 2))["wan"]
    assert (second["connection_uptime_s"], second["online_s"], second["offline_s"]) == (250, 250, 650)


def test_shared_facts_for_later_samplers(make_ctx: CtxFactory) -> None:
    ctx = make_ctx(recorded(MESH), 0)
    WanSampler().sample(ctx)
    assert (ctx.shared["wan_device"], ctx.shared["wan_gateway"]) == ("pppoe-wan", "198.51.100.1")


def test_utilisation_against_the_plan(make_ctx: CtxFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Look at the row before conform(), so a figure of None is visible too.
    monkeypatch.setattr(
        wan_module, "conform", lambda shape, row: {k: v for k, v in row.items() if v is not None}
    )
    sampler = WanSampler()
    sampler.sample(make_ctx(recorded(ARCHER), 0))
    row = sampler.sample(make_ctx(recorded(ARCHER, "step1"), 1))["wan"]
    # 1.125 GB down and 112.5 MB up in 900 s: 10 Mbit/s of 100 and 1 Mbit/s of 20.
    assert (row["down_utilization_pct"], row["up_utilization_pct"]) == (10.0, 5.0)
    after_reset = sampler.sample(make_ctx(recorded(ARCHER, "step1", "step2-reset"), 2))["wan"]
    assert "down_utilization_pct" not in after_reset  # counters went backwards: no figure


def test_utilisation_falls_back_to_link_speed(
    make_ctx: CtxFactory, config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.record import replace
    from tests.agent.samplers.conftest import Clock

    monkeypatch.setattr(
        wan_module, "conform", lambda shape, row: {k: v for k, v in row.items() if v is not None}
    )
    plain = replace(config, plan_down_kbps=0, plan_up_kbps=0)
    sampler = WanSampler()
    sampler.sample(Clock().ctx(recorded(ARCHER), plain, 0))
    row = sampler.sample(Clock().ctx(recorded(ARCHER, "step1"), plain, 1))["wan"]
    assert (row["down_utilization_pct"], row["up_utilization_pct"]) == (1.0, 0.1)  # of a 1000 Mbit/s port
    assert "plan_down_kbps" not in row


def _linux(route: str | object) -> RecordedSystem:
    system = recorded(ARCHER)
    for tool in ("/usr/sbin/ubus", "/usr/bin/ubus", "/sbin/ubus", "/bin/ubus"):
        system.add_file(tool, MISSING)
    system.add_file("/proc/net/route", route)
    system.add_command(
        ["ip", "-4", "-o", "addr", "show", "dev", "wan"],
        "5: wan    inet 203.0.113.7/24 brd 203.0.113.255 scope global wan\\       valid_lft forever preferred_lft forever\n",
    )
    system.add_file("/tmp/resolv.conf.d/resolv.conf.auto", MISSING)
    system.add_file(
        "/etc/resolv.conf", "# generated\nnameserver 127.0.0.53\nnameserver 203.0.113.53\nsearch lan\n"
    )
    return system


def test_plain_linux_fallback(make_ctx: CtxFactory) -> None:
    route = recorded(ARCHER).recording("/proc/net/route")
    row = WanSampler().sample(make_ctx(_linux(route), 1))["wan"]
    assert row == {
        "interface": "wan",
        "ipv4": "203.0.113.7",
        "gateway": "203.0.113.1",
        "dns": ["203.0.113.53"],
        "connected": True,
        "online_s": 900,
        "offline_s": 0,
        "plan_down_kbps": 100_000,
        "plan_up_kbps": 20_000,
    }


def test_no_default_route_is_offline(make_ctx: CtxFactory) -> None:
    system = _linux("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n")
    ctx = make_ctx(system, 1)
    assert WanSampler().sample(ctx)["wan"] == {"connected": False, "online_s": 0, "offline_s": WINDOW}
    assert "wan_device" not in ctx.shared


def test_unavailable_without_ubus_or_route(make_ctx: CtxFactory) -> None:
    system = _linux(MISSING)
    assert (
        WanSampler().available(make_ctx(system, 0)) == "neither ubus nor /proc/net/route: cannot find the WAN"
    )


def test_tick_refines_the_window(make_ctx: CtxFactory) -> None:
    sampler = WanSampler()
    sampler.sample(make_ctx(recorded(ARCHER), 0))  # monotonic 100
    down = recorded(ARCHER)
    down.add_command(STATUS, json.dumps({"up": False, "device": "wan", "proto": "dhcp"}))
    for minute in range(1, 4):  # down for minutes 1-3 (observed at 160, 220, 280)
        sampler.tick(down, 100.0 + 60 * minute)
    up = recorded(ARCHER)
    up.add_command(STATUS, json.dumps({"up": True, "device": "wan", "proto": "dhcp", "uptime": 400}))
    row = sampler.sample(make_ctx(up, 1))["wan"]
    # 180 s offline seen by the ticks, then up since 400 s before the window end (at 1000).
    assert (row["online_s"], row["offline_s"]) == (400, 500)


class TestOnlineClock:
    def test_first_observation_uses_connection_uptime(self) -> None:
        clock = OnlineClock()
        clock.observe(10.0, True, 100)
        assert clock.take(900, True, 100) == (100, 800)

    def test_down_throughout(self) -> None:
        clock = OnlineClock()
        clock.observe(0.0, False, None)
        clock.observe(900.0, False, None)
        assert clock.take(900, False, None) == (0, 900)

    def test_scaled_to_the_window(self) -> None:
        clock = OnlineClock()
        clock.observe(0.0, True, 5000)
        clock.observe(902.5, True, 5902)  # a late sample: still the whole window online
        assert clock.take(900, True, 5902) == (900, 0)

    def test_time_going_backwards_is_ignored(self) -> None:
        clock = OnlineClock()
        clock.observe(100.0, True, None)
        clock.observe(50.0, True, None)
        assert clock.take(900, True, None) == (900, 0)


@pytest.mark.parametrize(
    ("delta", "elapsed", "rate", "expected"),
    [
        (112_500_000, 900, 1000, 100.0),
        (0, 900, 1000, 0.0),
        (-1, 900, 1000, None),
        (10, 0, 1000, None),
        (10, 900, 0, None),
    ],
)
def test_utilization_pct(delta: int, elapsed: float, rate: int, expected: float | None) -> None:
    assert utilization_pct(delta, elapsed, rate) == expected


def test_resolv_and_ip_parsers() -> None:
    assert parse_resolv_conf("nameserver 127.0.0.1\nnameserver ::1\nnameserver 9.9.9.9\noptions x\n") == [
        "9.9.9.9"
    ]
    assert parse_ip_addr("") is None
    assert parse_ip_addr("2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0") == "192.0.2.2"
