"""Home profiles on PostgreSQL only: what the shared database adds to the conformance suite
(claims that never wait, ids ordered as Python orders them whatever the locale, the commands)."""

from __future__ import annotations

import asyncio
import json
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.cli import main
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.store.base import Batch, StoreError, drain_folds, insights
from collector.store.postgres_days import PostgresDayReader
from tests.collector.profiles.builders import MONDAY, as_of, week
from tests.collector.profiles.stores import open_profile_store, put_days
from tests.collector.profiles.test_evaluate import gamer
from tests.collector.store.test_folding import reports
from tests.collector.store.test_insights_conformance import folded_windows, result
from tests.pg import Postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def icu_url(postgres_server: Postgres) -> Iterator[str]:
    """A database whose default collation is ICU English (``gw_a`` < ``gw-A`` < ``gw-b`` < ``gw-B``)."""
    if postgres_server.admin_url is None:
        pytest.skip(postgres_server.skip_reason)
    name = f"hs_test_icu_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.admin_url, autocommit=True) as conn:
        try:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        except psycopg.Error as exc:
            pytest.skip(f"no ICU collations on this server: {exc}")
    url = postgres_server.admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    postgres_server.drop(url)


async def test_ids_are_ordered_as_python_orders_them_whatever_the_locale(icu_url: str) -> None:
    # evaluation chunks are ranges of Python-sorted ids: a locale order would skip or repeat homes
    store = await open_profile_store(icu_url)
    try:
        s = insights(store)
        ids = ["gw-B", "gw_a", "gw-b", "gw-A", "gw-a"]
        for gid in ids:
            await put_days(store, gid, gamer(week()))
        assert await s.home_ids(MONDAY) == sorted(ids)
        rows = await s.home_day_texts("gw-B", "gw-b", MONDAY, MONDAY)
        assert [g for g, _, _ in rows] == ["gw-B", "gw-a", "gw-b"]
        assert [g for g, _, _ in s.day_reader()("gw-B", "gw-b", MONDAY, MONDAY)] == ["gw-B", "gw-a", "gw-b"]
        report = await evaluate(s, load_config(), as_of=as_of(week()), workers=1, chunk_homes=2)
        assert report.homes == 5 and report.by_rule == {"heavy_gamer": 5}
        await s.upsert_subscribers(
            [{"gateway_id": g, "subscriber_id": g, "plan_down_mbps": 1.0, "area": g.upper()} for g in ids]
        )
        assert [h["gateway_id"] for h in (await s.homes())["homes"]] == sorted(ids)
        assert (await s.area_names())["area"] == sorted({g.upper() for g in ids})
    finally:
        await store.close()


async def test_a_claim_never_waits_for_rows_another_folder_holds(postgres_url: str) -> None:
    store = await open_profile_store(postgres_url)
    try:
        s = insights(store)
        await store.write_batch(Batch(reports("pg-lock", 4), [], []))
        async with await psycopg.AsyncConnection.connect(postgres_url) as other:
            # another folder has claimed all four and not committed yet
            await other.execute("SELECT * FROM home_fold_queue FOR UPDATE")
            assert await asyncio.wait_for(s.fold_pending(), 5) == 4  # its own: skipped, not awaited
            assert await asyncio.wait_for(s.fold_pending(), 5) == 0  # and none from the table
            assert await s.pending_folds() == 4
            await other.rollback()  # that folder died: its rows are back for anyone
        assert await drain_folds(s) == 4
        assert await folded_windows(store) == {"pg-lock": 4} and await s.pending_folds() == 0
    finally:
        await store.close()


async def test_concurrent_saves_of_the_same_homes_write_history_once(postgres_url: str) -> None:
    # two collectors' schedules evaluating the same homes at once: saves are serialised
    a, b = await open_profile_store(postgres_url), await open_profile_store(postgres_url)
    try:
        rows = [result(f"gw-{i}", "heavy_gamer") for i in range(50)]
        homes = [r["gateway_id"] for r in rows]
        counts = await asyncio.gather(
            insights(a).save_results(rows, 100.0, homes), insights(b).save_results(rows, 100.0, homes)
        )
        assert sorted(c["appeared"] for c in counts) == [0, 50]
        assert len(await insights(a).result_history("gw-7")) == 1
    finally:
        await a.close()
        await b.close()


