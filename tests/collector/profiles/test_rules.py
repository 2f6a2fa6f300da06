"""Every built-in rule on hand-made profiles: when it fires, and its exact evidence sentence.

``SENTENCES`` are the examples of docs/profiles.md's rules table, word for word: a test below
reads the table and compares, and each rule's test makes its rule say exactly that.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.profiles.config import load_config
from collector.profiles.evaluate import profiles_for
from collector.profiles.rules import REGISTRY, Finding, Result, rule, rules, run_rules, windows_needed
from tests.collector.profiles.builders import MONDAY, Day, as_of, rows, week

CONFIG = load_config()
DOCS = Path(__file__).resolve().parents[3] / "docs" / "profiles.md"
SENTENCES = {
    "heavy_gamer": "3.1 h/day of gaming on 7 of 7 days",
    "video_lover": "4.0 h/day of video (2.2 h long, 1.8 h short) on 7 of 7 days; style both",
    "reader": "1.2 h/day of reading on 7 of 7 days",
    "livestreamer": "2.3 h/day of live upload at 4.2 Mbit/s",
    "soho": "3 work terminals (nas, printer, voip); 5.0 h/day of work applications on weekdays",
    "mesh_or_fttr": "14 devices; 38% of station-time below -75 dBm on 2.4 GHz; interference 41%;"
    " Wi-Fi score 44/100; 4 smart devices; price 59",
    "plan_upgrade": "2.5 h/day at >= 70% of the 30 Mbit/s plan; 66% of traffic at >= 8 Mbit/s",
    "video_package": "10.0 h/day online; 1.3 h/day short video and 2.5 h/day long video",
    "acceleration_package": "1.5 h/day of gaming; internet delay 72 ms, jitter 18 ms, loss 1.9%",
    "traffic_package": "45.5 GB/day over 7 days; busiest windows use 3% of the 1000 Mbit/s plan",
    "churn_risk": "churn risk 0.96: competitor Orange (Livebox-3F2A) at -42 dBm in 96% of scans;"
    " use down 80% (last 2 days vs before); offline 18 h at a stretch; contract ends in 21 days",
    "inactive": "0.1 h/day engaged (people on personal terminals); 0.02 GB/day of people's traffic over 7 days;"
    " 1 device",
    "below_install_baseline": "Wi-Fi score 82 at install on 2025-05-12, 59 now",
}
WORK_TERMINALS = (("hp-laserjet", "HP", "wired"), ("synology-nas", "Synology", "wired"),
                  ("yealink-phone", "Yealink", "wired"))  # fmt: skip
CRM = {"subscriber_id": "s-1", "plan_down_mbps": 30.0, "plan_up_mbps": 10.0, "price": 59.0,
       "contract_end": "2025-06-30", "area": "north", "community": "north-1"}  # fmt: skip


def evaluate(days: list[Day], subscriber: dict[str, Any] | None = None) -> dict[str, Result]:
    profiles = profiles_for("gw-1", rows(days), subscriber, CONFIG, as_of(days), windows_needed(CONFIG))
    return {r.rule: r for r in run_rules(profiles, CONFIG)}


def ordinary(days: list[Day]) -> list[Day]:
    """A lived-in home: a few hours of mixed use, a few terminals, decent Wi-Fi."""
    for d in days:
        d.minutes("web", 40, down=200_000_000).minutes("social", 60, down=300_000_000).engaged(150)
        d.terminals(("iphone-1", "Apple", "5GHz"), ("laptop-2", "Lenovo", "5GHz"))
        d.signal("5GHz", -55, 150).wifi_parts(90, 70, 90, 90, 90).radio("5GHz", 5, 20).internet(15, 2, 0.1)
    return days


def test_the_registry_holds_every_built_in_with_its_kind() -> None:
    kinds = {name: r.kind for name, r in rules().items()}
    assert kinds == {
        "heavy_gamer": "label", "video_lover": "label", "reader": "label", "livestreamer": "label", "soho": "label",
        "mesh_or_fttr": "flag", "plan_upgrade": "flag", "video_package": "flag", "acceleration_package": "flag",
        "traffic_package": "flag", "churn_risk": "warning", "inactive": "warning",
        "below_install_baseline": "warning",
    }  # fmt: skip
    assert all(r.doc for r in rules().values())


def test_the_documented_sentences_are_the_ones_checked_here() -> None:
    # rows of the rules table: | `rule` | kind | fires when | `sentence` |
    table = dict(re.findall(r"^\| `(\w+)` \| (?:label|flag|warning)[^|]*\|[^\n]*\| `([^`]+)` \|$", DOCS.read_text(),
                            re.MULTILINE))  # fmt: skip
    assert table == SENTENCES
    assert set(SENTENCES) == set(rules())


def test_an_ordinary_home_gets_nothing() -> None:
    assert evaluate(ordinary(week()), CRM | {"contract_end": "2027-01-01"}) == {}


def test_heavy_gamer_sentence_and_result_fields() -> None:
    days = ordinary(week())
    for d in days[:6]:
        d.minutes("game", 190)
    r = evaluate(days)["heavy_gamer"]
    assert r.sentence == "2.7 h/day of gaming on 6 of 7 days"
    assert (r.kind, r.version, r.window, r.state) == ("label", 1, "7d", "on")
    assert r.thresholds == {"min_hours_per_day": 2.0, "min_day_minutes": 60, "min_days_share": 0.5}
    assert r.metrics == {"hours_per_day": 2.714, "days_on": 6, "days": 7}
    assert r.evidence() == {"thresholds": r.thresholds, "metrics": r.metrics, "factors": []}


def test_heavy_gamer_documented_sentence() -> None:
    days = ordinary(week())
    for d in days:
        d.minutes("game", 186)
    assert evaluate(days)["heavy_gamer"].sentence == SENTENCES["heavy_gamer"]


def test_gaming_on_too_few_days_is_not_a_habit() -> None:
    days = ordinary(week())
    for d in days[:3]:
        d.minutes("game", 400)  # 2.9 h/day on average, but only 3 of 7 days
    assert "heavy_gamer" not in evaluate(days)


def test_video_lover_states_short_long_or_both() -> None:
    both = ordinary(week())
    for d in both:
        d.minutes("video", 130).minutes("short_video", 110)
    r = evaluate(both)["video_lover"]
    assert r.sentence == SENTENCES["video_lover"]
    assert r.state == "both"
    short = ordinary(week())
    for d in short:
        d.minutes("short_video", 200).minutes("video", 20)
    r = evaluate(short)["video_lover"]
    assert r.state == "short"
    assert r.sentence == "3.7 h/day of video (0.3 h long, 3.3 h short) on 7 of 7 days; style short"
    long = ordinary(week())
    for d in long:
        d.minutes("video", 240)
    r = evaluate(long)["video_lover"]
    assert r.state == "long"
    assert r.sentence == "4.0 h/day of video (4.0 h long, 0.0 h short) on 7 of 7 days; style long"


def test_reader_and_livestreamer_sentences() -> None:
    days = ordinary(week())
    for d in days:
        d.minutes("reading", 70)
        d.minutes("live_streaming", 150, up=3_000_000_000).upload("live_streaming", 140, 4200)
    found = evaluate(days)
    assert found["reader"].sentence == SENTENCES["reader"]
    assert found["livestreamer"].sentence == SENTENCES["livestreamer"]


def test_livestreaming_that_mostly_receives_is_not_a_livestreamer() -> None:
    days = ordinary(week())
    for d in days:
        d.minutes("live_streaming", 150, down=3_000_000_000).upload("live_streaming", 20, 4200)
    assert "livestreamer" not in evaluate(days)  # 0.3 h/day of upload-dominant windows


def test_soho_counts_work_terminals_and_weekday_hours() -> None:
    days = ordinary(week())
    for d in days[:5]:  # Monday to Friday
        d.minutes("work", 300)
    for d in days:
        d.terminals(*WORK_TERMINALS)
    r = evaluate(days)["soho"]
    assert r.sentence == SENTENCES["soho"]
    assert r.metrics == {
        "work_terminals": 3,
        "work_types": ["nas", "printer", "voip"],
        "work_hours_per_weekday": 5.0,
    }


def test_soho_needs_two_work_terminals_and_office_hours_on_weekdays() -> None:
    days = ordinary(week())
    for d in days[:5]:
        d.minutes("work", 300).terminals(WORK_TERMINALS[0])  # a printer alone: a home, not an office
    assert "soho" not in evaluate(days)
    days = ordinary(week())
    for d in days:
        d.terminals(*WORK_TERMINALS[:2])
    for d in days[:5]:
        d.minutes("work", 170)  # 2.8 h per weekday
    assert "soho" not in evaluate(days)
    days = ordinary(week())
    for d in days:
        d.terminals(*WORK_TERMINALS[:2])
    for d in days[5:]:
        d.minutes("work", 600)  # weekend work does not count towards office hours
    assert "soho" not in evaluate(days)
    for d in days[:5]:
        d.minutes("work", 190)
    assert evaluate(days)["soho"].sentence == (
        "2 work terminals (nas, printer); 3.2 h/day of work applications on weekdays"
    )


def test_soho_in_a_window_without_a_weekday_judges_all_its_days() -> None:
    weekend = ordinary(week(MONDAY + 5, days=2))  # Saturday and Sunday
    for d in weekend:
        d.terminals(*WORK_TERMINALS)
    assert "soho" not in evaluate(weekend)  # an office closed for the weekend shows no work hours
    for d in weekend:
        d.minutes("work", 240)
    assert evaluate(weekend)["soho"].sentence == (
        "3 work terminals (nas, printer, voip); 4.0 h/day of work applications on weekdays"
    )


def test_mesh_or_fttr_sentence_quotes_devices_holes_and_interference() -> None:
    days = week()
    for d in days:
        d.minutes("video", 60).engaged(200)
        d.terminals(*[(f"phone-{i}", "Samsung", "2.4GHz") for i in range(8)],
                    ("living-room-tv", "Sony", "5GHz"), ("echo-dot", "Amazon", "2.4GHz"),
                    ("ezviz-cam", "Hikvision", "2.4GHz"), ("smart-plug", "Tuya", "2.4GHz"),
                    ("ipad", "Apple", "5GHz"), ("macbook-air", "Apple", "5GHz"))  # fmt: skip
        d.signal("2.4GHz", -80, 38).signal("2.4GHz", -60, 62).signal("5GHz", -50, 80)
        d.radio("2.4GHz", 41, 60).radio("5GHz", 8, 20).wifi_parts(45, 40, 60, 50, 30)
    r = evaluate(days, CRM)["mesh_or_fttr"]
    assert r.sentence == SENTENCES["mesh_or_fttr"]
    assert r.metrics["devices"] == 14 and r.metrics["weak_band"] == "2.4GHz"
    # spending power without a price: a fast plan, or (no CRM at all) premium terminals
    fast = evaluate(days, CRM | {"price": None, "plan_down_mbps": 1000.0})["mesh_or_fttr"]
    assert fast.sentence.endswith("; 4 smart devices; plan 1000 Mbit/s")
    for d in days:
        d.terminals(("iphone-a", "Apple", "5GHz"), ("iphone-b", "Apple", "5GHz"))
    assert evaluate(days)["mesh_or_fttr"].sentence == (
        "16 devices; 38% of station-time below -75 dBm on 2.4 GHz; interference 41%; Wi-Fi score 44/100;"
        " 4 smart devices; 4 premium devices"
    )


def test_no_mesh_offer_where_mesh_is_installed_or_spending_is_low() -> None:
    days = week()
    for d in days:
        d.terminals(*[(f"cam-{i}", "Hikvision", "2.4GHz") for i in range(14)])
        d.signal("2.4GHz", -85, 50).signal("2.4GHz", -60, 50).radio("2.4GHz", 40, 60)
    assert "mesh_or_fttr" not in evaluate(days, CRM | {"price": 20.0, "plan_down_mbps": 100.0})
    assert "mesh_or_fttr" in evaluate(days, CRM)
    for d in days:
        d.extra["mesh"] = 2
    assert "mesh_or_fttr" not in evaluate(days, CRM)


def test_plan_upgrade_and_traffic_package_split_on_busy_windows() -> None:
    days = ordinary(week())
    for d in days:
        d.minutes("app_store", 0, down=30_000_000_000).rate_windows(28_000, 10).rate_bytes(
            25_000, 20_000_000_000
        )
    found = evaluate(days, CRM)  # a 30 Mbit/s plan
    assert found["plan_upgrade"].sentence == SENTENCES["plan_upgrade"]
    assert "traffic_package" not in found
    big = evaluate(days, CRM | {"plan_down_mbps": 1000.0})
    assert "plan_upgrade" not in big and "traffic_package" not in big  # 30.5 GB/day is not enough
    for d in days:
        d.minutes("cloud", 0, down=15_000_000_000)
    r = evaluate(days, CRM | {"plan_down_mbps": 1000.0})["traffic_package"]
    assert r.sentence == SENTENCES["traffic_package"]
    unknown = evaluate(days)  # no CRM row and no plan reported: the volume alone
    assert unknown["traffic_package"].sentence == "45.5 GB/day over 7 days; plan unknown"
    assert "plan_upgrade" not in unknown


def test_video_package_needs_long_online_days_with_both_kinds_of_video() -> None:
    days = ordinary(week())
    for d in days:
        d.minutes("video", 150).minutes("short_video", 80).engaged(600)
    found = evaluate(days)
    assert found["video_package"].sentence == SENTENCES["video_package"]
    for d in days:
        d.engaged(300)
    assert "video_package" not in evaluate(days)


def test_acceleration_package_needs_a_gamer_on_a_bad_path() -> None:
    days = ordinary(week())
    for d in days:
        d.minutes("game", 90)
    assert "acceleration_package" not in evaluate(days)
    for d in days:
        d.v[:] = Day(d.day).v
        d.minutes("game", 90).engaged(150).internet(72, 18, 1.9)
    assert evaluate(days)["acceleration_package"].sentence == SENTENCES["acceleration_package"]


def test_churn_risk_scores_its_factors() -> None:
    days = ordinary(week())
    for d in days:
        d.competitor("Orange", "Livebox-3F2A", -42, 23)
    for d in days[5:]:  # the last two days: use down by four fifths, then a day off
        d.engaged(30)
    days[-1].offline(8, 80)
    r = evaluate(days, CRM | {"contract_end": "2025-06-30"})["churn_risk"]
    assert r.sentence == SENTENCES["churn_risk"]
    assert r.state == "high" and r.score == 0.96 and r.window == "30d"
    assert [f["factor"] for f in r.factors] == ["competitor", "decline", "offline", "contract"]
    assert r.factors[2] == {"factor": "offline", "grade": 0.76, "weight": 0.15, "value": 18.25,
                            "detail": "offline 18 h at a stretch"}  # fmt: skip


def test_crm_tenure_complaints_and_arrears_are_churn_factors_with_their_weights() -> None:
    days = ordinary(week())
    assert "churn_risk" not in evaluate(days, CRM | {"contract_end": "2027-01-01", "tenure_months": 30.0})
    # alone they stay under the line (0.075 + 0.2 + 0.15); with the contract ending they cross it
    crm = {"tenure_months": 3.0, "complaints": 4.0, "arrears": 25.0}
    assert "churn_risk" not in evaluate(days, CRM | crm | {"contract_end": "2027-01-01"})
    r = evaluate(days, CRM | crm)["churn_risk"]
    assert r.factors[1:] == [
        {"factor": "tenure", "grade": 0.75, "weight": 0.1, "value": 3.0, "detail": "subscriber for 3 months"},
        {
            "factor": "complaints",
            "grade": 1.0,
            "weight": 0.2,
            "value": 4.0,
            "detail": "4 complaints in 90 days",
        },
        {"factor": "arrears", "grade": 1.0, "weight": 0.15, "value": 25.0, "detail": "25 overdue"},
    ]
    assert (r.state, r.score) == ("medium", 0.53)
    assert r.sentence.endswith(
        "contract ends in 21 days; subscriber for 3 months; 4 complaints in 90 days; 25 overdue"
    )


def test_a_competitor_alone_is_not_churn() -> None:
    days = ordinary(week())
    for d in days:
        d.competitor("Orange", "Livebox-3F2A", -42, 23)
    assert "churn_risk" not in evaluate(days, CRM | {"contract_end": "2027-01-01"})
    # ...but with the contract ending soon it is, in the medium band
    r = evaluate(days, CRM)["churn_risk"]
    assert (r.state, r.score) == ("medium", 0.55)
    assert r.sentence == (
        "churn risk 0.55: competitor Orange (Livebox-3F2A) at -42 dBm in 96% of scans; contract ends in 21 days"
    )


def test_inactive_sentence_and_a_home_that_stopped_reporting() -> None:
    days = week()
    for d in days:
        d.minutes("messaging", 5, down=20_000_000).engaged(5).terminals(("smart-plug", "Tuya", "2.4GHz"))
    assert evaluate(days)["inactive"].sentence == SENTENCES["inactive"]
    for d in days:
        d.terminals(("ezviz-cam", "Hikvision", "2.4GHz"))
    assert (
        evaluate(days)["inactive"].sentence
        == "0.1 h/day engaged (people on personal terminals); 0.02 GB/day of people's traffic over 7 days; 2 devices"
    )
    later = (days[-1].day + 9) * 86400
    gone = profiles_for("gw-1", rows(days), None, CONFIG, later, windows_needed(CONFIG))
    r = {x.rule: x for x in run_rules(gone, CONFIG)}["inactive"]
    assert (
        r.sentence
        == "0.0 h/day engaged (people on personal terminals); 0.00 GB/day of people's traffic over 7 days; 0 devices; no report for 7 days"
    )


def test_a_rule_registered_outside_homescope_runs_with_its_defaults() -> None:
    @rule("night_owl", kind="label", defaults={"min_share": 0.5})
    def night_owl(p: Any, t: dict[str, Any]) -> Finding | None:
        """Mostly online late."""
        return Finding({"share": 1.0}, f"at least {t['min_share']:.0%} at night")

    try:
        result = evaluate(ordinary(week()))["night_owl"]
        assert result.sentence == "at least 50% at night" and result.thresholds == {"min_share": 0.5}
    finally:
        del REGISTRY["night_owl"]


def test_rule_kinds_are_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        rule("x", kind="badge")  # type: ignore[arg-type]


def test_no_habit_label_before_a_whole_day_is_seen() -> None:
    days = ordinary(week(days=1))
    days[0].minutes("reading", 70).minutes("game", 240)
    midday = days[0].day * 86400 + 12 * 3600  # the only day is not complete yet
    profiles = profiles_for("gw-1", rows(days), None, CONFIG, midday, windows_needed(CONFIG))
    fired = {r.rule for r in run_rules(profiles, CONFIG)}
    assert not fired & {"reader", "heavy_gamer", "video_lover"}
    assert {
        r.rule
        for r in run_rules(
            profiles_for("gw-1", rows(days), None, CONFIG, as_of(days), windows_needed(CONFIG)), CONFIG
        )
    } >= {"reader", "heavy_gamer"}


def _installed(score: float, when: datetime) -> dict[str, Any]:
    return {"wifi_score": score, "recorded_at": when.timestamp()}


def test_below_install_baseline_compares_with_the_install_visit() -> None:
    days = ordinary(week())
    for d in days:
        d.wifi_parts(30, 20, 40, 40, 40)  # the ordinary home's Wi-Fi, now much worse
    visit = datetime(2025, 5, 12, 10, tzinfo=UTC)

    def fired(baseline: dict[str, Any] | None) -> dict[str, Result]:
        profiles = profiles_for(
            "gw-1", rows(days), None, CONFIG, as_of(days), windows_needed(CONFIG), baseline
        )
        return {r.rule: r for r in run_rules(profiles, CONFIG)}

    r = fired(_installed(82.0, visit))["below_install_baseline"]
    assert r.sentence == SENTENCES["below_install_baseline"]
    assert r.metrics == {"install_score": 82.0, "score_now": 59.2, "drop": 22.8, "installed_on": "2025-05-12"}
    assert r.thresholds == {"min_drop": 15.0} and r.kind == "warning"
    assert "below_install_baseline" not in fired(_installed(70.0, visit))  # 10.8 points: under min_drop
    assert "below_install_baseline" not in fired(None)  # never installed
    later = datetime.fromtimestamp(as_of(days) + 3600, UTC)  # recorded after as_of: not history yet
    assert "below_install_baseline" not in fired(_installed(95.0, later))
