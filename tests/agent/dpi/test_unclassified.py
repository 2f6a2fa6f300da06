"""The opt-in ``unclassified`` section: registrable domains of flows no table names, top N by bytes,
with no station or address; an agent that did not opt in sends nothing."""

from __future__ import annotations

from typing import Any

import pytest

from agent.config import ConfigError, load_config
from agent.dpi.classifier import Classifier
from agent.dpi.monitor import DpiMonitor
from agent.dpi.sampler import AppsSampler
from agent.dpi.suffixes import registrable_domain
from agent.dpi.unclassified import MAX_DOMAINS, UnclassifiedWindow
from agent.samplers.base import SampleContext
from tests.agent.dpi import dpi_wire as w
from tests.agent.dpi.test_dpi_volumes import FakeSource
from tests.agent.fakesystem import FakeSystem

STATION, SERVER = "192.168.1.2", "203.0.113.10"


@pytest.mark.parametrize(("host", "domain"), [
    ("www.example.org", "example.org"),
    ("r3---sn-x.video.example.co.uk", "example.co.uk"),
    ("img.shop.example.com.cn", "example.com.cn"),
    ("api.example.com.au", "example.com.au"),
    ("a.b.example.co.jp", "example.co.jp"),
    ("cdn.example.gd.cn", "example.gd.cn"),  # a Chinese province suffix from the table
    ("EXAMPLE.net.", "example.net"),
    ("d111111abcdef8.cloudfront.net", "cloudfront.net"),  # a private suffix: the platform's domain (a known limit)
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("co.uk", None),  # a bare public suffix
    ("printer.local", None), ("nas.lan", None), ("router.home.arpa", None), ("localhost", None),
    ("203.0.113.7", None), ("[2001:db8::1]", None), ("2001:db8::1", None), ("intranet", None),
    ("bad host.example", None), ("", None),
])  # fmt: skip
def test_registrable_domain(host: str, domain: str | None) -> None:
    assert registrable_domain(host) == domain


def _hello(port: int, sni: str, server: str = SERVER) -> bytes:
    return w.tcp4(STATION, port, server, 443, w.tls_record(w.client_hello(sni)))


def _down(port: int, size: int, server: str = SERVER) -> bytes:
    return w.tcp4(server, 443, STATION, port, b"\x17" * size, smac=w.GATEWAY_MAC, dmac=w.CLIENT_MAC)


TRAFFIC = [
    _hello(40000, "cdn7.files.example-unknown.co.uk"), _down(40000, 1000), _down(40000, 1000),
    _hello(40001, "www.netflix.com", "203.0.113.11"), _down(40001, 5000, "203.0.113.11"),  # named: not listed
    w.tcp4(STATION, 40002, "203.0.113.12", 80, b"GET / HTTP/1.1\r\nHost: api.rare-thing.example:8080\r\n\r\n"),
    w.udp4(STATION, 5353, "224.0.0.251", 5353, w.dns_query("printer.local")),  # LAN discovery: never listed
    w.udp4(STATION, 53000, "192.168.1.1", 53, w.dns_query("lookup.unknown-dns.example")),  # a lookup: overhead
]  # fmt: skip


def _monitor(top: int = 0) -> DpiMonitor:
    return DpiMonitor(
        Classifier(),
        source=FakeSource(TRAFFIC),
        volumes="capture",
        clock=lambda: 1010.0,
        unclassified_top=top,
    )