def test_the_commands_work_on_postgresql(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fill() -> None:
        store = await open_profile_store(postgres_url)
        try:
            await put_days(store, "gw-a", gamer(week()))
            await store.write_batch(Batch(reports("gw-b", 3), [], []))  # queued: the command folds it first
        finally:
            await store.close()

    asyncio.run(fill())
    csv = tmp_path / "crm.csv"
    csv.write_text("gateway_id,subscriber_id,plan_down_mbps,area\ngw-a,S1,300,north\ngw-b,S2,x,\n")
    assert main(["import-subscribers", str(csv), "--db", postgres_url]) == 1
    assert "imported 1 subscribers; 1 bad rows skipped" in capsys.readouterr().out
    assert main(["evaluate", "--db", postgres_url, "--as-of", str(as_of(week())), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["homes"] == 1 and report["by_rule"] == {"heavy_gamer": 1} and report["kind"] == "full"

    async def read() -> dict[str, Any]:
        store = await open_profile_store(postgres_url)
        try:
            s = insights(store)
            return {"pending": await s.pending_folds(), "homes": await s.homes(area="north")}
        finally:
            await store.close()

    found = asyncio.run(read())
    assert found["pending"] == 0 and [h["gateway_id"] for h in found["homes"]["homes"]] == ["gw-a"]


def test_a_reader_failure_survives_the_trip_back_from_a_worker_process(postgres_url: str) -> None:
    reader = pickle.loads(pickle.dumps(PostgresDayReader(postgres_url.rsplit("/", 1)[0] + "/hs_no_such_db")))
    assert "hs_no_such_db" not in repr(reader)  # the URL (and any password in it) stays out of logs
    with pytest.raises(StoreError) as caught:
        reader("a", "z", 0, 1)
    back = pickle.loads(pickle.dumps(caught.value))  # as a ProcessPoolExecutor sends it to the parent
    assert isinstance(back, StoreError) and str(back) == str(caught.value) and back.transient
    assert "hs_no_such_db" in str(back)


async def _stored_meanwhile(postgres_url: str, gateway_id: str, repeat: bool) -> tuple[list[Any], Any]:
    """A batch whose second report another collector's transaction stores meanwhile (committed
    while our copy waits on it); ``repeat``: the batch holds its first report twice."""
    from collector.store import open_store

    store = open_store(postgres_url)
    await store.open()
    batch = reports(gateway_id, 3)
    sent = [*batch, batch[0]] if repeat else batch
    other = await psycopg.AsyncConnection.connect(postgres_url)
    try:
        await other.execute(
            "INSERT INTO reports VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", batch[1].row()
        )
        ours = asyncio.create_task(store.write_batch(Batch(sent, [], [])))
        await asyncio.sleep(1.0)
        assert not ours.done()  # the copy waits on the other's uncommitted key
        await other.commit()
        outcome = await asyncio.wait_for(asyncio.gather(ours, return_exceptions=True), 30)
        return batch, (store, outcome[0])
    except BaseException:
        await store.close()
        raise
    finally:
        await other.close()


async def test_a_report_another_collector_stores_meanwhile_is_a_duplicate(postgres_url: str) -> None:
    """Raw rows are copied in a savepoint: a key committed meanwhile by another collector
    undoes the copy alone, and the others are stored after a lookup, in the same transaction."""
    batch, (store, result) = await _stored_meanwhile(postgres_url, "gw-race", repeat=False)
    try:
        assert not isinstance(result, BaseException)
        assert len(result.inserted) == 2 and result.duplicates == [
            (batch[1].gateway_id, batch[1].epoch, batch[1].seq)
        ]
        gateway = await store.gateway("gw-race")
        assert gateway is not None and gateway["reports"] == 2  # the other's raw row only
    finally:
        await store.close()


async def test_a_report_stored_meanwhile_after_the_lookup_fails_the_batch_as_transient(
    postgres_url: str,
) -> None:
    """A batch that takes the lookup first (a key twice in it) and meets a key committed after
    the lookup rolls back as transient, and the retry finds it stored."""
    batch, (store, failed) = await _stored_meanwhile(postgres_url, "gw-race-2", repeat=True)
    try:
        assert isinstance(failed, StoreError)
        assert failed.transient and "another collector" in str(failed)
        retry = await store.write_batch(Batch(batch, [], []))
        assert len(retry.inserted) == 2 and retry.duplicates == [
            (batch[1].gateway_id, batch[1].epoch, batch[1].seq)
        ]
        gateway = await store.gateway("gw-race-2")
        assert gateway is not None and gateway["reports"] == 2  # the rolled-back attempt counted nothing
    finally:
        await store.close()
