"""The random control group: drawn per stratum (area and flag), reproducibly from a seed.

Members of the control group are never contacted; comparing them with the treated ones
is what makes an uplift a measured effect of the campaign rather than of the season.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """An audience member to assign: its gateway, subscriber and stratum key."""

    gateway_id: str
    subscriber_id: str
    stratum: str


@dataclass(frozen=True)
class Assignment:
    """A member's arm: ``treatment`` or ``control``."""

    gateway_id: str
    subscriber_id: str
    stratum: str
    arm: str


def stratum(area: str | None, rules: Iterable[str]) -> str:
    """The stratum of a member: its area and its first rule (sorted)."""
    first = sorted(rules)[:1]
    return f"{area or '-'}|{first[0] if first else '-'}"


def _key(seed: int, text: str) -> bytes:
    return hashlib.sha256(f"{seed}:{text}".encode()).digest()


def assign_arms(candidates: Iterable[Candidate], share: float, seed: int) -> list[Assignment]:
    """Each stratum's control count is ``share`` of it, the fraction rounded at random (seeded),
    so small strata contribute in proportion on average; the same seed gives the same arms."""
    if not 0.0 <= share < 1.0:
        raise ValueError("control share must be from 0 to below 1")
    by_stratum: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_stratum.setdefault(c.stratum, []).append(c)
    out: list[Assignment] = []
    for name in sorted(by_stratum):
        members = sorted(by_stratum[name], key=lambda c: _key(seed, c.gateway_id))
        exact = len(members) * share
        rng = random.Random(_key(seed, "stratum:" + name))
        count = int(exact) + (1 if rng.random() < exact - int(exact) else 0)
        for i, c in enumerate(members):
            out.append(
                Assignment(c.gateway_id, c.subscriber_id, c.stratum, "control" if i < count else "treatment")
            )
    return out
