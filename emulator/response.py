"""How households answer offers: a hidden propensity per home and offer, and what buying changes.

Each home has, per offer, a probability to buy on its own within the campaign's horizon
(``base``, the control group's rate) and a higher one when contacted (``contacted``),
drawn from the home's id and the seed, never shown to the collector. :func:`respond` turns
the messages the sender actually delivered into the CRM's outcome rows (orders, plan changes
with the new speed, a few opt-outs) and the ground truth of who converted and why.
:func:`after_purchase` gives the home its new shape: mesh or FTTR adds two mesh nodes and
good signal everywhere; a plan upgrade doubles the plan in the CRM export; the video package
makes the household watch half as much video again (the premium catalogue); acceleration
cuts the delay, jitter and loss of its path to the internet.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from emulator.household import HomeSpec

#: Per offer: (base rate range, lift range when contacted); the lift is the true effect.
PROPENSITY: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "mesh": ((0.01, 0.05), (0.08, 0.20)),
    "fttr": ((0.01, 0.03), (0.04, 0.10)),
    "plan_upgrade": ((0.02, 0.06), (0.06, 0.16)),
    "video_package": ((0.02, 0.05), (0.05, 0.14)),
    "acceleration": ((0.01, 0.04), (0.08, 0.18)),
    "traffic_package": ((0.01, 0.04), (0.03, 0.09)),
}
DEFAULT = ((0.01, 0.04), (0.03, 0.08))
OPT_OUT = 0.01  # of contacted homes


@dataclass(frozen=True)
class Propensity:
    """One home's hidden chances to buy one offer: on its own, and when contacted."""

    base: float
    contacted: float


@dataclass(frozen=True)
class Response:
    """What one audience member did, for the outcome export and the ground truth."""

    gateway_id: str
    subscriber_id: str
    offer: str
    contacted: bool
    converted: bool
    opted_out: bool
    at: float
    propensity: Propensity


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(hashlib.sha256(":".join([str(seed), *parts]).encode()).digest())


def propensity(gateway_id: str, offer: str, seed: int) -> Propensity:
    """The hidden propensity of a home for an offer (the same for the same seed)."""
    (b0, b1), (l0, l1) = PROPENSITY.get(offer, DEFAULT)
    rng = _rng(seed, "propensity", gateway_id, offer)
    base = rng.uniform(b0, b1)
    return Propensity(base, min(1.0, base + rng.uniform(l0, l1)))


def expected_rate(gateway_id: str, offer: str, contacted: bool, seed: int) -> float:
    """The chance this member converts, given whether the campaign reached it."""
    p = propensity(gateway_id, offer, seed)
    return p.contacted if contacted else p.base


def respond(
    members: Iterable[tuple[str, str]],
    offer: str,
    contacted: set[str],
    start: float,
    horizon_s: float,
    seed: int,
) -> list[Response]:
    """Each member's response (members: gateway and subscriber ids; contacted: subscriber ids
    that received the campaign's message). Conversions happen within ``horizon_s`` of ``start``."""
    out = []
    for gid, sid in members:
        rng = _rng(seed, "respond", gid, offer)
        reached = sid in contacted
        p = propensity(gid, offer, seed)
        converted = rng.random() < (p.contacted if reached else p.base)
        opted = reached and not converted and rng.random() < OPT_OUT
        out.append(
            Response(gid, sid, offer, reached, converted, opted, start + rng.uniform(60, horizon_s), p)
        )
    return out


def outcome_rows(responses: Iterable[Response], plans: Mapping[str, int]) -> list[dict[str, str]]:
    """The CRM's outcome export (``homescope-collector import-outcomes``) for these responses."""
    rows = []
    for r in responses:
        if r.converted:
            plan = r.offer == "plan_upgrade"
            rows.append({"subscriber_id": r.subscriber_id, "kind": "plan_change" if plan else "order",
                         "offer_id": r.offer, "at": f"{r.at:.0f}",
                         "plan_down_mbps": str(2 * plans.get(r.gateway_id, 100)) if plan else ""})  # fmt: skip
        elif r.opted_out:
            rows.append({"subscriber_id": r.subscriber_id, "kind": "opt_out", "offer_id": "", "at": f"{r.at:.0f}",
                         "plan_down_mbps": ""})  # fmt: skip
    return rows


#: Categories the video package's premium catalogue is watched in.
VIDEO = ("video", "short_video", "live_streaming")


def after_purchase(spec: HomeSpec, offer: str) -> HomeSpec:
    """The home once it bought ``offer``: mesh nodes and good Wi-Fi, a doubled plan, more video
    watched, or a faster path to the internet."""
    if offer in ("mesh", "fttr"):
        nodes = spec.mesh_nodes or [f"02:ae:5e:{n:02x}:{len(spec.gateway_id) % 256:02x}:01" for n in (1, 2)]
        devices = [
            replace(d, signal=max(d.signal, -58.0), ap=nodes[d.index % len(nodes)])
            if d.medium != "wired"
            else d
            for d in spec.devices
        ]
        radios = {band: (min(u, 30.0), min(i, 8.0)) for band, (u, i) in spec.radios.items()}
        return replace(spec, mesh_nodes=list(nodes), devices=devices, wifi="good", radios=radios)
    if offer == "plan_upgrade":
        return replace(spec, plan_mbps=2 * spec.plan_mbps)
    if offer == "video_package":
        habits = [
            replace(h, minutes=h.minutes * 1.5) if h.activity.category in VIDEO else h for h in spec.habits
        ]
        return replace(spec, habits=habits)
    if offer == "acceleration":
        return replace(spec, delay_ms=min(spec.delay_ms, 12.0), jitter_ms=min(spec.jitter_ms, 2.0),
                       loss_pct=min(spec.loss_pct, 0.2))  # fmt: skip
    return spec


def write_truth(path: str | Path, responses: Iterable[Response]) -> None:
    """The campaign's ground truth beside the fleet's: per member, the hidden propensity, whether
    the message reached it, and what it did (``responses.json``)."""
    doc = [asdict(r) for r in responses]
    Path(path).write_text(json.dumps({"responses": doc}, separators=(",", ":")) + "\n", encoding="utf-8")
