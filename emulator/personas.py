"""Personas: how a kind of household uses its network, and the ground truth it stands for.

A persona lists terminals, daily activities (category, which terminals, minutes a day,
when, at what rates), Wi-Fi conditions and the plan it tends to buy. Its ``truth`` is
what a good profiling system should say about such a home; it is written down from the
persona's intent, not computed from the rules. Homes may mix personas
(``heavy_gamer+reader``): terminals and activities add up, truths unite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DAY = tuple(range(8, 23))
EVENING = (18, 19, 20, 21, 22)
LATE = (19, 20, 21, 22, 23)
OFFICE = tuple(range(8, 18))


@dataclass(frozen=True)
class Activity:
    """Something a household does on some terminals, drawn per home then per day."""

    category: str
    devices: tuple[str, ...]  # terminal kinds that do it
    minutes: tuple[float, float]  # the home's minutes a day, drawn once in this range
    hours: tuple[int, ...]  # sessions start in these hours
    down_kbps: tuple[float, float]
    up_kbps: tuple[float, float]
    session: tuple[int, int] = (20, 90)  # minutes
    weekdays: bool = False  # Monday to Friday only
    share_of_days: float = 1.0  # chance of doing it on a given day


@dataclass(frozen=True)
class Persona:
    """A kind of household and what should be said about it."""

    name: str
    description: str
    devices: dict[str, tuple[int, int]]  # kind -> (min, max) count
    activities: tuple[Activity, ...] = ()
    truth: frozenset[str] = frozenset()
    wifi: str = "any"  # "good", "poor" or "any" (good or mixed)
    plan_mbps: tuple[int, ...] = (100, 200, 300, 500, 1000)
    price: tuple[float, float] = (20.0, 44.0)
    mesh: bool = False
    lag: float = 0.0  # chance the internet path is slow (a gamer then wants acceleration)
    lag_truth: frozenset[str] = frozenset()
    drift: bool = False  # drifting to a competitor
    inactive: bool = False
    base: bool = True  # the ordinary use every lived-in home has
    many_devices: bool = False  # allowed past the ordinary cap on terminals
    contract_soon: float = 0.06  # chance the contract ends within the next 60 days
    extra: dict[str, float] = field(default_factory=dict)


#: What every lived-in home does (kept well under every label's threshold).
BASE: tuple[Activity, ...] = (
    Activity("web", ("phone", "laptop", "tablet", "desktop"), (15, 45), DAY, (500, 3000), (50, 200)),
    Activity("social", ("phone", "tablet"), (25, 70), DAY, (800, 3000), (100, 500), (10, 40)),
    Activity("messaging", ("phone",), (15, 40), DAY, (50, 300), (30, 200), (5, 20)),
    Activity("video", ("tv", "laptop", "tablet"), (0, 60), EVENING, (3000, 6000), (50, 150), (30, 60)),
    Activity("short_video", ("phone",), (0, 40), (12, 13, *EVENING), (1500, 3000), (50, 150), (10, 30)),
    Activity("music", ("phone", "speaker"), (0, 40), DAY, (128, 320), (5, 20)),
    Activity("shopping", ("phone",), (0, 20), DAY, (500, 2000), (50, 200), (5, 20)),
    Activity("game", ("phone",), (0, 25), EVENING, (200, 800), (50, 200), (10, 25)),
    Activity("reading", ("phone", "tablet"), (0, 10), (7, 8, 22), (100, 400), (10, 40), (5, 10)),
    Activity("work", ("laptop",), (0, 60), OFFICE, (1000, 2500), (500, 1500), (20, 60), weekdays=True),
    Activity("live_streaming", ("phone", "tv"), (0, 30), LATE, (2000, 4000), (30, 80), (10, 30)),
    Activity("app_store", ("phone", "laptop", "tablet"), (3, 10), (2, 3, 4), (10000, 40000), (100, 300), (3, 10),
             share_of_days=0.3),
)  # fmt: skip

#: Many ordinary homes have a printer: one work terminal alone never makes a home office.
ORDINARY_DEVICES = {"phone": (2, 3), "laptop": (0, 2), "tablet": (0, 1), "tv": (0, 1), "speaker": (0, 1),
                    "iot": (1, 2), "printer": (0, 1)}  # fmt: skip

PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona("ordinary", "an ordinary household", ORDINARY_DEVICES),
        Persona(
            "heavy_gamer", "plays for hours most evenings; some have a laggy path",
            {"phone": (1, 2), "console": (1, 1), "desktop": (0, 1)},
            (Activity("game", ("console", "desktop"), (200, 320), (16, 17, *LATE), (300, 3000), (100, 500),
                      (60, 150)),
             Activity("app_store", ("console", "desktop"), (5, 20), (1, 2, 3), (30000, 100000), (200, 500), (5, 20),
                      share_of_days=0.3)),
            frozenset({"heavy_gamer"}), lag=0.5, lag_truth=frozenset({"acceleration_package"}),
        ),
        Persona(
            "video_family", "a family online all day: short video on phones, long video on the TV",
            {"phone": (3, 4), "tablet": (1, 2), "tv": (1, 2)},
            (Activity("short_video", ("phone", "tablet"), (150, 240), tuple(range(8, 23)), (1500, 3000), (50, 150),
                      (15, 45)),
             Activity("video", ("tv", "tablet"), (220, 330), (10, 11, 13, 14, 15, 16, *LATE), (4000, 7000),
                      (50, 150), (40, 120)),
             Activity("social", ("phone", "tablet"), (90, 150), tuple(range(7, 23)), (800, 3000), (100, 500),
                      (15, 40))),
            frozenset({"video_lover", "video_package"}),
        ),
        Persona(
            "cinephile", "long films and series every evening, little else; some keep films on a NAS",
            {"tv": (1, 1), "laptop": (0, 1), "nas": (0, 1)},
            (Activity("video", ("tv", "laptop"), (210, 300), (18, 19, 20, 21), (5000, 8000), (50, 150),
                      (90, 150)),),
            frozenset({"video_lover"}),
        ),
        Persona(
            "reader", "reads e-books and long-form daily",
            {"ereader": (1, 1), "tablet": (0, 1)},
            (Activity("reading", ("ereader", "tablet"), (70, 150), (7, 8, 12, 13, 21, 22), (100, 500), (10, 50),
                      (15, 60)),),
            frozenset({"reader"}),
        ),
        Persona(
            "livestreamer", "streams live video out of the home most evenings",
            {"desktop": (1, 1), "camera": (0, 1)},
            (Activity("live_streaming", ("desktop",), (150, 240), (14, 15, 18, 19, 20, 21), (100, 300),
                      (3000, 8000), (60, 150), share_of_days=0.9),),
            frozenset({"livestreamer"}),
        ),
        Persona(
            "soho", "a small office at home: printer, desk phones, often a NAS and a workstation, office hours"
            " of work apps on weekdays",
            {"printer": (1, 1), "voip": (1, 2), "nas": (0, 1), "workstation": (0, 1), "desktop": (1, 2),
             "laptop": (0, 1), "phone": (1, 2)},
            (Activity("work", ("desktop", "laptop", "workstation"), (320, 480), OFFICE, (1000, 3000), (500, 2000),
                      (60, 180), weekdays=True),
             Activity("cloud", ("desktop",), (30, 60), (12, 18, 23), (200, 500), (2000, 8000), (10, 30))),
            frozenset({"soho"}),
        ),
        Persona(
            "big_poor_wifi", "a big home with many smart terminals and Wi-Fi that does not reach",
            {"phone": (3, 5), "tablet": (1, 3), "laptop": (1, 3), "tv": (2, 3), "speaker": (1, 3),
             "camera": (1, 3), "iot": (2, 5), "watch": (0, 2)},
            truth=frozenset({"mesh_or_fttr"}), wifi="poor", plan_mbps=(300, 500, 1000), price=(50.0, 85.0),
            many_devices=True,
        ),
        Persona(
            "mesh_home", "a big home that already has mesh APs: many terminals, good Wi-Fi",
            {"phone": (3, 5), "tablet": (1, 3), "laptop": (1, 3), "tv": (2, 3), "speaker": (1, 3),
             "camera": (1, 3), "iot": (2, 5)},
            wifi="good", plan_mbps=(300, 500, 1000), price=(50.0, 85.0), mesh=True, many_devices=True,
        ),
        Persona(
            "heavy_small_plan", "4K video and big downloads on a small plan that keeps saturating",
            {"phone": (1, 3), "tv": (1, 1), "laptop": (1, 2), "desktop": (0, 1)},
            (Activity("video", ("tv",), (30, 60), (19, 20, 21), (15000, 25000), (100, 300), (30, 60)),
             Activity("app_store", ("laptop", "desktop", "phone"), (130, 220), (17, 18, *LATE), (150000, 300000),
                      (300, 800), (30, 90))),
            frozenset({"plan_upgrade"}), plan_mbps=(20, 30, 50), price=(15.0, 30.0),
        ),
        Persona(
            "heavy_big_plan", "tens of gigabytes a day (cloud backups, downloads) on a fast plan",
            {"phone": (1, 3), "laptop": (1, 2), "desktop": (1, 1), "nas": (0, 1), "printer": (0, 1)},
            (Activity("cloud", ("desktop", "laptop"), (25, 40), (1, 2, 3, 13, 23), (150000, 220000), (2000, 5000),
                      (10, 25)),
             Activity("app_store", ("desktop", "laptop"), (20, 30), (2, 3, 14, 20), (150000, 220000), (300, 800),
                      (10, 25))),
            frozenset({"traffic_package"}), plan_mbps=(500, 1000), price=(40.0, 70.0),
        ),
        Persona(
            "inactive", "a line nobody uses: a camera, a plug, a phone now and then",
            {"phone": (0, 1), "iot": (1, 2), "camera": (0, 1)},
            (Activity("web", ("phone",), (0, 8), DAY, (300, 1500), (30, 100), (3, 8), share_of_days=0.4),
             Activity("messaging", ("phone",), (0, 6), DAY, (50, 200), (30, 100), (2, 6), share_of_days=0.5)),
            frozenset({"inactive"}), base=False,
        ),
        Persona(
            "drifting", "moving to a competitor: its router inside, use fading, the gateway often off",
            ORDINARY_DEVICES, truth=frozenset({"churn_risk"}), drift=True, contract_soon=0.7,
        ),
    )
}  # fmt: skip

#: Personas that mix into one home (their activities add up without blurring each other's truth).
MIXABLE = ("heavy_gamer", "video_family", "cinephile", "reader", "livestreamer", "soho", "big_poor_wifi")

#: The default fleet: name (or ``a+b`` mix) -> weight.
DEFAULT_MIX: dict[str, float] = {
    "ordinary": 22,
    "heavy_gamer": 6,
    "video_family": 6,
    "cinephile": 3,
    "reader": 5,
    "livestreamer": 5,
    "soho": 5,
    "big_poor_wifi": 6,
    "mesh_home": 3,
    "heavy_small_plan": 5,
    "heavy_big_plan": 4,
    "inactive": 5,
    "drifting": 6,
    "heavy_gamer+reader": 2,
    "video_family+soho": 2,
    "big_poor_wifi+video_family": 2,
    "livestreamer+heavy_gamer": 2,
    "cinephile+reader": 2,
    "soho+heavy_gamer": 2,
    "big_poor_wifi+livestreamer": 2,
    "reader+livestreamer": 2,
    "video_family+heavy_gamer": 2,
}


def parse_mix(text: str) -> dict[str, float]:
    """``"mix"`` (the default fleet) or ``"name:weight,a+b:weight,..."``; weight defaults to 1."""
    if text.strip() in ("", "mix"):
        return dict(DEFAULT_MIX)
    out: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.strip().partition(":")
        members = name.split("+")
        unknown = [m for m in members if m not in PERSONAS]
        if unknown:
            raise ValueError(f"unknown persona {unknown[0]!r}; known: {', '.join(PERSONAS)}")
        if len(members) > 1 and any(m not in MIXABLE for m in members):
            raise ValueError(f"only these personas mix: {', '.join(MIXABLE)}")
        out[name] = float(weight) if weight else 1.0
    return out


def assign(mix: Mapping[str, float], homes: int) -> list[tuple[str, ...]]:
    """Personas for ``homes`` homes in proportion to ``mix`` (largest remainder, deterministic order)."""
    total = sum(mix.values())
    exact = {k: homes * w / total for k, w in mix.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[: homes - sum(counts.values())]:
        counts[k] += 1
    out: list[tuple[str, ...]] = []
    for name, n in counts.items():
        out.extend([tuple(name.split("+"))] * n)
    return out
