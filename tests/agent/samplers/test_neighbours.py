"""Neighbour scans: parsing, competitor hints, own networks left out, every Nth window."""

from __future__ import annotations

from agent.config import AgentConfig
from agent.record import record, replace
from agent.samplers.neighbours import NeighboursSampler, operator_hint, parse_iw_scan, parse_patterns
from tests.agent.samplers.conftest import ARCHER, MESH, Clock, CtxFactory
from tests.agent.samplers.recorded import recorded


def test_archer_scan(make_ctx: CtxFactory) -> None:
    rows = NeighboursSampler().sample(make_ctx(recorded(ARCHER), 1))["neighbours"]
    assert rows[0] == {
        "ssid": "Livebox-1A2B",
        "bssid": "a0:1b:29:3c:4d:5e",
        "channel": 1,
        "band": "2.4GHz",
        "signal_dbm": -61,  # seen by both radios: the stronger reading
        "operator": "Orange",
    }
    assert [r["bssid"] for r in rows] == [
        "a0:1b:29:3c:4d:5e",
        "a0:1b:29:3c:4d:5f",
        "e4:9e:12:5c:38:01",
        "e4:9e:12:5c:38:02",
        "f4:ca:e5:00:11:22",
        "00:1f:9f:12:34:56",
    ]  # strongest first; our own BSSID (c0:4a:00:11:22:33) left out
    hidden = rows[3]
    assert "ssid" not in hidden and "operator" not in hidden
    assert {r.get("operator") for r in rows} == {"Orange", "SFR", None, "Free", "Bouygues"}


def test_iw_scan_fallback(make_ctx: CtxFactory) -> None:
    rows = NeighboursSampler().sample(make_ctx(recorded(MESH), 1))["neighbours"]
    assert rows == [
        {
            "ssid": "Livebox-1A2B",
            "bssid": "a0:1b:29:3c:4d:5e",
            "channel": 1,
            "band": "2.4GHz",
            "signal_dbm": -61,
            "operator": "Orange",
        },
        {"bssid": "02:5e:11:00:00:01", "channel": 6, "band": "2.4GHz", "signal_dbm": -77},
        {
            "ssid": "Bbox-12345",
            "bssid": "00:1f:9f:12:34:56",
            "channel": 100,
            "band": "5GHz",
            "signal_dbm": -84,
            "operator": "Bouygues",
        },
    ]


def test_scans_every_nth_window(make_ctx: CtxFactory) -> None:
    sampler = NeighboursSampler()
    assert sampler.sample(make_ctx(recorded(ARCHER), 0)) == {}  # priming read
    seen = [bool(sampler.sample(make_ctx(recorded(ARCHER), n))) for n in range(1, 10)]
    assert seen == [True, False, False, False, True, False, False, False, True]


@record(frozen=True)
class ScanConfig(AgentConfig):
    neighbour_scan_windows: int = 0
    competitor_ouis: tuple[str, ...] = ()


def test_scans_can_be_turned_off(config: AgentConfig) -> None:
    off = ScanConfig(gateway_id="gw-test")
    assert NeighboursSampler().available(Clock().ctx(recorded(ARCHER), off, 1)) == (
        "neighbour scans are turned off (neighbour_scan_windows = 0)"
    )


def test_oui_hints(config: AgentConfig) -> None:
    ouis = ScanConfig(gateway_id="gw-test", neighbour_scan_windows=1, competitor_ouis=("SFR=e4:9e:12",))
    ouis = replace(ouis, competitor_ssid_patterns=())
    rows = NeighboursSampler().sample(Clock().ctx(recorded(ARCHER), ouis, 1))["neighbours"]
    assert {r["bssid"]: r.get("operator") for r in rows}[
        "e4:9e:12:5c:38:02"
    ] == "SFR"  # hidden, but the OUI tells


def test_patterns() -> None:
    assert parse_patterns(("Orange=Livebox-*", "FreeWifi*", " ", "=x")) == [
        ("Orange", "Livebox-*"),
        ("FreeWifi", "FreeWifi*"),
        ("=x", "=x"),
    ]
    ssids = parse_patterns(("Vodafone=vodafone*",))
    assert operator_hint({"ssid": "VODAFONE-12AB"}, ssids, []) == "Vodafone"  # case-insensitive
    assert operator_hint({"ssid": None, "bssid": "00:11:22:33:44:55"}, ssids, []) is None


def test_iw_scan_parser() -> None:
    rows = parse_iw_scan(
        "BSS 00:11:22:33:44:55(on wlan0) -- associated\n\tfreq: 5955.0\n\tsignal: -70.50 dBm\n\tSSID: six\n"
    )
    assert rows == [
        {"bssid": "00:11:22:33:44:55", "ssid": "six", "band": "6GHz", "channel": 1, "signal_dbm": -70}
    ]
