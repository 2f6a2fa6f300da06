"""One collector of several leads (``collector/leadership.py``): the scheduled evaluation runs once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector import service as service_module
from collector.leadership import Leadership
from collector.service import Service
from collector.settings import Settings
from collector.store import Store, StoreError, open_store
from collector.store.leases import Leases
from tests.broker import Broker

#: Long enough that a loaded CI machine renews in time (a renewal is due every TTL / 3).
TTL = 1.5


@pytest.fixture(params=["sqlite", "postgresql"])
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores opened on one URL, as two collectors sharing it."""
    url = (
        f"sqlite:///{tmp_path}/shared.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    first, second = open_store(url), open_store(url)
    await first.open()
    await second.open()
    yield first, second
    await first.close()
    await second.close()


async def watch(sides: list[Leadership], seconds: float) -> list[int]:
    """How many lead at each 20 ms sample."""
    leading: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        leading.append(sum(side.held for side in sides))
        await asyncio.sleep(0.02)
    return leading


async def test_two_collectors_never_lead_at_once_and_the_other_takes_over(
    shared: tuple[Store, Store],
) -> None:
    sides = [Leadership(Leases(s.db), "evaluation", f"collector-{i}", TTL) for i, s in enumerate(shared)]
    tasks = [asyncio.create_task(side.run()) for side in sides]
    try:
        leading = await watch(sides, 2.0)
        assert max(leading) == 1, "two collectors led at once"
        assert sum(leading[10:]) >= 0.8 * len(leading[10:])  # and someone leads nearly all along
        first = next(i for i, side in enumerate(sides) if side.held)
        other = 1 - first
        # the leader stops cleanly: it releases, and the other leads within one of its steps
        tasks[first].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[first]
        started = time.monotonic()
        while not sides[other].held:
            assert time.monotonic() - started < TTL, "the other collector did not take over"
            await asyncio.sleep(0.02)
        assert sides[other].lease is not None and sides[other].lease.term == 2
        assert not sides[first].held
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_leader_that_dies_without_releasing_is_replaced_after_the_ttl(
    shared: tuple[Store, Store],
) -> None:
    sides = [Leadership(Leases(s.db), "evaluation", f"collector-{i}", TTL) for i, s in enumerate(shared)]
    assert await sides[0].step() and not await sides[1].step()
    dead_at = time.monotonic()  # side 0 never asks again (killed): its lease runs out
    while not await sides[1].step():
        assert time.monotonic() - dead_at < 2 * TTL, "no takeover after the ttl"
        await asyncio.sleep(TTL / 6)
    assert time.monotonic() - dead_at >= TTL * 0.75  # not before the dead one's lease expired


async def test_a_leader_that_loses_the_store_stops_leading_before_its_lease_expires(
    shared: tuple[Store, Store],
) -> None:
    leases = Leases(shared[0].db)
    side = Leadership(leases, "evaluation", "collector-0", TTL)
    assert await side.step()

    async def failing(name: str, owner: str, ttl_s: float) -> None:
        raise StoreError("database is locked", transient=True)

    leases.acquire = failing  # type: ignore[method-assign]
    assert await side.step()  # one failed renewal: still leads on what is left of the lease
    await asyncio.sleep(1.1)
    assert not await side.step()  # a third of the ttl left: it stops before anyone may take over
    assert side.lease is not None and time.time() < side.lease.expires_at


@pytest.mark.timeout(60)
async def test_of_two_services_on_one_store_only_the_leader_evaluates(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "profiles.toml"
    config.write_text("[schedule]\nevaluate_every_s = 0.1\n")
    monkeypatch.setenv("HOMESCOPE_PROFILES_CONFIG", str(config))
    monkeypatch.setattr(service_module, "EVALUATION_LEASE_TTL_S", 2.0)
    services = [
        Service(
            Settings(
                db=f"sqlite:///{tmp_path}/shared.db",
                mqtt=broker.url,
                http="127.0.0.1:0",
                users="op:pw-long-enough-4-tests",
                mqtt_client_id=f"lead-{i}-{tmp_path.name}",
                store_writer="thread",
            )
        )
        for i in range(2)
    ]
    for svc in services:
        await svc.start()
    try:
        await asyncio.sleep(1.5)
        runs = [svc.evaluations for svc in services]
        assert sorted(runs)[0] == 0 and sorted(runs)[1] >= 3, runs
        leader = runs.index(max(runs))
        assert [bool(svc.health()["leads"]) for svc in services] == [i == leader for i in range(2)]
        await services[leader].stop()
        before = services[1 - leader].evaluations
        await asyncio.sleep(1.5)
        assert services[1 - leader].evaluations > before  # the other took over the schedule
    finally:
        for svc in services:
            with contextlib.suppress(Exception):
                await svc.stop()
