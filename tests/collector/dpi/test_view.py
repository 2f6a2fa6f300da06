"""The unclassified-domains view end to end on both stores: reports name a domain -> the view lists
it once enough homes sent it -> the operator assigns a category -> the next report's bytes of that
domain count under it in the home's day; rarer domains stay hidden; erase and retention reach the
per-home memberships."""

from __future__ import annotations

import pytest

from collector.dpi import rules, unclassified
from collector.privacy import retention
from collector.privacy.erase import erase
from collector.privacy.keys import home_pseudonym
from collector.settings import Settings
from collector.store import Store
from tests.collector.dpi.fleet import KEY, MONDAY, WEB_DOWN, WEEK, category_down, message, send

MIN_HOMES = 3


@pytest.fixture
def keyed(store: Store) -> Store:
    store.folds.state.home_key = KEY
    return store


async def test_a_domain_shows_at_min_homes_and_a_rule_classifies_the_next_reports(keyed: Store) -> None:
    store = keyed
    # example.org: MIN_HOMES homes; two.example: one home fewer; rare.example: one home
    await send(store, [message(f"gw-{i}", 1, {"example.org": 400_000}) for i in range(MIN_HOMES)]
               + [message(f"gw-{i}", 2, {"two.example": 50_000}) for i in range(MIN_HOMES - 1)]
               + [message("gw-0", 3, {"rare.example": 7_000})])  # fmt: skip
    listed = await unclassified.listing(store.db, WEEK, MIN_HOMES)
    assert listed == [
        {"domain": "example.org", "homes": MIN_HOMES, "bytes": MIN_HOMES * 401_000, "category": None}
    ]
    assert await unclassified.hidden(store.db, WEEK, MIN_HOMES) == 2  # counted, never named
    assert await unclassified.weeks(store.db) == [WEEK]
    # before any rule: the agent's web bytes stay web
    assert await category_down(store, "gw-0", "video") == 0
    assert await category_down(store, "gw-0", "web") == 3 * WEB_DOWN

    await rules.assign(store.db, "example.org", "video", actor="analyst-1")
    assert (await unclassified.listing(store.db, WEEK, MIN_HOMES))[0]["category"] == "video"
    await send(store, [message("gw-0", 4, {"example.org": 300_000, "rare.example": 1_000})])
    assert await category_down(store, "gw-0", "video") == 300_000  # the next report's example.org bytes
    assert await category_down(store, "gw-0", "web") == 3 * WEB_DOWN + WEB_DOWN - 300_000
    assert await category_down(store, "gw-1", "video") == 0  # folded before the rule: as it was
    # the table still counts the domain (the view shows it with its category)
    assert (await unclassified.listing(store.db, WEEK, MIN_HOMES))[0][
        "bytes"
    ] == MIN_HOMES * 401_000 + 301_000

    await rules.remove(store.db, "example.org")
    await send(store, [message("gw-0", 5, {"example.org": 300_000})])
    assert await category_down(store, "gw-0", "video") == 300_000  # no rule any more: web again


async def test_rows_name_homes_only_by_pseudonym_and_erase_removes_them(keyed: Store) -> None:
    store = keyed
    await send(
        store, [message(f"gw-{i}", 1, {"example.org": 1000, "solo.example": 5}) for i in range(MIN_HOMES)]
    )
    rows = await store.db.fetch("SELECT week, domain, home FROM dpi_unclassified")
    assert {r["home"] for r in rows} == {home_pseudonym(KEY, f"gw-{i}") for i in range(MIN_HOMES)}
    assert not any("gw-" in str(v) for r in rows for v in r.values())
    done = await erase(store.db, "gateway", "gw-0", key=KEY, actor="test")
    assert done.rows["dpi_unclassified"] == 2
    assert (await unclassified.listing(store.db, WEEK, 2))[0]["homes"] == MIN_HOMES - 1
    assert (await unclassified.listing(store.db, WEEK, MIN_HOMES)) == []  # now under the minimum


async def test_retention_keeps_the_stated_weeks(keyed: Store) -> None:
    store = keyed
    old_start = MONDAY - 9 * 7 * 86400  # nine weeks earlier: past the 8 kept
    await send(store, [message("gw-0", 1, {"old.example": 10}, start=old_start),
                       message("gw-0", 2, {"new.example": 10})])  # fmt: skip
    settings = Settings(retention_unclassified_weeks=8)
    deleted = await retention.retain(store.db, settings, MONDAY + 3 * 86400)
    assert deleted["dpi_unclassified"] == 1
    assert await unclassified.weeks(store.db) == [WEEK]


async def test_without_a_privacy_key_nothing_is_recorded_but_rules_still_count(store: Store) -> None:
    await rules.assign(store.db, "example.org", "game", actor="t")
    await send(store, [message("gw-nokey", 1, {"example.org": 2000})])
    assert await store.db.fetch("SELECT * FROM dpi_unclassified") == []
    assert await category_down(store, "gw-nokey", "game") == 2000
