"""What a measurement says to an installer: score, plain words, placement advice."""

from __future__ import annotations

from typing import Any

from collector.installer.snapshot import snapshot
from collector.profiles.config import load_config
from collector.profiles.quality import network_quality
from collector.profiles.rollup import window_contribution

AT = 1_795_437_900
#: PHY rates of good links (2x2, 20 MHz at 2.4 GHz, 80 MHz at 5 GHz)
GOOD_PHY = {"2.4GHz": 144_000, "5GHz": 780_000}


def station(name: str, band: str, signal: int, ap: str | None = None, **kw: Any) -> dict[str, Any]:
    row = {"mac": f"02:00:00:00:00:{abs(hash(name)) % 250:02x}", "hostname": name, "medium": band,
           "signal_dbm": signal, "tx_rate_kbps": GOOD_PHY[band] if signal > -70 else 26_000,
           "packets_sent": 1000, "retransmissions": 20 if signal > -70 else 260, **kw}  # fmt: skip
    if ap:
        row["ap"] = ap
    return row


def radios(interference: float = 5.0) -> list[dict[str, Any]]:
    return [
        {"band": "2.4GHz", "channel": 6, "utilization_pct": 40.0, "interference_pct": interference},
        {"band": "5GHz", "channel": 36, "utilization_pct": 20.0, "interference_pct": 3.0},
    ]


def test_the_score_is_the_profiles_own_for_the_same_window() -> None:
    body = {"radios": radios(), "stations": [station("tv", "5GHz", -50), station("phone", "2.4GHz", -62)]}
    snap = snapshot(body, AT, load_config())
    expected = network_quality(window_contribution(body, AT - 900, AT), load_config()).wifi_score
    assert snap.wifi_score == expected and snap.wifi_score is not None and snap.wifi_score > 70
    assert [t.grade for t in snap.terminals] == ["good", "good"]
    assert snap.findings == ["every measured link is healthy"]
    assert [a.action for a in snap.advice] == ["none"]


def test_weak_terminals_at_the_gateway_get_a_mesh_node_with_a_what_if_score() -> None:
    body = {
        "radios": radios(),
        "stations": [
            station("tv", "5GHz", -52),
            station("bedroom-laptop", "2.4GHz", -83),
            station("bedroom-tablet", "2.4GHz", -81),
            station("kids-phone", "2.4GHz", -84),
        ],
    }
    snap = snapshot(body, AT, load_config())
    assert any(
        f.startswith("3 devices on 2.4GHz at the gateway below") and "weakest -84 dBm" in f
        for f in snap.findings
    )
    add = next(a for a in snap.advice if a.action == "add_mesh")
    assert add.figures["weak_terminals"] == 3
    assert add.figures["score_with_node"] > add.figures["score_now"] == snap.wifi_score
    assert "use_5ghz" in [a.action for a in snap.advice]
    assert [t.grade for t in snap.terminals].count("poor") == 3


def test_a_mesh_node_with_a_weak_backhaul_is_moved_not_doubled() -> None:
    body = {
        "radios": radios(),
        "topology": [{"node": "02:aa:00:00:00:01", "parent": "gw", "medium": "wifi", "signal_dbm": -78}],
        "stations": [station("desk", "5GHz", -80, ap="02:aa:00:00:00:01"), station("tv", "5GHz", -50)],
    }
    snap = snapshot(body, AT, load_config())
    assert snap.advice[0].action == "move_mesh"
    assert snap.advice[0].figures["backhaul_dbm"] == -78 and snap.mesh_nodes == 1


def test_interference_suggests_another_channel_with_its_figure() -> None:
    snap = snapshot(
        {"radios": radios(interference=41.0), "stations": [station("tv", "2.4GHz", -50)]}, AT, load_config()
    )
    change = next(a for a in snap.advice if a.action == "change_channel")
    assert change.figures == {"band": "2.4GHz", "channel": 6, "interference_pct": 41.0}
    assert any("41% of 2.4GHz airtime" in f for f in snap.findings)
