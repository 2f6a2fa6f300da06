"""Link quality: ping parsing (BusyBox and iputils), jitter, the sampler, the capacity hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.parsers.capacity import capacity_argv, parse_curl_speed, parse_iperf3_json, run_capacity_test
from agent.parsers.device import Tools
from agent.record import record, replace
from agent.samplers.quality import PingResult, QualitySampler, jitter_ms, parse_ping, summarize
from agent.samplers.radios import RadiosSampler
from agent.samplers.stations import StationsSampler
from agent.samplers.wan import WanSampler
from tests.agent.samplers.conftest import ARCHER, MESH, Clock, CtxFactory
from tests.agent.samplers.recorded import MISSING, recorded

IPUTILS = """PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.
64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=0.512 ms
64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=0.900 ms (DUP!)
64 bytes from 192.0.2.1: icmp_seq=3 ttl=64 time=0.455 ms
64 bytes from 192.0.2.1: icmp_seq=4 ttl=64 time=1.02 ms

--- 192.0.2.1 ping statistics ---
4 packets transmitted, 3 received, +1 duplicates, 25% packet loss, time 3004ms
rtt min/avg/max/mdev = 0.455/0.662/1.020/0.254 ms
"""


def test_busybox_shared(shared_testdata: Path) -> None:
    result = parse_ping((shared_testdata / "openwrt/ping.busybox.txt").read_text())
    assert result == PingResult(3, 3, [0.039, 0.039, 0.039])
    row = summarize("wan_gateway", "172.18.0.3", result)
    assert (row["loss_pct"], row["delay_ms"], row["jitter_ms"]) == (0.0, 0.039, 0.0)


def test_iputils_with_duplicates_and_loss() -> None:
    result = parse_ping(IPUTILS)
    assert result == PingResult(4, 3, [0.512, 0.455, 1.02])
    row = summarize("internet", "192.0.2.1", result)
    assert row == {
        "target": "internet",
        "address": "192.0.2.1",
        "sent": 4,
        "received": 3,
        "loss_pct": 25.0,
        "delay_ms": 0.662,
        "delay_min_ms": 0.455,
        "delay_max_ms": 1.02,
        "jitter_ms": round((0.057 + 0.565) / 2, 3),
    }


def test_truncated_output_counts_replies() -> None:
    assert parse_ping("64 bytes from 192.0.2.1: seq=0 ttl=64 time=1.0 ms\n") == PingResult(1, 1, [1.0])


@pytest.mark.parametrize(("rtts", "expected"), [([], None), ([5.0], None), ([1.0, 3.0, 2.0], 1.5)])
def test_jitter(rtts: list[float], expected: float | None) -> None:
    assert jitter_ms(rtts) == expected


def _run(
    system_steps: tuple[str, ...], make_ctx: CtxFactory, board: str = ARCHER, n: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    ctx = make_ctx(recorded(board, *system_steps), n)
    WanSampler().sample(ctx)
    RadiosSampler().sample(ctx)
    stations = StationsSampler().sample(ctx)["stations"]
    quality = QualitySampler().sample(ctx)["quality"]
    return {q["target"]: q for q in quality}, {s["mac"]: s for s in stations}


def test_archer_quality_and_station_probes(make_ctx: CtxFactory) -> None:
    quality, stations = _run((), make_ctx)
    assert quality["wan_gateway"] == {
        "target": "wan_gateway",
        "address": "203.0.113.1",
        "sent": 5,
        "received": 5,
        "loss_pct": 0.0,
        "delay_ms": 1.42,
        "delay_min_ms": 1.1,
        "delay_max_ms": 2.0,
        "jitter_ms": 0.575,  # (0.3 + 0.4 + 0.9 + 0.7) / 4
    }
    assert (quality["internet"]["loss_pct"], quality["internet"]["received"]) == (20.0, 4)
    assert (stations["68:2f:67:8b:98:ed"]["delay_ms"], stations["68:2f:67:8b:98:ed"]["loss_pct"]) == (
        3.533,
        0.0,
    )
    iphone = stations["aa:bb:cc:dd:ee:ff"]
    assert (iphone["loss_pct"], "delay_ms" in iphone) == (100.0, False)  # ping exited 1: nothing came back
    assert stations["84:3a:4b:cb:77:30"]["loss_pct"] == 33.33
    assert stations["e8:6a:64:3e:4a:3c"]["delay_ms"] == 0.433  # wired terminals are probed too


def test_idle_and_mesh_stations_are_not_probed(make_ctx: CtxFactory) -> None:
    _, stations = _run((), make_ctx, board=MESH)
    assert "delay_ms" not in stations["3a:ed:c5:16:bb:e6"]  # behind another mesh node
    assert "loss_pct" not in stations["00:24:9b:53:55:62"]


def test_priming_read_sends_nothing(make_ctx: CtxFactory) -> None:
    system = recorded(ARCHER)
    assert QualitySampler().sample(make_ctx(system, 0)) == {}
    assert not [c for c in system.calls if c.startswith("ping")]


def test_gateway_from_the_routing_table_alone(make_ctx: CtxFactory) -> None:
    system = recorded(ARCHER)
    ctx = make_ctx(system, 1)
    rows = QualitySampler().sample(ctx)["quality"]
    assert [(r["target"], r["address"]) for r in rows] == [
        ("wan_gateway", "203.0.113.1"),
        ("internet", "198.51.100.1"),
    ]


def test_unavailable_without_ping(make_ctx: CtxFactory) -> None:
    system = recorded(ARCHER)
    system.add_file("/bin/ping", MISSING)
    assert QualitySampler().available(make_ctx(system, 1)) == "ping is not installed"


@record(frozen=True)
class CapacityConfig(AgentConfig):
    """The configuration once the lead adds the capacity-test keys (see the report)."""

    capacity_test_windows: int = 1
    capacity_test_server: str = ""
    capacity_test_url: str = "http://speedtest.example.net/10MB.bin"


def test_capacity_hook_runs_when_configured(config: AgentConfig) -> None:
    capacity = CapacityConfig(**{f: getattr(config, f) for f in ("gateway_id", "ping_target")})
    ctx = Clock().ctx(recorded(MESH), capacity, 1)
    rows = {r["target"]: r for r in QualitySampler().sample(ctx)["quality"]}
    assert rows["internet"]["bandwidth_kbps"] == 92_274  # 11534336 bytes/s


def test_capacity_hook_is_off_by_default(make_ctx: CtxFactory) -> None:
    system = recorded(MESH)
    QualitySampler().sample(make_ctx(system, 1))
    assert not [c for c in system.calls if c.startswith(("curl", "iperf3"))]


def test_capacity_parsers_and_tools() -> None:
    assert parse_iperf3_json('{"end": {"sum_received": {"bits_per_second": 94123456.7}}}') == 94_123
    assert parse_iperf3_json('{"error": "unable to connect"}') is None
    assert parse_curl_speed("1250000.000") == 10_000
    assert parse_curl_speed("") is None
    system = recorded(ARCHER)  # neither iperf3 nor curl
    assert capacity_argv(Tools(system), "iperf.example.net", "http://x") is None
    assert run_capacity_test(system, Tools(system), "iperf.example.net", "") is None
    mesh = recorded(MESH)
    mesh.add_failure(
        ["curl", "-s", "-o", "/dev/null", "--max-time", "15", "-w", "%{speed_download}", "http://x/"], 28
    )
    assert run_capacity_test(mesh, Tools(mesh), "", "http://x/") is None


def test_replace_keeps_config_frozen(config: AgentConfig) -> None:
    assert replace(config, ping_target="").ping_target == ""
