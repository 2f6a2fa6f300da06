"""Households answer offers: hidden propensities, responses to contacts, what buying changes."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

from collector.marketing.verification import Figures, figures
from collector.profiles.merge import merge_day
from collector.profiles.rollup import window_contribution
from emulator.clock import SimClock
from emulator.home import VirtualHome
from emulator.response import after_purchase, outcome_rows, propensity, respond, write_truth
from emulator.truth import fleet_specs

CLOCK = SimClock.for_days(1, end=20242 * 86400)


def test_propensities_are_hidden_reproducible_and_contact_helps() -> None:
    assert propensity("gw-1", "mesh", 1) == propensity("gw-1", "mesh", 1)
    assert propensity("gw-1", "mesh", 1) != propensity("gw-1", "mesh", 2)
    homes = [(f"gw-{i}", f"s{i}") for i in range(4000)]
    treated = respond(homes[:2000], "mesh", {s for _, s in homes[:2000]}, 0.0, 86400.0, 1)
    control = respond(homes[2000:], "mesh", set(), 0.0, 86400.0, 1)
    rate_t = mean(r.converted for r in treated)
    rate_c = mean(r.converted for r in control)
    assert 0.08 < rate_t - rate_c < 0.2
    assert not any(r.opted_out for r in control)
    rows = outcome_rows(treated, {g: 100 for g, _ in homes})
    assert {r["kind"] for r in rows} == {"order", "opt_out"}
    plan = outcome_rows(
        respond(homes[:200], "plan_upgrade", {s for _, s in homes[:200]}, 0.0, 10.0, 1), {"gw-3": 30}
    )
    assert plan and all(
        r["kind"] == "plan_change" and r["plan_down_mbps"] for r in plan if r["kind"] != "opt_out"
    )


def _day(spec: object) -> tuple[int, list[float]]:
    home = VirtualHome(spec.gateway_id, 1, spec, CLOCK.span)  # type: ignore[attr-defined]
    mesh, scores = 0, []
    for k in range(CLOCK.windows):
        start, end = CLOCK.window(k)
        if not home.powered(start):
            home.skip(900)
            continue
        body = home.report_body(900, end)
        mesh = max(mesh, len(body.get("topology", [])))
        signals = [s["signal_dbm"] for s in body["stations"] if "signal_dbm" in s]
        scores += signals
        window_contribution(body, start, end)  # the collector's rollup reads it as it is
    return mesh, scores


def test_buying_mesh_adds_mesh_nodes_and_better_signal() -> None:
    spec = fleet_specs({"big_poor_wifi": 1}, 1, "home", 3)[0]
    before_mesh, before = _day(spec)
    after_mesh, after = _day(after_purchase(spec, "mesh"))
    assert before_mesh == 0 and after_mesh == 2
    assert mean(after) > mean(before) + 5
    assert after_purchase(spec, "plan_upgrade").plan_mbps == 2 * spec.plan_mbps


def _rollup(spec: object) -> Figures:
    """What the collector's verification reads of a simulated day of ``spec``."""
    home = VirtualHome(spec.gateway_id, 1, spec, CLOCK.span)  # type: ignore[attr-defined]
    day = None
    for k in range(CLOCK.windows):
        start, end = CLOCK.window(k)
        if not home.powered(start):
            home.skip(900)
            continue
        day = merge_day(day, window_contribution(home.report_body(900, end), start, end))
    return figures([day] if day else [])


def test_buying_video_raises_video_hours_and_acceleration_cuts_the_delay() -> None:
    video = fleet_specs({"video_family": 1}, 1, "home", 3)[0]
    before, after = _rollup(video), _rollup(after_purchase(video, "video_package"))
    assert before.video_hours and after.video_hours and after.video_hours > 1.15 * before.video_hours
    gamer = next(s for s in fleet_specs({"heavy_gamer": 1}, 12, "home", 3) if s.lag)
    before, after = _rollup(gamer), _rollup(after_purchase(gamer, "acceleration"))
    assert before.delay_ms and after.delay_ms and after.delay_ms < 0.5 * before.delay_ms


def test_the_responses_are_written_to_the_ground_truth(tmp_path: Path) -> None:
    answers = respond([("gw-1", "s1"), ("gw-2", "s2")], "mesh", {"s1"}, 0.0, 60.0, 1)
    write_truth(tmp_path / "responses.json", answers)
    doc = json.loads((tmp_path / "responses.json").read_text())["responses"]
    assert [(r["gateway_id"], r["contacted"]) for r in doc] == [("gw-1", True), ("gw-2", False)]
    assert doc[0]["propensity"] == {
        "base": answers[0].propensity.base,
        "contacted": answers[0].propensity.contacted,
    }
