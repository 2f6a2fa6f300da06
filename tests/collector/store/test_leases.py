"""Leases (``store/leases.py``) on every backend: one holder at a time, even when collectors race."""

from __future__ import annotations

import asyncio

import pytest

from collector.store import Store
from collector.store.leases import Leases


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_one_holder_until_it_expires_then_a_new_term(store: Store) -> None:
    clock = Clock()
    leases = Leases(store.db, clock)
    a = await leases.acquire("evaluation", "collector-a", 30)
    assert a is not None and (a.owner, a.term, a.expires_at) == ("collector-a", 1, 1_030.0)
    assert await leases.acquire("evaluation", "collector-b", 30) is None  # held
    clock.now = 1_020.0
    again = await leases.acquire("evaluation", "collector-a", 30)  # its own: extended, same term
    assert again is not None and (again.term, again.acquired_at, again.expires_at) == (1, 1_000.0, 1_050.0)
    holder = await leases.holder("evaluation")
    assert holder is not None and holder.owner == "collector-a"
    clock.now = 1_050.0  # expired: anyone may take it, in a new term
    assert await leases.holder("evaluation") is None
    b = await leases.acquire("evaluation", "collector-b", 30)
    assert b is not None and (b.owner, b.term, b.acquired_at) == ("collector-b", 2, 1_050.0)
    assert await leases.renew("evaluation", "collector-a", 30) is None  # a has lost it
    assert await leases.release("evaluation", "collector-a") is False  # and cannot give it up
    renewed = await leases.renew("evaluation", "collector-b", 30)
    assert renewed is not None and renewed.expires_at == 1_080.0
    assert await leases.acquire("reports", "collector-a", 30) is not None  # names are separate


async def test_a_released_lease_is_free_at_once_and_the_term_still_grows(store: Store) -> None:
    clock = Clock()
    leases = Leases(store.db, clock)
    assert await leases.acquire("evaluation", "collector-a", 30) is not None
    assert await leases.release("evaluation", "collector-a") is True
    assert await leases.holder("evaluation") is None
    b = await leases.acquire("evaluation", "collector-b", 30)
    assert b is not None and b.term == 2
    a = None
    clock.now += 31
    a = await leases.acquire("evaluation", "collector-a", 30)
    assert a is not None and a.term == 3  # back to a, but a new term: it held none in between


async def test_an_expired_lease_cannot_be_renewed(store: Store) -> None:
    clock = Clock()
    leases = Leases(store.db, clock)
    assert await leases.acquire("evaluation", "collector-a", 30) is not None
    clock.now += 30
    assert await leases.renew("evaluation", "collector-a", 30) is None


def test_a_lease_needs_an_owner_and_a_positive_ttl() -> None:
    from collector.store.leases import plan_acquire

    with pytest.raises(ValueError, match="owner"):
        plan_acquire("evaluation", "", 0.0, 30)
    with pytest.raises(ValueError, match="ttl"):
        plan_acquire("evaluation", "a", 0.0, 0)


async def test_collectors_racing_for_a_lease_get_exactly_one_holder_each_round(
    two_collectors: tuple[Store, Store],
) -> None:
    clock = Clock()
    sides = [Leases(s.db, clock) for s in two_collectors]
    winners: list[str] = []
    for round_ in range(25):
        clock.now = 1_000.0 + round_ * 31  # each round starts after the last lease expired
        asks = [
            side.acquire("evaluation", f"collector-{i}-{n}-{round_}", 30)
            for n in range(4)
            for i, side in enumerate(sides)
        ]
        got = [lease for lease in await asyncio.gather(*asks) if lease is not None]
        assert len(got) == 1, got
        assert got[0].term == round_ + 1  # every round a new holder, a new term
        winners.append(got[0].owner)
        holder = await sides[1 - int(got[0].owner.split("-")[1])].holder("evaluation")
        assert holder == got[0]  # the other collector sees the same holder
    # Who wins a race is up to the database's scheduling (on PostgreSQL one connection can win all 25), so
    # that both sides can hold it is shown without a race: after the last term expires, the other side takes it.
    last = winners[-1]
    other = 1 - int(last.split("-")[1])
    clock.now += 31
    taken = await sides[other].acquire("evaluation", f"collector-{other}-alone", 30)
    assert taken is not None and taken.term == 26
    assert await sides[1 - other].holder("evaluation") == taken
