"""The six dimensions of a profile, from rollups folded exactly as ingest folds them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.profiles.config import load_config
from collector.profiles.merge import fold_into, merge_many
from collector.profiles.profile import _longest_zero_run, build_profile
from collector.profiles.rollup import window_contribution
from tests.collector.profiles.test_rollup import START, body

CONFIG = load_config()
CRM = {"subscriber_id": "S9", "plan_down_mbps": 100.0, "plan_up_mbps": 20.0, "price": 35.0,
       "contract_end": "2025-07-02", "area": "north", "community": "north-2"}  # fmt: skip


def evening(windows: int = 8) -> list[tuple[int, dict[str, Any]]]:
    """Two hours of a gamer's evening (20:00-22:00 UTC), every window the same body."""
    day: dict[str, Any] = {}
    for k in range(windows):
        start = START + 900 * k
        fold_into(day, window_contribution(body(), start, start + 900))
    return [(START // 86400, day)]


def test_terminals_quality_and_service_bearing_per_terminal() -> None:
    p = build_profile("gw-9", evening(), CRM, CONFIG, START + 7200, "day")
    t = p.terminals
    assert (t.count, t.by_type, t.by_band, t.work, t.smart) == (
        2, {"console": 1, "computer": 1}, {"2.4GHz": 1, "wired": 1}, 0, 0,
    )  # fmt: skip
    ps5 = next(x for x in t.items if x.type == "console")
    # LAN probe 4.5 ms + internet 61.5 ms; 1% LAN loss + 1.5%; the game needs <= 50 ms, <= 10 ms, <= 1%
    assert (ps5.signal_dbm, ps5.phy_mbps, ps5.reachable_mbps) == (-78.0, 72.0, 20.0)
    assert (ps5.delay_ms, ps5.jitter_ms, ps5.loss_pct) == (66.0, 12.0, 2.5)
    assert ps5.apps == ["game"] and ps5.need_mbps == 2.0 and ps5.served is False
    assert ps5.problems == ["delay 66 ms > 50", "jitter 12 ms > 10", "loss 2.5 % > 1"]
    desktop = next(x for x in t.items if x.type == "computer")  # wired: only the internet path counts
    assert desktop.apps == ["app_store", "live_streaming"] and desktop.problems == ["loss 1.5 % > 1"]
    assert t.unserved == 2
    q = p.quality
    assert q.parts == {
        "signal": 23.3,
        "phy_rate": 50.0,
        "retries": 50.0,
        "airtime": 50.0,
        "interference": 20.0,
    }
    assert q.wifi_score == 34.7  # .35*23.3 + .2*50 + .15*50 + .1*50 + .2*20
    assert (
        q.weak_share == {"2.4GHz": 1.0}
        and q.worst_band == "2.4GHz"
        and q.interference_pct == {"2.4GHz": 40.0}
    )
    assert q.internet == {
        "delay_ms": 61.5,
        "jitter_ms": 12.0,
        "loss_pct": 1.5,
        "max_delay_ms": 90.0,
        "windows": 8,
    }
    assert q.mesh_nodes == 1


def test_traffic_preferences_plan_and_competitor() -> None:
    p = build_profile("gw-9", evening(), CRM, CONFIG, START + 7200, "day")
    assert p.activity.observed_days == round(7200 / 86400, 3) and p.activity.coverage == 1.0
    assert p.traffic.peak_hour == 20 and p.traffic.peak_share == 1.0
    assert p.traffic.plan_mbps == 100.0 and p.traffic.busy_windows_per_day == 0.0
    assert p.preferences.top_apps == {"game": ["Fortnite"], "live_streaming": ["Twitch"]}
    assert p.preferences.upload_kbps == {"live_streaming": 5000.0}  # 450 MB in 12 minutes
    assert p.plan.days_to_contract_end == 30 and p.plan.area == "north" and p.plan.source == "crm"
    assert p.competitor.strongest == {
        "operator": "Orange",
        "ssid": "Livebox-3F2A",
        "max_dbm": -45,
        "strong_share": 1.0,
    }
    assert p.competitor.decline_ratio is None  # not enough complete days to speak of a trend
    as_dict = p.to_dict()
    assert set(as_dict) >= {
        "activity",
        "terminals",
        "traffic",
        "quality",
        "plan",
        "preferences",
        "competitor",
    }


def test_without_crm_the_reported_plan_speed_is_used() -> None:
    rows = evening(2)
    rows[0][1]["plan"] = 50_000
    p = build_profile("gw-9", rows, None, CONFIG, START + 1800, "day")
    assert p.plan.source == "report" and p.plan.down_mbps == 50.0
    assert build_profile("gw-9", [], None, CONFIG, START, "7d").reports == 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="01", max_size=400))
def test_the_longest_offline_stretch_is_the_longest_run_of_zeros(line: str) -> None:
    assert _longest_zero_run(line) == max(map(len, line.split("1")))


def test_a_profile_under_another_window_shares_its_dimensions() -> None:
    p = build_profile("gw-9", evening(), CRM, CONFIG, START + 7200, "day")
    other = p.for_window("7d")
    assert other == replace(p, window="7d") and other.terminals is p.terminals and p.window == "day"


def test_the_newest_names_of_a_terminal_win_whatever_the_order() -> None:
    # same newest window end: the names compare as the list [end, hostname, vendor, medium] would
    days = [{"tm": {"m": [100, "tv-b", "Sony", "5GHz", 3]}}, {"tm": {"m": [100, "tv-a", "Sony", "5GHz", 2]}},
            {"tm": {"m": [90, "zz", "Zz", "wired", 1]}}]  # fmt: skip
    for order in itertools.permutations(days):
        assert merge_many(order, ("tm",))["tm"] == {"m": [100, "tv-b", "Sony", "5GHz", 6]}


def test_settings_derived_once_per_configuration(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[profile]\nweak_signal_dbm = -65\n")
    other = load_config(path)
    rows = evening()
    assert build_profile("gw-9", rows, CRM, CONFIG, START + 7200, "day").quality.weak_signal_dbm == -75
    assert build_profile("gw-9", rows, CRM, other, START + 7200, "day").quality.weak_signal_dbm == -65
    # and again: each configuration keeps its own derived figures
    assert build_profile("gw-9", rows, CRM, CONFIG, START + 7200, "day").quality.weak_signal_dbm == -75
