"""System sampler: CPU deltas across steps, temperature, board identity and its fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.parsers.board import (
    manufacturer_of,
    parse_board_json,
    parse_openwrt_release,
    parse_os_release,
    parse_system_board,
    read_board,
)
from agent.parsers.device import Tools
from agent.parsers.procfs import cpu_usage_pct, parse_millidegrees, parse_proc_stat
from agent.samplers.system import SystemSampler
from tests.agent.samplers.conftest import ARCHER, MESH, CtxFactory
from tests.agent.samplers.recorded import MISSING, recorded


def test_cpu_usage_is_a_delta_and_skipped_after_a_reset(make_ctx: CtxFactory) -> None:
    sampler = SystemSampler()
    first = sampler.sample(make_ctx(recorded(ARCHER), 0))["system"]
    assert "cpu_usage_pct" not in first  # one reading is not a rate
    second = sampler.sample(make_ctx(recorded(ARCHER, "step1"), 1))["system"]
    # busy 195000 -> 214900 jiffies of 3000000 -> 3355000: 19900 / 355000
    assert second["cpu_usage_pct"] == 5.61
    third = sampler.sample(make_ctx(recorded(ARCHER, "step1", "step2-reset"), 2))["system"]
    assert "cpu_usage_pct" not in third  # the counters went backwards: no figure, never negative
    fourth = sampler.sample(make_ctx(recorded(ARCHER, "step1", "step2-reset"), 3))["system"]
    assert "cpu_usage_pct" not in fourth  # no jiffies passed: no division by zero


def test_archer_system_section(make_ctx: CtxFactory) -> None:
    section = SystemSampler().sample(make_ctx(recorded(ARCHER), 0))["system"]
    assert section["cpu_count"] == 4
    assert (section["memory_total_kib"], section["memory_free_kib"], section["memory_available_kib"]) == (
        123068,
        61480,
        53500,
    )
    assert (section["load1"], section["load5"], section["load15"]) == (0.08, 0.11, 0.09)
    assert section["uptime_s"] == 14249
    assert section["temperature_c"] == 51.0  # the hotter of the two mt76 hwmon sensors
    assert section["board"] == {
        "manufacturer": "TP-Link",
        "model": "TP-Link Archer C6 v3",
        "hostname": "OpenWrt",
        "kernel": "5.15.150",
        "release": "OpenWrt 23.05.3",
        "target": "ramips/mt7621",
    }


def test_no_sensors_no_temperature(make_ctx: CtxFactory) -> None:
    section = SystemSampler().sample(make_ctx(recorded(MESH), 0))["system"]
    assert "temperature_c" not in section
    assert section["board"]["manufacturer"] == "GL.iNet"


def test_board_falls_back_to_openwrt_files_without_ubus() -> None:
    system = recorded(ARCHER)
    system.add_failure(["ubus", "call", "system", "board"], 4)
    board = read_board(system, Tools(system))
    assert board == {
        "release": "OpenWrt 23.05.3",
        "target": "ramips/mt7621",
        "model": "TP-Link Archer C6 v3",
        "manufacturer": "TP-Link",
        "hostname": "OpenWrt",
        "kernel": "5.15.150",
    }


def test_board_on_plain_linux() -> None:
    system = recorded(ARCHER)
    for tool in ("/usr/sbin/ubus", "/usr/bin/ubus", "/sbin/ubus", "/bin/ubus"):
        system.add_file(tool, MISSING)
    system.add_file("/etc/openwrt_release", MISSING)
    system.add_file("/etc/board.json", MISSING)
    system.add_file(
        "/etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    )
    system.add_file("/sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n")
    system.add_file("/sys/class/dmi/id/sys_vendor", "QEMU\n")
    assert read_board(system, Tools(system)) == {
        "release": "Debian GNU/Linux 12 (bookworm)",
        "hostname": "OpenWrt",
        "kernel": "5.15.150",
        "model": "Standard PC (Q35 + ICH9, 2009)",
        "manufacturer": "QEMU",
    }


def test_board_parsers() -> None:
    assert parse_system_board(
        {"model": "Linksys EA8500", "board_name": "linksys,ea8500", "release": "x"}
    ) == {
        "model": "Linksys EA8500",
        "manufacturer": "Linksys",
    }
    assert parse_openwrt_release("DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='SNAPSHOT'\n") == {
        "release": "OpenWrt SNAPSHOT"
    }
    assert parse_board_json("not json") == {}
    assert parse_board_json('{"model": {"id": "glinet,gl-mt3000", "name": "GL.iNet GL-MT3000"}}') == {
        "model": "GL.iNet GL-MT3000",
        "manufacturer": "GL.iNet",
    }
    assert parse_os_release("NAME=x\n") == {}


@pytest.mark.parametrize(
    ("model", "board", "expected"),
    [
        ("TP-Link Archer C6 v3", "tplink,archer-c6-v3", "TP-Link"),
        ("Xiaomi Redmi Router AX6000", "xiaomi,redmi-router-ax6000", "Xiaomi"),
        ("Netgear R7800", "qcom,ipq8064-r7800", "qcom"),  # the model does not start with the board vendor
        (None, None, None),
    ],
)
def test_manufacturer_of(model: str | None, board: str | None, expected: str | None) -> None:
    assert manufacturer_of(model, board) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("47000\n", 47.0), ("-5500", -5.5), ("0", None), ("-273000", None), ("200000", None), ("x", None)],
)
def test_millidegrees(text: str, expected: float | None) -> None:
    assert parse_millidegrees(text) == expected


def test_proc_stat_counts_cpus_and_detects_reset() -> None:
    before, cpus = parse_proc_stat("cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40\n")
    assert cpus == 2
    after, _ = parse_proc_stat("cpu  20 0 20 160 0 0 0 0 0 0\n")
    assert cpu_usage_pct(before, after) == 20.0
    assert cpu_usage_pct(after, before) is None


def test_unavailable_without_proc(tmp_path: Path, make_ctx: CtxFactory) -> None:
    system = recorded(ARCHER)
    system.add_file("/proc/stat", MISSING)
    assert SystemSampler().available(make_ctx(system, 0)) == "/proc/stat is missing (not Linux?)"


@pytest.mark.parametrize(
    ("before", "after", "bits", "expected"),
    [
        (10, 15, 64, 5),
        (15, 10, 64, None),  # reset
        (2**32 - 10, 5, 32, 15),  # wrapped a 32-bit counter
        (2**31, 5, 32, None),  # too far from the top to be a wrap: a reset
        (None, 5, 32, None),
        (7, 7, 32, 0),
    ],
)
def test_counter_delta(before: int | None, after: int | None, bits: int, expected: int | None) -> None:
    from agent.parsers.procfs import counter_delta

    assert counter_delta(before, after, bits) == expected
