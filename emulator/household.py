"""One home drawn from its personas: terminals, habits, Wi-Fi, plan, path quality and truth.

Everything random about a home is drawn here, once, from its seed; what happens day by
day is drawn in :mod:`emulator.days`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from emulator.catalog import APPS, COMPETITORS, DEVICES, OWN_SSID
from emulator.personas import BASE, PERSONAS, Activity

#: Terminals of a home that is not "big" (the mesh/FTTR offer starts at 12).
ORDINARY_CAP = 11
WIFI_MEDIA = ("2.4GHz", "5GHz")


@dataclass
class Device:
    """One terminal of a virtual home."""

    index: int
    mac: str
    hostname: str
    vendor: str
    kind: str
    medium: str
    signal: float  # typical signal at the gateway (or its AP), dBm
    mobile: bool
    ap: str | None = None  # mesh node it hangs off


@dataclass
class Habit:
    """An activity as this home does it: its minutes a day, its applications and rates."""

    activity: Activity
    minutes: float
    apps: tuple[str, ...]
    down_kbps: float
    up_kbps: float
    devices: list[int]


@dataclass
class Neighbour:
    """A nearby network the home's scans see."""

    ssid: str
    bssid: str
    channel: int
    band: str
    signal: float
    operator: str | None
    inside: bool = False  # a competitor's router inside the home (drifting homes)


@dataclass
class HomeSpec:
    """Everything fixed about one virtual home."""

    gateway_id: str
    personas: tuple[str, ...]
    devices: list[Device]
    habits: list[Habit]
    wifi: str  # good, mixed, poor
    radios: dict[str, tuple[float, float]]  # band -> (utilisation %, interference %)
    plan_mbps: int
    price: float
    contract_days: int  # days from the end of the simulated span to the contract's end
    area: str
    community: str
    subscriber_id: str
    delay_ms: float
    jitter_ms: float
    loss_pct: float
    lag: bool
    drift: bool
    inactive: bool
    mesh_nodes: list[str]
    neighbours: list[Neighbour]
    outage: tuple[float, float] | None  # (fraction of the span, hours) for one ordinary outage
    truth: frozenset[str]
    extra: dict[str, float] = field(default_factory=dict)


def _mac(rng: random.Random, oui: str) -> str:
    return f"{oui}:{rng.randrange(256):02x}:{rng.randrange(256):02x}:{rng.randrange(256):02x}"


def _counts(names: tuple[str, ...], rng: random.Random) -> dict[str, int]:
    lows: dict[str, int] = {}
    highs: dict[str, int] = {}
    for name in names:
        for kind, (lo, hi) in PERSONAS[name].devices.items():
            lows[kind] = max(lows.get(kind, 0), lo)
            highs[kind] = max(highs.get(kind, 0), hi)
    counts = {k: rng.randint(lows[k], highs[k]) for k in lows}
    if not any(PERSONAS[n].many_devices for n in names):
        # trim optional terminals so a home that is not "big" stays under the mesh offer's count
        while sum(counts.values()) > ORDINARY_CAP:
            spare = sorted(k for k in counts if counts[k] > lows[k])
            if not spare:
                break
            counts[rng.choice(spare)] -= 1
    return counts


def _signal(rng: random.Random, wifi: str) -> float:
    if wifi == "poor":
        return rng.uniform(-88, -77) if rng.random() < 0.55 else rng.uniform(-74, -55)
    if wifi == "mixed":
        return rng.uniform(-84, -76) if rng.random() < 0.3 else rng.uniform(-70, -45)
    return rng.uniform(-67, -42)


def _devices(
    gateway_id: str, names: tuple[str, ...], wifi: str, mesh: list[str], rng: random.Random
) -> list[Device]:
    out: list[Device] = []
    for kind, n in sorted(_counts(names, rng).items()):
        spec = DEVICES[kind]
        for _ in range(n):
            oui, vendor = rng.choice(spec.vendors)
            medium = rng.choice(spec.media)
            if wifi == "poor" and medium == "5GHz" and rng.random() < 0.4:
                medium = "2.4GHz"  # far rooms fall back to 2.4 GHz
            host = f"{rng.choice(spec.hostnames)}-{len(out)}"
            ap = rng.choice(mesh) if mesh and medium != "wired" else None
            out.append(Device(len(out), _mac(rng, oui), host, vendor, kind, medium, _signal(rng, wifi),
                              spec.mobile, ap))  # fmt: skip
    return out


