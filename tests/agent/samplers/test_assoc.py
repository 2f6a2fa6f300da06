"""Association-list parsers over the verbatim shared captures, and the merge of sources."""

from __future__ import annotations

import json
from pathlib import Path

from agent.parsers.assoc import (
    Assoc,
    parse_hostapd_clients,
    parse_iw_station_dump,
    parse_iwinfo_assoclist,
    read_associations,
)
from agent.parsers.device import Tools, hostapd_objects, parse_ubus_list
from agent.parsers.wireless import WifiIface
from tests.agent.samplers.conftest import ARCHER
from tests.agent.samplers.recorded import recorded


def _shared(shared_testdata: Path, name: str) -> str:
    return (shared_testdata / "openwrt" / name).read_text()


def test_iw_station_dump_archer(shared_testdata: Path) -> None:
    (station,) = parse_iw_station_dump(
        _shared(shared_testdata, "iw_station_dump.ap.openwrt-25.12-archer-c6.txt")
    )
    assert station == Assoc(
        mac="aa:bb:cc:dd:ee:ff",
        interface="phy0-ap1",
        signal_dbm=-37,
        tx_rate_kbps=650_000,
        rx_rate_kbps=650_000,
        expected_kbps=526_310,
        bytes_sent=3205,
        bytes_received=38727,
        packets_sent=28,
        packets_received=257,
        retries=0,
        failed=0,
        airtime_ms=7,  # tx 7181 us + rx 0 us
        connected_s=119,
        inactive_ms=7700,
        standard="ac",
    )


def test_iw_station_dump_two_older_stations(shared_testdata: Path) -> None:
    first, second = parse_iw_station_dump(
        _shared(shared_testdata, "iw_station_dump.two-stations.older-iw.txt")
    )
    assert (first.mac, first.connected_s, first.retries, first.failed, first.standard) == (
        "5c:8d:4e:82:3a:ae",
        834,
        18,
        125,
        "n",
    )
    assert (second.tx_rate_kbps, second.rx_rate_kbps, second.expected_kbps) == (144_400, 6000, 47_570)
    assert first.airtime_ms is None  # this iw prints no durations


def test_iw_station_dump_mesh_peer(shared_testdata: Path) -> None:
    (peer,) = parse_iw_station_dump(_shared(shared_testdata, "iw_station_dump.mesh.libremesh-test.txt"))
    assert (peer.mesh_plink, peer.signal_dbm, peer.tx_rate_kbps, peer.rx_rate_kbps, peer.standard) == (
        "ESTAB",
        -14,
        6500,
        39000,
        "n",
    )


def test_iwinfo_assoclist_shared(shared_testdata: Path) -> None:
    (station,) = parse_iwinfo_assoclist(
        "wlan0", json.loads(_shared(shared_testdata, "iwinfo_assoclist.wlan0.openwisp-transliterated.json"))
    )
    assert station.mac == "22:33:2f:9a:14:9d"  # iwinfo prints MACs in upper case
    assert (station.noise_dbm, station.expected_kbps, station.inactive_ms, station.connected_s) == (
        None,
        4500,
        12100,
        1376,
    )
    assert (station.bytes_received, station.bytes_sent, station.standard, station.mesh_plink) == (
        2767915,
        2582,
        None,
        None,
    )
    (peer,) = parse_iwinfo_assoclist(
        "mesh0", json.loads(_shared(shared_testdata, "iwinfo_assoclist.mesh0.openwisp-transliterated.json"))
    )
    assert (peer.mesh_plink, peer.standard, peer.retries) == ("ESTAB", "ac", 11_358_818)


def test_hostapd_clients_shared(shared_testdata: Path) -> None:
    (client,) = parse_hostapd_clients(
        "wl5-lan", json.loads(_shared(shared_testdata, "hostapd_get_clients.openwrt-hostapd-README.json"))
    )
    assert (client.mac, client.tx_rate_kbps, client.signal_dbm, client.standard) == (
        "68:2f:67:8b:98:ed",
        866_700,
        -50,
        "ac",
    )
    assert client.airtime_ms == (208_863 + 9_037_883) // 1000
    (redacted,) = parse_hostapd_clients(
        "wlan0", json.loads(_shared(shared_testdata, "hostapd_get_clients.kvj-hass_openwrt-issue1.json"))
    )
    assert (redacted.bytes_received, redacted.standard, redacted.airtime_ms) == (148_449_402, "n", 0)


def test_merge_fills_only_the_gaps() -> None:
    iwinfo = Assoc("aa:bb:cc:dd:ee:01", "wlan0", signal_dbm=-50, noise_dbm=-92)
    iwinfo.merge(Assoc("aa:bb:cc:dd:ee:01", "wlan0", signal_dbm=-49, airtime_ms=12))
    assert (iwinfo.signal_dbm, iwinfo.noise_dbm, iwinfo.airtime_ms) == (-50, -92, 12)


def test_hostapd_objects() -> None:
    names = parse_ubus_list("hostapd\nhostapd.wlan0\nhostapd.phy1-ap0\nwpa_supplicant.phy0-sta0\nnetwork\n")
    assert hostapd_objects(names) == {"wlan0": "hostapd.wlan0", "phy1-ap0": "hostapd.phy1-ap0"}


def test_read_associations_merges_iwinfo_and_hostapd() -> None:
    system = recorded(ARCHER)
    ifaces = [WifiIface("phy1-ap0", "phy1", "ap"), WifiIface("phy1-sta0", "phy1", "sta")]
    found = read_associations(system, Tools(system), ifaces)
    assert list(found) == ["phy1-ap0"]  # client interfaces have no stations
    by_mac = {a.mac: a for a in found["phy1-ap0"]}
    macbook = by_mac["68:2f:67:8b:98:ed"]
    assert (macbook.noise_dbm, macbook.retries) == (-91, 412)  # from iwinfo
    assert macbook.airtime_ms == (208_863 + 9_037_883) // 1000  # from hostapd
    assert "iw dev phy1-ap0 station dump" not in system.calls  # ubus answered
