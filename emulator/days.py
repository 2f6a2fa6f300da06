"""One simulated day of a home: who is away, when the gateway is off, and every session.

A session is one terminal using one application for a while at some rate. Sessions of
one habit never overlap (one person does one thing at a time); sessions of different
habits may. Days are drawn from the home's seed and the day number, so any day can be
drawn again identically.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from emulator.household import HomeSpec

SLOT_S = 900
SLOTS = 96
DAY_S = 86400


@dataclass(frozen=True)
class Session:
    """One terminal on one application for a while."""

    device: int
    category: str
    app: str
    start: int  # seconds of the day
    end: int
    down_kbps: float
    up_kbps: float


@dataclass
class DayPlan:
    """What happens in a home on one UTC day."""

    day: int
    by_slot: list[list[Session]]
    away: dict[int, tuple[int, int]]  # device index -> (from, to) seconds of the day
    off: list[tuple[int, int]]  # the gateway is powered off in these ranges

    def present(self, device: int, second: int) -> bool:
        """Whether a terminal is at home at a second of the day."""
        span = self.away.get(device)
        return span is None or not span[0] <= second < span[1]

    def powered(self, second: int) -> bool:
        """Whether the gateway is on at a second of the day."""
        return not any(a <= second < b for a, b in self.off)


def is_weekday(day: int) -> bool:
    """Monday to Friday (1970-01-01, day 0, was a Thursday)."""
    return (day + 3) % 7 < 5


def plan_day(
    spec: HomeSpec, seed: int, day: int, progress: float, outage: tuple[int, int] | None = None
) -> DayPlan:
    """Draw day ``day``; ``progress`` (0..1) is how far into the simulated span it lies."""
    rng = random.Random(f"day:{seed}:{day}")  # a string seed is hashed: neighbouring days draw apart
    weekday = is_weekday(day)
    away: dict[int, tuple[int, int]] = {}
    if weekday and not spec.inactive:
        for d in spec.devices:
            if d.mobile and rng.random() < 0.5:
                leave = rng.randint(7 * 3600 + 1800, 9 * 3600)
                away[d.index] = (leave, leave + rng.randint(7 * 3600, 9 * 3600))
    off: list[tuple[int, int]] = []
    factor = 1.0
    if spec.drift:
        factor = 1.0 - 0.8 * progress
        if progress >= 0.35 and rng.random() < 0.6:
            hours = rng.uniform(8, 20)
            start = rng.randint(0, int((24 - hours) * 3600))
            off.append((start, start + int(hours * 3600)))
    if outage is not None:
        off.append(outage)
    by_slot: list[list[Session]] = [[] for _ in range(SLOTS)]
    for habit in spec.habits:
        act = habit.activity
        if act.weekdays and not weekday:
            continue
        if rng.random() > act.share_of_days:
            continue
        remaining = habit.minutes * rng.uniform(0.75, 1.25) * factor
        planned: list[tuple[int, int]] = []
        while remaining >= 1:
            minutes = min(remaining, rng.uniform(*act.session))
            remaining -= minutes
            start = rng.choice(act.hours) * 3600 + rng.randrange(3600)
            planned.append((start, int(minutes * 60)))
        free_at = 0
        for wanted, length in sorted(planned):
            start = max(wanted, free_at)
            end = min(DAY_S, start + length)
            if end - start < 60:
                continue
            free_at = end
            users = [i for i in habit.devices if i not in away or not away[i][0] <= start < away[i][1]]
            session = Session(
                rng.choice(users or habit.devices),
                act.category,
                rng.choice(habit.apps),
                start,
                end,
                habit.down_kbps * rng.uniform(0.8, 1.2),
                habit.up_kbps * rng.uniform(0.8, 1.2),
            )
            for slot in range(start // SLOT_S, (end - 1) // SLOT_S + 1):
                by_slot[slot].append(session)
    return DayPlan(day, by_slot, away, off)