def test_capture_mode_lists_unnamed_names_by_registrable_domain_and_nothing_else() -> None:
    monitor = _monitor(top=20)
    monitor.poll()
    apps = monitor.report()
    rows = monitor.unclassified_report()
    assert rows is not None
    by_domain = {r["domain"]: r for r in rows}
    assert list(by_domain) == ["example-unknown.co.uk", "rare-thing.example"]  # by bytes
    unknown = by_domain["example-unknown.co.uk"]
    assert (
        unknown["category"] == "web" and unknown["bytes_down"] == 2 * 1040 and unknown["active_minutes"] == 1
    )
    assert set(unknown) == {"domain", "category", "bytes_up", "bytes_down", "active_minutes"}
    text = repr(rows)
    assert (
        "02:00" not in text and "203.0.113" not in text and "cdn7" not in text
    )  # no MAC, address, full name
    web = [a for a in apps if a["category"] == "web"]
    # the same bytes stay counted under web in apps: the section only names them
    assert sum(a["bytes_down"] for a in web) >= unknown["bytes_down"]
    assert monitor.unclassified_report() == []  # a new window


def test_conntrack_mode_names_tracked_entries() -> None:
    proc = {"/proc/net/nf_conntrack": "", "/proc/net/arp": ""}

    def line(sport: int, up: int, down: int) -> str:
        return (
            f"ipv4 2 tcp 6 300 ESTABLISHED src={STATION} dst={SERVER} sport={sport} dport=443 packets=1 "
            f"bytes={up} src={SERVER} dst=198.51.100.1 sport=443 dport={sport} packets=1 bytes={down} "
            "[ASSURED] mark=0 zone=0 use=2\n"
        )

    clock = [1000.0]
    monitor = DpiMonitor(
        Classifier(),
        source=FakeSource(TRAFFIC[:1]),
        read=proc.__getitem__,
        volumes="conntrack",
        clock=lambda: clock[0],
        unclassified_top=5,
    )
    monitor.poll()
    proc["/proc/net/nf_conntrack"] = line(40000, 100, 1000)
    monitor.tick(1000.0)  # the baseline
    proc["/proc/net/nf_conntrack"] = line(40000, 400, 91_000)
    clock[0] = 1070.0
    monitor.report()
    assert monitor.unclassified_report() == [
        {
            "domain": "example-unknown.co.uk",
            "category": "web",
            "bytes_up": 300,
            "bytes_down": 90_000,
            "active_minutes": 1,
        }
    ]


def test_an_agent_that_did_not_opt_in_sends_nothing() -> None:
    assert load_config(None, {"gateway_id": "gw-x"}).dpi_unclassified_domains == 0  # off by default
    monitor = _monitor()
    monitor.poll()
    monitor.report()
    assert monitor.unclassified is None and monitor.unclassified_report() is None
    sections = _sample(monitor, 0)
    assert set(sections) == {"apps"} and "example-unknown" not in repr(sections)
    opted_in = _monitor(top=3)
    opted_in.poll()
    assert [r["domain"] for r in _sample(opted_in, 3)["unclassified"]] == [
        "example-unknown.co.uk",
        "rare-thing.example",
    ]


def _sample(monitor: DpiMonitor, top: int) -> dict[str, Any]:
    sampler = AppsSampler()
    sampler._monitor = monitor  # the capture itself needs root; the section is what is tested here
    config = load_config(None, {"gateway_id": "gw-x", "dpi_unclassified_domains": top})
    return sampler.sample(SampleContext(FakeSystem(), config, 0, 900))


def test_the_window_keeps_the_top_n_and_bounds_its_memory() -> None:
    window = UnclassifiedWindow(top=2)
    for i in range(MAX_DOMAINS + 10):
        window.add(f"d{i}.example", "web", 0, i + 1, ts=60.0)
    assert len(window) == MAX_DOMAINS and window.overflow == 10
    assert [r["domain"] for r in window.report()] == [
        f"d{MAX_DOMAINS - 1}.example",
        f"d{MAX_DOMAINS - 2}.example",
    ]
    assert window.report() == [] and window.overflow == 0
    with pytest.raises(ValueError, match="1 to 50"):
        UnclassifiedWindow(top=51)
    with pytest.raises(ConfigError, match="dpi_unclassified_domains"):
        load_config(None, {"gateway_id": "gw-x", "dpi_unclassified_domains": 51})
