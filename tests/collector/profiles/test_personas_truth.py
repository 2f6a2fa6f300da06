"""Each emulator persona, simulated for a week and folded like ingest does, gets its ground truth
from the rules with the default thresholds (the same path as the collector, minus MQTT)."""

from __future__ import annotations

from typing import Any

import pytest

from collector.crm import parse_subscribers
from collector.profiles.config import load_config
from collector.profiles.evaluate import profiles_for
from collector.profiles.merge import fold_into
from collector.profiles.rollup import day_of, window_contribution
from collector.profiles.rules import run_rules, windows_needed
from emulator.clock import SimClock
from emulator.home import VirtualHome
from emulator.household import HomeSpec
from emulator.personas import PERSONAS
from emulator.truth import CRM_COLUMNS, crm_rows, fleet_specs

CLOCK = SimClock.for_days(7, end=20248 * 86400)  # the week Monday 2025-06-02 .. Sunday
CONFIG = load_config()


def simulate(spec: HomeSpec, seed: int, clock: SimClock = CLOCK) -> dict[int, dict[str, Any]]:
    """Day rollups of one home over the clock's span (what ``home_days`` would hold)."""
    home = VirtualHome(spec.gateway_id, seed, spec, clock.span)
    days: dict[int, dict[str, Any]] = {}
    for k in range(clock.windows):
        start, end = clock.window(k)
        if not home.powered(start):
            home.skip(clock.window_s)
            continue
        contribution = window_contribution(home.report_body(clock.window_s, end), start, end)
        fold_into(days.setdefault(day_of(start), {}), contribution)
    return days


def crm_of(spec: HomeSpec, clock: SimClock = CLOCK) -> dict[str, Any]:
    row = crm_rows([spec], clock.end)[0]
    text = ",".join(CRM_COLUMNS) + "\n" + ",".join(row[c] for c in CRM_COLUMNS) + "\n"
    return parse_subscribers(text).rows[0]


def fired(spec: HomeSpec, seed: int, clock: SimClock = CLOCK) -> set[str]:
    days = sorted(simulate(spec, seed, clock).items())
    profiles = profiles_for(
        spec.gateway_id, days, crm_of(spec, clock), CONFIG, clock.end, windows_needed(CONFIG)
    )
    return {r.rule for r in run_rules(profiles, CONFIG)}


SINGLE = sorted(PERSONAS)
MIXES = ["heavy_gamer+reader", "big_poor_wifi+video_family", "soho+livestreamer"]


@pytest.mark.parametrize("mix", SINGLE + MIXES)
def test_a_persona_gets_exactly_its_ground_truth(mix: str) -> None:
    spec = fleet_specs({mix: 1}, 1, prefix="truth", seed=11)[0]
    assert fired(spec, 11) == set(spec.truth), f"{mix}: personas {spec.personas}"


def test_gamers_with_a_slow_path_are_offered_acceleration() -> None:
    specs = fleet_specs({"heavy_gamer": 1}, 6, prefix="gamer", seed=5)
    assert {s.lag for s in specs} == {True, False}, "the sample should hold both kinds of gamer"
    for i, spec in enumerate(specs[:4]):
        assert ("acceleration_package" in fired(spec, i)) == spec.lag


@pytest.mark.parametrize("ends", range(7))
def test_a_soho_home_is_seen_from_a_week_ending_on_any_day(ends: int) -> None:
    # a week always holds five weekdays of office hours, wherever it starts
    clock = SimClock.for_days(7, end=(20248 + ends) * 86400)
    spec = fleet_specs({"soho": 1}, 1, prefix="office", seed=3)[0]
    assert "soho" in fired(spec, 3, clock)


def test_a_printer_and_a_nas_without_office_hours_are_not_soho() -> None:
    # heavy users with two work terminals (a printer, a NAS for their backups) but no office
    specs = [
        s
        for s in fleet_specs({"heavy_big_plan": 1}, 20, prefix="kit", seed=2)
        if sum(d.kind in ("printer", "nas") for d in s.devices) >= 2
    ]
    assert specs, "the sample should hold homes with a printer and a NAS"
    for i, spec in enumerate(specs[:3]):
        assert fired(spec, i) == set(spec.truth)