def _habits(names: tuple[str, ...], devices: list[Device], base: bool, rng: random.Random) -> list[Habit]:
    activities = list(BASE) if base else []
    for name in names:
        activities.extend(PERSONAS[name].activities)
    habits: list[Habit] = []
    for act in activities:
        users = [d.index for d in devices if d.kind in act.devices]
        if not users:
            continue
        apps = APPS.get(act.category, ("Unknown",))
        favourites = tuple(rng.sample(apps, min(len(apps), rng.randint(1, 3))))
        habits.append(
            Habit(
                act,
                rng.uniform(*act.minutes),
                favourites,
                rng.uniform(*act.down_kbps),
                rng.uniform(*act.up_kbps),
                users,
            )
        )
    return habits


def _neighbours(rng: random.Random, drift: bool) -> list[Neighbour]:
    out: list[Neighbour] = []
    for _ in range(rng.randint(4, 12)):
        band = rng.choice(WIFI_MEDIA)
        channel = rng.choice([1, 6, 11]) if band == "2.4GHz" else rng.choice([36, 44, 100, 149])
        roll = rng.random()
        if roll < 0.45:
            op, prefix = rng.choice(COMPETITORS)
        else:
            op, prefix = (
                None,
                OWN_SSID if roll < 0.7 else rng.choice(["HOME-", "NETGEAR", "TP-Link_", "dlink-"]),
            )
        ssid = f"{prefix}{rng.randrange(16**4):04X}"
        out.append(Neighbour(ssid, _mac(rng, "02:1a:11"), channel, band, rng.uniform(-88, -60), op))
    if drift:
        op, prefix = rng.choice(COMPETITORS)
        out.append(Neighbour(f"{prefix}{rng.randrange(16**4):04X}", _mac(rng, "02:1a:11"), 36, "5GHz",
                             rng.uniform(-50, -38), op, inside=True))  # fmt: skip
    return out


def draw_home(gateway_id: str, names: tuple[str, ...], seed: int, area_count: int = 25) -> HomeSpec:
    """Draw one home of the given personas, deterministically from ``seed``."""
    rng = random.Random(f"home:{seed}")
    personas = [PERSONAS[n] for n in names]
    wifis = {p.wifi for p in personas}
    wifi = (
        "poor" if "poor" in wifis else "good" if "good" in wifis else rng.choice(["good"] * 7 + ["mixed"] * 3)
    )
    mesh = [_mac(rng, "02:ae:5e") for _ in range(2)] if any(p.mesh for p in personas) else []
    devices = _devices(gateway_id, names, wifi, mesh, rng)
    inactive = any(p.inactive for p in personas)
    habits = _habits(names, devices, all(p.base for p in personas), rng)
    if wifi == "poor":
        radios = {
            "2.4GHz": (rng.uniform(45, 75), rng.uniform(30, 50)),
            "5GHz": (rng.uniform(30, 50), rng.uniform(10, 25)),
        }
    elif wifi == "mixed":
        radios = {
            "2.4GHz": (rng.uniform(20, 50), rng.uniform(10, 28)),
            "5GHz": (rng.uniform(5, 30), rng.uniform(1, 10)),
        }
    else:
        radios = {
            "2.4GHz": (rng.uniform(10, 40), rng.uniform(3, 15)),
            "5GHz": (rng.uniform(5, 30), rng.uniform(1, 8)),
        }
    spender = max(personas, key=lambda p: p.price[1])
    lag = rng.random() < max(p.lag for p in personas)
    if lag:
        delay, jitter, loss = rng.uniform(55, 90), rng.uniform(12, 25), rng.uniform(1.2, 3.0)
    else:
        delay, jitter, loss = rng.uniform(8, 30), rng.uniform(1, 6), rng.uniform(0, 0.4)
    drift = any(p.drift for p in personas)
    soon = rng.random() < max(p.contract_soon for p in personas)
    truth = frozenset().union(*(p.truth for p in personas), *(p.lag_truth for p in personas if lag))
    area = f"area-{rng.randrange(area_count) + 1:02d}"
    outage = (rng.random(), rng.uniform(1, 3)) if not drift and rng.random() < 0.1 else None
    return HomeSpec(
        gateway_id=gateway_id,
        personas=names,
        devices=devices,
        habits=habits,
        wifi=wifi,
        radios=radios,
        plan_mbps=rng.choice(spender.plan_mbps),
        price=round(rng.uniform(*spender.price), 2),
        contract_days=rng.randint(5, 55) if soon else rng.randint(75, 900),
        area=area,
        community=f"{area}-c{rng.randint(1, 3)}",
        subscriber_id=f"sub-{gateway_id}",
        delay_ms=delay,
        jitter_ms=jitter,
        loss_pct=loss,
        lag=lag,
        drift=drift,
        inactive=inactive,
        mesh_nodes=mesh,
        neighbours=_neighbours(rng, drift),
        outage=outage,
        truth=truth,
    )
