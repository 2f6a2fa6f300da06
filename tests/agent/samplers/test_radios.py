"""Radios sampler: discovery, survey deltas with reset detection, per-radio traffic and stations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.parsers.wireless import (
    band_of,
    channel_of,
    parse_iw_dev,
    parse_iwinfo_info,
    standard_of,
    width_of_htmode,
)
from agent.samplers.radios import (
    RadiosSampler,
    Survey,
    parse_iw_survey_dump,
    parse_iwinfo_survey,
    pick_channel,
    survey_ratios,
)
from tests.agent.samplers.conftest import ARCHER, MESH, CtxFactory
from tests.agent.samplers.recorded import MISSING, recorded


def test_archer_radios_over_three_steps(make_ctx: CtxFactory) -> None:
    sampler = RadiosSampler()
    first = sampler.sample(make_ctx(recorded(ARCHER), 0))["radios"]
    assert [r["name"] for r in first] == ["phy0", "phy1"]
    assert all("utilization_pct" not in r for r in first)  # one reading is not a ratio
    phy0, phy1 = sampler.sample(make_ctx(recorded(ARCHER, "step1"), 1))["radios"]
    assert phy1 == {
        "name": "phy1",
        "band": "5GHz",
        "channel": 36,
        "width_mhz": 80,
        "standard": "ac",
        "tx_power_dbm": 23,
        "noise_dbm": -91,
        "channel_active_ms": 4_500_000,
        "channel_busy_ms": 990_000,
        "channel_rx_ms": 390_000,
        "channel_tx_ms": 358_000,
        # busy 270 s of 900 s, of which 90 s received and 108 s sent by this radio
        "utilization_pct": 30.0,
        "idle_pct": 70.0,
        "interference_pct": 8.0,
        "bytes_sent": 14_300_560_000 + 1_261_000_000,
        "bytes_received": 2_200_789_000 + 53_400_000,
        "stations": 3,
    }
    assert (phy0["utilization_pct"], phy0["idle_pct"], phy0["interference_pct"]) == (60.0, 40.0, 10.0)
    assert (phy0["band"], phy0["channel"], phy0["standard"], phy0["stations"]) == ("2.4GHz", 6, "n", 2)
    after_reset = sampler.sample(make_ctx(recorded(ARCHER, "step1", "step2-reset"), 2))["radios"]
    for row in after_reset:
        assert "utilization_pct" not in row and "interference_pct" not in row  # counters went backwards
        assert row["channel_active_ms"] == 250_000  # still reported, cumulative as read


def test_iw_fallback_radios(make_ctx: CtxFactory) -> None:
    sampler = RadiosSampler()
    sampler.sample(make_ctx(recorded(MESH), 0))
    phy0, phy1 = sampler.sample(make_ctx(recorded(MESH, "step1"), 1))["radios"]
    assert (phy1["channel"], phy1["width_mhz"], phy1["tx_power_dbm"], phy1["noise_dbm"]) == (44, 80, 23, -91)
    # verbatim survey (5220 in use): active 184300 -> 364300, busy 183900 -> 226900, rx +18000, tx +9000
    assert (phy1["utilization_pct"], phy1["idle_pct"], phy1["interference_pct"]) == (23.89, 76.11, 8.89)
    assert phy1["stations"] == 1  # the mesh peer on phy1-mesh0 is not a station
    assert (phy0["utilization_pct"], phy0["interference_pct"]) == (30.0, 6.0)
    assert "standard" not in phy1  # iw dev does not tell


def test_unavailable_without_wifi_tools(make_ctx: CtxFactory) -> None:
    system = recorded(ARCHER)
    for tool in ("ubus", "iw"):
        for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            system.add_file(f"{folder}/{tool}", MISSING)
    assert RadiosSampler().available(make_ctx(system, 0)) == (
        "neither ubus nor iw is installed (no Wi-Fi tooling on this device)"
    )


def test_shared_iwinfo_survey(shared_testdata: Path) -> None:
    entries = parse_iwinfo_survey(
        json.loads((shared_testdata / "openwrt/iwinfo_survey.CONSTRUCTED.json").read_text())
    )
    assert [e.freq_mhz for e in entries] == [5200, 5220]
    assert pick_channel(entries, 5220) == Survey(5220, -91, 184300, 183900, 183000, 850)
    assert pick_channel(entries, 2412) is None


@pytest.mark.parametrize(
    ("name", "in_use", "rx"),
    [
        ("iw_survey_dump.two-channels.txt", 5220, 183000),
        ("iw_survey_dump.p54-kernel-commit.txt", 5200, None),  # p54 has no receive time
        ("iw_survey_dump.idle-channel.txt", None, 0),
    ],
)
def test_shared_iw_survey_dumps(shared_testdata: Path, name: str, in_use: int | None, rx: int | None) -> None:
    entries = parse_iw_survey_dump((shared_testdata / "openwrt" / name).read_text())
    picked = pick_channel(entries, entries[0].freq_mhz if in_use is None else None)
    assert picked is not None
    assert picked.freq_mhz == (in_use or entries[0].freq_mhz)
    assert picked.rx_ms == rx


def test_ratios_without_rx_time_have_no_interference() -> None:
    before = Survey(5200, -91, 811909, 63395, None, 59636)
    after = Survey(5200, -91, 911909, 83395, None, 69636)
    assert survey_ratios(before, after) == {"utilization_pct": 20.0, "idle_pct": 80.0}


@pytest.mark.parametrize(
    "after",
    [
        Survey(5180, None, 1000, 500, 100, 100),  # active did not move: no division by zero
        Survey(5180, None, 500, 100, 50, 50),  # went backwards
        Survey(5200, None, 9000, 900, 100, 100),  # another channel
    ],
)
def test_ratios_refused(after: Survey) -> None:
    assert survey_ratios(Survey(5180, None, 1000, 500, 100, 100), after) is None


def test_ratios_clamped() -> None:
    # busy grew more than active (drivers round separately): 100 %, never above
    ratios = survey_ratios(Survey(2412, None, 0, 0, 0, 0), Survey(2412, None, 1000, 1010, 2000, 0))
    assert ratios == {"utilization_pct": 100.0, "idle_pct": 0.0, "interference_pct": 0.0}


def test_iwinfo_info_shared(shared_testdata: Path) -> None:
    iface = parse_iwinfo_info(
        "mesh0", json.loads((shared_testdata / "openwrt/iwinfo_info.mesh.openwisp-pr26.json").read_text())
    )
    assert (iface.phy, iface.mode, iface.band, iface.channel, iface.width_mhz, iface.standard) == (
        "phy0",
        "mesh",
        "2.4GHz",
        11,
        20,
        "n",
    )
    assert iface.noise_dbm is None and iface.mac is None  # 0 and 00:00:.. mean unknown


def test_iw_dev_parse() -> None:
    text = recorded(MESH).recording(["iw", "dev"])
    ifaces = parse_iw_dev(text)
    assert [(i.name, i.phy, i.mode, i.freq_mhz, i.width_mhz) for i in ifaces] == [
        ("phy1-mesh0", "phy1", "mesh", 5220, 80),
        ("phy1-ap0", "phy1", "ap", 5220, 80),
        ("phy0-ap0", "phy0", "ap", 2462, 20),
    ]
    assert ifaces[1].ssid == "Maison" and ifaces[2].tx_power_dbm == 20


@pytest.mark.parametrize(
    ("freq", "band", "channel"),
    [
        (2412, "2.4GHz", 1),
        (2484, "2.4GHz", 14),
        (5180, "5GHz", 36),
        (5885, "5GHz", 177),
        (5955, "6GHz", 1),
        (5935, "6GHz", 2),
        (6415, "6GHz", 93),
        (58320, "60GHz", 1),
        (4940, "5GHz", 188),
        (None, None, None),
    ],
)
def test_frequencies(freq: int | None, band: str | None, channel: int | None) -> None:
    assert (band_of(freq), channel_of(freq)) == (band, channel)


@pytest.mark.parametrize(
    ("htmode", "width"),
    [
        ("HT20", 20),
        ("HT40", 40),
        ("VHT80", 80),
        ("HE160", 160),
        ("VHT80+80", 160),
        ("EHT320", 320),
        ("NOHT", 20),
        ("", None),
    ],
)
def test_width_of_htmode(htmode: str, width: int | None) -> None:
    assert width_of_htmode(htmode) == width


@pytest.mark.parametrize(
    ("hwmode", "htmode", "band", "standard"),
    [
        ("ax", "HE80", "5GHz", "ax"),
        (None, "HE20", "2.4GHz", "ax"),
        (None, "EHT160", "6GHz", "be"),
        ("11bgn", None, "2.4GHz", "n"),
        (None, "NOHT", "2.4GHz", "g"),
        (None, None, "5GHz", "a"),
        (None, None, None, None),
    ],
)
def test_standard_of(hwmode: str | None, htmode: str | None, band: str | None, standard: str | None) -> None:
    assert standard_of(hwmode, htmode, band) == standard
