"""Provenance in the report: each apps entry counts its bytes by how the DPI named them."""

from __future__ import annotations

from agent.dpi.flows import Flow
from agent.dpi.packet import UDP
from agent.dpi.usage import UsageWindow, usage_method

STATION = "aa:bb:cc:dd:ee:01"


def test_report_counts_bytes_per_method() -> None:
    window = UsageWindow()
    window.add(STATION, "netflix", "video", 100, 9000, 60.0, True, "sni")
    window.add(STATION, "netflix", "video", 10, 900, 61.0, False, "dns_cache")
    window.add(STATION, "steam", "game", 5, 5, 62.0, True, "port")
    window.add(STATION, None, "other", 1, 1, 63.0, True)  # an older caller: no method given
    rows = {r["category"]: r for r in window.report()}
    assert rows["video"]["methods"] == {"dns_cache": 910, "sni": 9100}
    assert rows["game"]["methods"] == {"port": 10}
    assert "methods" not in rows["other"]  # optional: absent when nothing is known


def test_usage_method_of_flows() -> None:
    flow = Flow(UDP, b"\xc0\xa8\x01\x02", 5000, b"\x08\x08\x08\x08", 53, 0.0, 0.0)
    flow.l7 = "dns"
    assert usage_method(flow) == "protocol"  # lookups are overhead whatever name they asked for
    flow.l7, flow.app_source = "stun", "payload"
    assert usage_method(flow) == "payload"
    flow.app_source = None
    assert usage_method(flow) == "default"
