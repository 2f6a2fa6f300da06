"""Personas, fleet mixes, the ground truth file, the CRM export and the simulated clock."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from emulator.clock import SimClock
from emulator.personas import DEFAULT_MIX, MIXABLE, PERSONAS, assign, parse_mix
from emulator.truth import CRM_COLUMNS, OUTCOMES, fleet_specs, write_crm, write_truth


def test_every_outcome_is_some_persona_s_truth_and_every_truth_is_an_outcome() -> None:
    truths = set().union(*(p.truth | p.lag_truth for p in PERSONAS.values()))
    assert truths == set(OUTCOMES)
    assert PERSONAS["ordinary"].truth == frozenset() and PERSONAS["mesh_home"].truth == frozenset()


def test_mixes_parse_and_refuse_what_cannot_mix() -> None:
    assert parse_mix("mix") == DEFAULT_MIX
    assert parse_mix("heavy_gamer:3, reader+soho") == {"heavy_gamer": 3.0, "reader+soho": 1.0}
    with pytest.raises(ValueError, match="unknown persona 'gamer'"):
        parse_mix("gamer")
    with pytest.raises(ValueError, match="only these personas mix"):
        parse_mix("inactive+reader")
    assert all(name in PERSONAS for name in MIXABLE)


def test_assign_follows_the_weights_exactly() -> None:
    names = assign({"reader": 1, "soho": 3}, 8)
    assert names.count(("reader",)) == 2 and names.count(("soho",)) == 6
    big = assign(DEFAULT_MIX, 1000)
    assert len(big) == 1000 and big.count(("ordinary",)) == round(1000 * 22 / sum(DEFAULT_MIX.values()))


def test_fleet_specs_are_deterministic_and_interleaved() -> None:
    a = fleet_specs(DEFAULT_MIX, 50, "f", seed=4)
    b = fleet_specs(DEFAULT_MIX, 50, "f", seed=4)
    assert [(s.gateway_id, s.personas, s.truth) for s in a] == [
        (s.gateway_id, s.personas, s.truth) for s in b
    ]
    assert len({s.personas for s in a[:10]}) >= 5  # the first homes are already a mix
    assert a[0].gateway_id == "f-00000" and len({s.gateway_id for s in a}) == 50


def test_truth_and_crm_files(tmp_path: Path) -> None:
    specs = fleet_specs({"drifting": 1, "heavy_small_plan": 1}, 2, "t")
    clock = SimClock.for_days(7, end=20248 * 86400)
    write_truth(tmp_path / "truth.json", specs, clock.span)
    write_crm(tmp_path / "crm.csv", specs, clock.end)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["span"] == [20241 * 86400, 20248 * 86400] and truth["outcomes"] == list(OUTCOMES)
    assert {h["truth"][0] for h in truth["homes"].values()} == {"churn_risk", "plan_upgrade"}
    with (tmp_path / "crm.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CRM_COLUMNS) and {r["gateway_id"] for r in rows} == set(truth["homes"])
    small = next(r for r in rows if "plan_upgrade" in truth["homes"][r["gateway_id"]]["truth"])
    assert int(small["plan_down_mbps"]) <= 50


def test_the_clock_back_fills_whole_windows_ending_at_a_boundary() -> None:
    clock = SimClock.for_days(7, end=20248 * 86400 + 123)
    assert clock.windows == 672 and clock.end == 20248 * 86400
    assert clock.window(0) == (20241 * 86400, 20241 * 86400 + 900) and clock.span == (
        20241 * 86400,
        20248 * 86400,
    )
