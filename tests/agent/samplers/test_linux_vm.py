"""A real capture of a plain Linux machine: the fallbacks, and the capture script's format."""

from __future__ import annotations

from agent.config import AgentConfig
from agent.reporter import Reporter
from agent.samplers import build_samplers
from tests.agent.samplers.conftest import Clock
from tests.agent.samplers.recorded import recorded

VM = "linux-vm-debian12"


def test_plain_linux_report(config: AgentConfig, clock: Clock) -> None:
    reporter = Reporter(build_samplers(("apps",)))
    reporter.collect(clock.ctx(recorded(VM), config, 0))
    body = reporter.collect(clock.ctx(recorded(VM, "step1"), config, 1))
    status = {name: (s["state"], s.get("reason", "")) for name, s in body["samplers"].items()}
    assert status == {
        "system": ("ok", ""),
        "wan": ("ok", ""),
        "interfaces": ("ok", ""),
        "radios": (
            "unavailable",
            "backing off: neither ubus nor iw is installed (no Wi-Fi tooling on this device)",
        ),
        "stations": ("ok", ""),
        "quality": ("unavailable", "backing off: ping is not installed"),
        "neighbours": (
            "unavailable",
            "backing off: neither ubus nor iw is installed (no Wi-Fi tooling on this device)",
        ),
        "topology": ("unavailable", "backing off: no batctl, iw or ubus: no mesh to map"),
    }
    assert body["wan"] == {
        "interface": "eth0",
        "ipv4": "192.0.2.2",
        "gateway": "192.0.2.1",
        "dns": ["10.255.255.53"],
        "connected": True,
        "online_s": 900,
        "offline_s": 0,
        "plan_down_kbps": 100_000,
        "plan_up_kbps": 20_000,
        "down_utilization_pct": 0.0,
        "up_utilization_pct": 0.0,
    }
    assert body["stations"] == []  # the only neighbour is the WAN gateway
    assert [i["name"] for i in body["interfaces"]] == ["eth0"]
    assert body["system"]["board"] == {
        "release": "Debian GNU/Linux 12 (bookworm)",
        "hostname": "vm",
        "kernel": "6.18.44-fc-v782",
    }
    assert 0.0 <= body["system"]["cpu_usage_pct"] <= 100.0
