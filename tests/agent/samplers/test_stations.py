"""Stations sampler: the joined inventory, wired and mesh terminals, and the reachable estimate."""

from __future__ import annotations

import pytest

from agent.parsers.leases import (
    parse_brctl_showmacs,
    parse_bridge_fdb,
    parse_dhcp_leases,
    parse_ip_neigh,
    parse_proc_net_arp,
)
from agent.samplers.radios import RadiosSampler
from agent.samplers.stations import StationsSampler, reachable_kbps, retry_ratio
from agent.samplers.wan import WanSampler
from protocol.oui import is_randomized, parse_oui_table, vendor_of
from tests.agent.samplers.conftest import ARCHER, MESH, CtxFactory
from tests.agent.samplers.recorded import MISSING, recorded


def _window(
    sampler: StationsSampler, system: object, make_ctx: CtxFactory, n: int
) -> dict[str, dict[str, object]]:
    ctx = make_ctx(system, n)  # type: ignore[arg-type]
    WanSampler().sample(ctx)
    RadiosSampler().sample(ctx)
    rows = sampler.sample(ctx)["stations"]
    assert ctx.shared["stations"] is rows
    return {r["mac"]: r for r in rows}


def test_archer_inventory(make_ctx: CtxFactory) -> None:
    rows = _window(StationsSampler(), recorded(ARCHER), make_ctx, 0)
    assert list(rows) == [
        "24:0a:c4:12:34:56",
        "5c:8d:4e:82:3a:ae",
        "68:2f:67:8b:98:ed",
        "84:3a:4b:cb:77:30",
        "aa:bb:cc:dd:ee:ff",
        "e8:6a:64:3e:4a:3c",
    ]  # the WAN gateway's ARP entry and the incomplete one are not terminals
    macbook = rows["68:2f:67:8b:98:ed"]
    assert macbook == {
        "mac": "68:2f:67:8b:98:ed",
        "hostname": "MacBook-Air",
        "ip": "192.168.1.120",
        "interface": "phy1-ap0",
        "medium": "5GHz",
        "randomized_mac": False,
        "vendor": "Apple",
        "signal_dbm": -50,
        "noise_dbm": -91,
        "snr_db": 41,
        "tx_rate_kbps": 866_700,
        "rx_rate_kbps": 866_700,
        "standard": "ac",
        "bytes_sent": 746_805,
        "bytes_received": 1_933_667,
        "packets_sent": 2185,
        "packets_received": 3587,
        "retransmissions": 412,
        "failed": 3,
        "airtime_ms": 9246,
        "connected_s": 3120,
        "inactive_ms": 320,
        # no expected throughput: 866.7 Mbit/s x 0.6 x (1 - 412/2597 retried); no radio ratio yet
        "reachable_kbps": round(866_700 * 0.6 * (1 - 412 / 2597)),
    }
    phone = rows["aa:bb:cc:dd:ee:ff"]
    assert (phone["randomized_mac"], phone["hostname"], "vendor" in phone) == (True, "iPhone", False)
    assert phone["reachable_kbps"] == 526_310  # the rate control's own estimate
    plug = rows["24:0a:c4:12:34:56"]
    assert (plug["vendor"], plug["standard"], plug["medium"]) == ("Espressif", "g", "2.4GHz")
    assert rows["5c:8d:4e:82:3a:ae"].get("hostname") is None  # "*" in the lease
    assert rows["e8:6a:64:3e:4a:3c"] == {
        "mac": "e8:6a:64:3e:4a:3c",
        "hostname": "FRIDAY",
        "ip": "192.168.1.136",
        "interface": "lan2",
        "medium": "wired",
        "randomized_mac": False,
        "vendor": "Lenovo",
    }


def test_reachable_uses_window_deltas_and_radio_airtime(make_ctx: CtxFactory) -> None:
    sampler, radios = StationsSampler(), RadiosSampler()
    for n, steps in ((0, ()), (1, ("step1",))):
        ctx = make_ctx(recorded(ARCHER, *steps), n)
        WanSampler().sample(ctx)
        radios.sample(ctx)
        rows = {r["mac"]: r for r in sampler.sample(ctx)["stations"]}
    macbook = rows["68:2f:67:8b:98:ed"]
    # retries 41000 of 861000 attempts this window; the channel was 30 % busy, 11.08 % of it this station's
    assert macbook["reachable_kbps"] == round(
        866_700 * 0.6 * (1 - 41_000 / 861_000) * (0.7 + 99_750 / 900_000)
    )
    assert "24:0a:c4:12:34:56" not in rows  # left
    pixel = rows["f2:11:22:33:44:55"]
    assert (pixel["hostname"], pixel["randomized_mac"], pixel["ip"]) == ("Pixel-7", True, "192.168.1.150")


def test_counter_reset_gives_no_negative_estimate(make_ctx: CtxFactory) -> None:
    sampler = StationsSampler()
    for n, steps in ((1, ("step1",)), (2, ("step1", "step2-reset"))):
        rows = _window(sampler, recorded(ARCHER, *steps), make_ctx, n)
    for row in rows.values():
        assert row.get("reachable_kbps", 0) >= 0  # type: ignore[operator]


