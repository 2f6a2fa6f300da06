"""The pure pieces: uplift and its interval, control arms, quiet hours, catalogue checks, templates, CSV cells."""

from __future__ import annotations

import random

import pytest

from collector.marketing.arms import Candidate, assign_arms
from collector.marketing.catalogue import CatalogueError, Policy, load_catalogue, parse_catalogue, rank_offers
from collector.marketing.export import neutralise
from collector.marketing.policy import Contact, after_quiet_hours, decide
from collector.marketing.templates import TemplateError, check_template, render
from collector.marketing.uplift import uplift, wilson
from tests.collector.marketing.homes import kind_of

DAY = 86400.0


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Table II, example (a): 56/70 vs 48/80 -> 0.2000, method 10: 0.0524 to 0.3339
    u = uplift(70, 56, 80, 48)
    assert u.uplift == pytest.approx(0.2)
    assert u.ci95 == pytest.approx((0.0524, 0.3339), abs=1e-4)
    # example (h): 0/10 vs 0/20 -> -0.1611 to 0.2775 (stays finite where Wald collapses to 0 width)
    assert uplift(10, 0, 20, 0).ci95 == pytest.approx((-0.1611, 0.2775), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert uplift(0, 0, 10, 1).ci95 is None


def test_interval_covers_the_true_uplift_about_95_percent_of_the_time() -> None:
    rng = random.Random(3)
    hits = 0
    for _ in range(400):
        t = sum(rng.random() < 0.12 for _ in range(400))
        c = sum(rng.random() < 0.05 for _ in range(100))
        lo, hi = uplift(400, t, 100, c).ci95 or (0, 0)
        hits += lo <= 0.07 <= hi
    assert 0.91 <= hits / 400 <= 0.99


def test_control_group_is_stratified_and_reproducible() -> None:
    people = [
        Candidate(f"gw-{i}", f"s{i}", ("north|mesh", "south|mesh", "south|plan")[i % 3]) for i in range(3000)
    ]
    a = assign_arms(people, 0.1, seed=5)
    assert a == assign_arms(list(reversed(people)), 0.1, seed=5)
    assert a != assign_arms(people, 0.1, seed=6)
    for stratum in ("north|mesh", "south|mesh", "south|plan"):
        arms = [x.arm for x in a if x.stratum == stratum]
        assert arms.count("control") == 100
    assert all(x.arm == "treatment" for x in assign_arms(people, 0.0, 1))


def test_quiet_hours_and_the_cap() -> None:
    p = Policy(max_contacts=2, period_days=30, quiet_start_hour=21, quiet_end_hour=9, utc_offset_hours=1)
    day = 20_000 * DAY
    assert after_quiet_hours(p, day + 12 * 3600) == day + 12 * 3600  # 13:00 local
    assert after_quiet_hours(p, day + 20 * 3600 + 60) == day + DAY + 8 * 3600  # 21:01 local -> 09:00 local
    assert after_quiet_hours(p, day + 3600) == day + 8 * 3600  # 02:00 local -> 09:00 local
    log = [Contact("mesh", day - 40 * DAY, 1, "main"), Contact("video", day - DAY, 2, "main")]
    assert decide(p, day + 12 * 3600, "plan", 3, "main", log, False).send
    log.append(Contact("fttr", day - 2 * DAY, 4, "main"))
    assert decide(p, day + 12 * 3600, "plan", 3, "main", log, False).reason == "cap: 2 contacts in 30 days"
    assert (
        decide(p, day + 12 * 3600, "mesh", 3, "main", log[:1], False).reason
        == "already contacted for this offer"
    )
    assert decide(p, day + 12 * 3600, "plan", 3, "main", [], True).reason == "opted out"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[offers.x]\nname='X'\nprice=1\nflags=['no_such']", "offers.x.flags: 'no_such' is not a flag rule"),
        ("[offers.x]\nname='X'\nprice=1\ncolour='red'", "unknown key offers.x.colour"),
        ("[offers.x]\nname='X'\nprice=1\nexcludes=['y']", "offers.x.excludes names unknown offer 'y'"),
        ("[offers.x]\nname='X'\nprice=1\ntalk='{nope}'", "offers.x.talk: unknown parameter 'nope'"),
        ("[policy]\ncap=3\n[offers.x]\nname='X'\nprice=1", "unknown key policy.cap"),
    ],
)
def test_bad_catalogues_name_the_key(text: str, message: str) -> None:
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(text, kind_of)
    assert message in str(err.value)


def test_ranking_excludes_taken_and_mutually_exclusive_offers() -> None:
    cat = load_catalogue(None, kind_of)
    held = [{"rule": "mesh_or_fttr", "sentence": "poor Wi-Fi"}, {"rule": "soho", "sentence": "3 work terminals"},
            {"rule": "heavy_gamer", "sentence": "3 h/day"}, {"rule": "churn_risk", "sentence": "risk 0.8"}]  # fmt: skip
    ranked = [r.offer for r in rank_offers(cat, held)]
    # a home office with a gamer: fttr 2+1+0.5+0.5 ties mesh 3+1 and costs more; mesh is then excluded
    assert ranked == ["fttr", "acceleration", "office", "loyalty"]
    # with mesh already taken, fttr (mutually exclusive with it) is not offered either
    assert [r.offer for r in rank_offers(cat, held, taken=["mesh"])] == ["acceleration", "office", "loyalty"]
    assert len(rank_offers(cat, held, top_n=2)) == 2
    talk = rank_offers(cat, held[:1])[0].talk
    assert "(poor Wi-Fi)" in talk and "8 a month" in talk


def test_templates_and_cells() -> None:
    assert check_template("Hi {name}, {offer} in {area}") == ["name", "offer", "area"]
    with pytest.raises(TemplateError, match=r"unknown parameter \{nam\}"):
        check_template("Hi {nam}")
    with pytest.raises(TemplateError, match="literal braces"):
        check_template("Hi {name")
    assert render("Hi {name}, {offer}", {"name": "Zoë", "offer": None}) == "Hi Zoë, "
    assert [neutralise(v) for v in ("=1+1", "+33", "-2", "@x", "ok", None, 5)] == [
        "'=1+1",
        "'+33",
        "'-2",
        "'@x",
        "ok",
        "",
        "5",
    ]
