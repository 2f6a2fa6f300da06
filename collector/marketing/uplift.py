"""Uplift of a campaign: conversion in treatment minus conversion in control, with a 95%
confidence interval by Newcombe's hybrid score method (method 10 of Newcombe 1998, from two
Wilson score intervals): it stays inside [-1, 1] and behaves with small or zero counts,
where the Wald interval collapses."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Uplift:
    """Conversions per arm, the difference of proportions and its 95% interval."""

    treated: int
    treated_converted: int
    control: int
    control_converted: int
    treatment_rate: float | None
    control_rate: float | None
    uplift: float | None
    ci95: tuple[float, float] | None
    method: str = "newcombe-wilson"

    def to_dict(self) -> dict[str, object]:
        """The figures as JSON-ready values (rates rounded to 5 places)."""
        return {
            "treated": self.treated, "treated_converted": self.treated_converted, "control": self.control,
            "control_converted": self.control_converted, "treatment_rate": _r(self.treatment_rate),
            "control_rate": _r(self.control_rate), "uplift": _r(self.uplift),
            "ci95": None if self.ci95 is None else [round(self.ci95[0], 5), round(self.ci95[1], 5)],
            "method": self.method,
        }  # fmt: skip


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 5)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def uplift(treated: int, treated_converted: int, control: int, control_converted: int) -> Uplift:
    """Treatment rate minus control rate, with Newcombe's 95% interval (``None`` for an empty arm)."""
    if treated <= 0 or control <= 0:
        rt = treated_converted / treated if treated else None
        rc = control_converted / control if control else None
        return Uplift(treated, treated_converted, control, control_converted, rt, rc, None, None)
    p1, p2 = treated_converted / treated, control_converted / control
    l1, u1 = wilson(treated_converted, treated)
    l2, u2 = wilson(control_converted, control)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Uplift(treated, treated_converted, control, control_converted, p1, p2, d, (low, high))