def test_mesh_inventory(make_ctx: CtxFactory) -> None:
    rows = _window(StationsSampler(), recorded(MESH), make_ctx, 0)
    assert "c0:4a:00:be:7b:09" not in rows  # the 802.11s peer is an access point
    assert rows["3a:ed:c5:16:bb:e6"] == {
        "mac": "3a:ed:c5:16:bb:e6",
        "hostname": "Galaxy-Tab",
        "ip": "192.168.1.160",
        "interface": "bat0",
        "medium": "mesh",
        "ap": "c0:4a:00:be:7b:09",
        "randomized_mac": True,
    }
    assert rows["00:24:9b:53:55:62"]["ap"] == "02:11:22:33:44:66"  # two hops away
    assert rows["00:24:9b:53:55:62"]["ip"] == "192.168.1.161"  # from the lease: the ARP entry is incomplete
    assert rows["e8:6a:64:3e:4a:3c"]["medium"] == "wired"
    iphone = rows["aa:bb:cc:dd:ee:ff"]
    assert (iphone["interface"], iphone["medium"], iphone["airtime_ms"], iphone["noise_dbm"]) == (
        "phy1-ap0",
        "5GHz",
        7,
        -91,
    )


def test_plain_linux_lists_lan_neighbours_only(make_ctx: CtxFactory) -> None:
    system = recorded(ARCHER)
    for tool in ("ubus", "iw", "brctl"):
        for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            system.add_file(f"{folder}/{tool}", MISSING)
    system.add_file("/tmp/dhcp.leases", MISSING)
    system.add_file("/var/lib/misc/dnsmasq.leases", MISSING)
    ctx = make_ctx(system, 0)
    ctx.shared["wan_device"] = "wan"
    assert StationsSampler().available(ctx) is None
    rows = StationsSampler().sample(ctx)["stations"]
    assert [(r["mac"], r["interface"], "medium" in r) for r in rows][:2] == [
        ("24:0a:c4:12:34:56", "br-lan", False),
        ("5c:8d:4e:82:3a:ae", "br-lan", False),
    ]
    assert all(r["interface"] != "wan" for r in rows)


@pytest.mark.parametrize(
    ("d_packets", "d_retries", "expected"),
    [(90, 10, 0.1), (0, 0, None), (-5, 1, None), (None, 1, None), (0, 4, 1.0)],
)
def test_retry_ratio(d_packets: int | None, d_retries: int | None, expected: float | None) -> None:
    assert retry_ratio(d_packets, d_retries) == expected


def test_reachable_kbps() -> None:
    assert reachable_kbps(None, None, None, 1.0) is None
    assert reachable_kbps(100_000, None, 0.0, 1.0) == 60_000
    assert reachable_kbps(100_000, None, 0.5, 0.5) == 15_000
    assert (
        reachable_kbps(100_000, 80_000, 0.5, 2.0) == 80_000
    )  # expected throughput wins; free airtime capped at 1
    assert reachable_kbps(100_000, None, 1.0, 0.0) == 300  # never zero: 10 % of attempts and 5 % airtime left


def test_lease_parsers(shared_testdata: object) -> None:
    from pathlib import Path

    root = Path(str(shared_testdata)) / "openwrt"
    (lease,) = parse_dhcp_leases((root / "dhcp.leases.openwisp").read_text())
    assert (lease.mac, lease.ip, lease.hostname, lease.expires) == (
        "e8:6a:64:3e:4a:3c",
        "192.168.1.136",
        "FRIDAY",
        1620788343,
    )
    (odd,) = parse_dhcp_leases(
        (root / "dhcp.leases.irregular.openwisp").read_text()
    )  # the duid line is skipped
    assert (odd.mac, odd.hostname) == ("c6:df:44:00:00:00", None)
    (entry,) = parse_proc_net_arp((root / "proc_net_arp.linux-sample.txt").read_text())
    assert (entry.ip, entry.mac, entry.device) == ("192.0.2.1", "02:fc:00:00:00:05", "eth0")


def test_neighbour_and_bridge_parsers() -> None:
    neigh = parse_ip_neigh(
        "192.168.1.5 dev br-lan lladdr 00:11:22:33:44:55 REACHABLE\n"
        "fe80::1 dev br-lan lladdr 00:11:22:33:44:66 router STALE\n"
        "192.168.1.9 dev br-lan  FAILED\n"
        "192.168.1.7 dev br-lan lladdr 00:11:22:33:44:77 FAILED\n"
    )
    assert [(n.ip, n.mac) for n in neigh] == [
        ("192.168.1.5", "00:11:22:33:44:55"),
        ("fe80::1", "00:11:22:33:44:66"),
    ]
    fdb = parse_bridge_fdb(
        "00:11:22:33:44:55 dev lan1 master br-lan\n33:33:00:00:00:01 dev br-lan self permanent\n"
        "00:11:22:33:44:66 dev lan1 vlan 1 master br-lan permanent\n00:11:22:33:44:77 dev eth0 self\n"
    )
    assert [(e.mac, e.port, e.bridge) for e in fdb] == [("00:11:22:33:44:55", "lan1", "br-lan")]
    assert parse_brctl_showmacs(
        "port no\tmac addr\tis local?\tageing timer\n  1\t00:11:22:33:44:55\tyes\t0.00\n  2\t00:11:22:33:44:66\tno\t1.00\n"
    ) == [(2, "00:11:22:33:44:66")]


def test_oui_and_randomised_flag() -> None:
    assert vendor_of("b8:27:eb:00:00:01") == "Raspberry Pi"
    assert vendor_of("F0:B4:79:00:00:01".lower()) == "Apple"
    assert vendor_of("02:00:00:00:00:01") is None  # locally administered: says nothing
    assert vendor_of("00:00:01:00:00:01") is None  # not in the table
    assert vendor_of("zz") is None
    assert is_randomized("da:a1:19:00:00:01") and not is_randomized("d8:a1:19:00:00:01")
    prefixes, vendors, names = parse_oui_table("# c\n0000ff\tB\n000001\tA\n000002\tB\n")
    assert (list(prefixes), list(vendors), names) == ([1, 2, 255], [1, 0, 0], ["B", "A"])
