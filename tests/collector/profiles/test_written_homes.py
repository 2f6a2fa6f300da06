"""Homes written by hand for issue 21 (``tests/fixtures/homes/``), not by the personas' code.

Each is turned into a week of 15-minute reports from its description alone, folded exactly as
ingest folds (``window_contribution`` + ``fold_into``), and evaluated with the shipped
thresholds: live viewers are video lovers, an empty home full of devices is inactive, and
devices' chatter is never counted as people's engaged time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collector.profiles.config import load_config
from collector.profiles.evaluate import profiles_for
from collector.profiles.merge import fold_into
from collector.profiles.rollup import day_of, window_contribution
from collector.profiles.rules import Result, run_rules, windows_needed

HOMES = Path(__file__).resolve().parents[2] / "fixtures" / "homes"
CONFIG = load_config()
FIRST_DAY = 20_248  # Monday 2025-06-02
DAYS = 7
WINDOW_S = 900


def report(home: dict[str, Any], start: int) -> dict[str, Any]:
    """The report body of the window starting at ``start``, from the home's description."""
    hour = (start % 86400) // 3600
    apps = []
    for a in home["activity"]:
        if a["hours"] == "all" or hour in a["hours"]:
            apps.append({"station": a["mac"], "category": a["category"], "bytes_down": a["down"],
                         "bytes_up": a["up"], "active_minutes": 15, "top_apps": a["apps"]})  # fmt: skip
    stations = [
        {**t, "tx_rate_kbps": 300_000, "packets_sent": 1000, "retransmissions": 10} for t in home["terminals"]
    ]
    return {
        "wan": {"online_s": WINDOW_S, "offline_s": 0},
        "stations": stations,
        "apps": apps,
    }


def evaluate(name: str) -> tuple[dict[str, Any], dict[str, Result], Any]:
    home = json.loads((HOMES / f"{name}.json").read_text())
    days: dict[int, dict[str, Any]] = {}
    for k in range(DAYS * 86400 // WINDOW_S):
        start = FIRST_DAY * 86400 + k * WINDOW_S
        fold_into(
            days.setdefault(day_of(start), {}),
            window_contribution(report(home, start), start, start + WINDOW_S),
        )
    as_of = (FIRST_DAY + DAYS) * 86400
    profiles = profiles_for(f"gw-{name}", sorted(days.items()), None, CONFIG, as_of, windows_needed(CONFIG))
    return home, {r.rule: r for r in run_rules(profiles, CONFIG)}, profiles


@pytest.mark.parametrize("name", sorted(p.stem for p in HOMES.glob("*.json")))
def test_a_written_home_gets_what_its_description_implies(name: str) -> None:
    home, fired, _ = evaluate(name)
    for rule in home["expect"]["fires"]:
        assert rule in fired, f"{name}: {rule} did not fire ({sorted(fired)})"
    for rule in home["expect"]["not"]:
        assert rule not in fired, f"{name}: {rule} fired: {fired[rule].sentence}"


def test_live_viewing_counts_as_video_and_says_so() -> None:
    _, fired, _ = evaluate("live_viewers")
    video = fired["video_lover"]
    assert video.metrics["live_hours"] >= 4.5 and video.metrics["long_hours"] == 0
    assert "h live)" in video.sentence


def test_an_empty_home_is_inactive_whatever_its_devices_do() -> None:
    _, fired, _ = evaluate("empty_with_devices")
    inactive = fired["inactive"]
    assert inactive.metrics["engaged_hours_per_day"] == 0.0
    assert inactive.metrics["background_hours_per_day"] >= 23.5
    assert inactive.metrics["background_gb_per_day"] > 5  # the camera's uploads, counted apart
    assert "devices' own traffic not counted" in inactive.sentence


def test_device_chatter_is_not_engaged_time() -> None:
    home, _, profiles = evaluate("family_with_chatter")
    low, high = home["expect"]["engaged_hours_per_day"]
    activity = next(iter(profiles.values())).activity
    assert low <= activity.online_hours_per_day <= high  # 3 h of people, not 24 h of camera
    assert activity.background_hours_per_day >= 23.5
