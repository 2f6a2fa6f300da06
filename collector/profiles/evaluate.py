"""Evaluation: day rollups -> profiles -> rules -> stored results with history.

A *full* evaluation (``homescope-collector evaluate``) recomputes every home with data in
the longest window; an *incremental* one (the collector's schedule, after each window)
only the homes whose rollups changed since the last run. Large runs go to worker
processes that read their own chunks of raw JSON (parsing and profile building are
CPU-bound and the GIL would serialise them); results are saved in one transaction.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import logging
import os
import time
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from typing import Any

import msgspec

from collector.profiles.config import WINDOWS, ProfilesConfig
from collector.profiles.profile import Profile, as_of_day, build_profile, window_days
from collector.profiles.rules import plan_rules, result_rows, rules, windows_needed
from collector.store.base import DayReader, InsightsStore

log = logging.getLogger(__name__)

HomeRows = list[tuple[int, dict[str, Any]]]
#: Below this many homes an evaluation runs in-process: workers cost more to start than they save.
POOL_MIN_HOMES = 4000
_decode = msgspec.json.Decoder().decode
#: Evidence as the stores write it: compact JSON (``json.dumps(value, separators=(",", ":"))``).
evidence_text = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class EvaluationReport:
    """What one evaluation did, and how long each part took."""

    kind: str
    as_of: int
    homes: int = 0
    results: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    #: CPU seconds (user + system) of the evaluation: this process's and its workers'
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def profiles_for(
    gateway_id: str,
    days: HomeRows,
    subscriber: dict[str, Any] | None,
    config: ProfilesConfig,
    as_of: int,
    windows: set[str],
    baseline: dict[str, Any] | None = None,
) -> dict[str, Profile]:
    """The home's profile for each window; windows covering the same days share one build.

    ``baseline``: the installer's record of the home at install (``wifi_score``,
    ``recorded_at``), put in each profile's ``extra["install"]`` for the rules that compare
    against it; only one recorded before ``as_of`` counts (a later install is not history yet)."""
    out: dict[str, Profile] = {}
    built: dict[tuple[int, ...], Profile] = {}
    first_known = min((d for d, _ in days), default=None)
    for window in sorted(windows, key=WINDOWS.__getitem__):
        first, last = window_days(window, as_of)
        # same days and the same start of observation give the same profile
        key = (
            max(first, first_known if first_known is not None else first),
            *(d for d, _ in days if first <= d <= last),
        )
        found = built.get(key)
        if found is None:
            found = built[key] = build_profile(gateway_id, days, subscriber, config, as_of, window)
        out[window] = found if found.window == window else found.for_window(window)
    if baseline is not None and baseline["recorded_at"] <= as_of:
        for profile in out.values():
            profile.extra["install"] = baseline
    return out


def summary_of(profile: Profile, config: ProfilesConfig) -> dict[str, Any]:
    """The few figures kept per home for lists and the area view."""
    return _summary(profile, _competitor_share(config))


def _competitor_share(config: ProfilesConfig) -> float:
    return float(config.rule("churn_risk").get("competitor_scan_share", 0.3))


def _summary(profile: Profile, share: float) -> dict[str, Any]:
    strongest = profile.competitor.strongest
    return {
        "window": profile.window,
        "wifi_score": profile.quality.wifi_score,
        "devices": profile.terminals.count,
        "gb_per_day": profile.traffic.gb_per_day,
        "online_hours": profile.activity.online_hours_per_day,
        "competitor": bool(strongest and strongest["strong_share"] >= share),
        "plan_mbps": profile.plan.down_mbps,
    }


def evaluate_homes(
    homes: Iterable[tuple[str, HomeRows]],
    subscribers: dict[str, dict[str, Any]],
    config: ProfilesConfig,
    as_of: int,
    baselines: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Results (as store dicts) and summaries of some homes: pure, so it runs in any process.

    ``homes`` may be a generator: each home's rows are dropped once it is evaluated.
    """
    windows = windows_needed(config)
    plan = plan_rules(config)
    summary_window = "7d" if "7d" in windows else min(windows, key=WINDOWS.__getitem__)
    share = _competitor_share(config)
    results: list[dict[str, Any]] = []
    summaries: dict[str, dict[str, Any]] = {}
    for gid, days in homes:
        profiles = profiles_for(
            gid, days, subscribers.get(gid), config, as_of, windows, (baselines or {}).get(gid)
        )
        results += result_rows(profiles, plan)
        summaries[gid] = _summary(profiles[summary_window], share)
    return results, summaries


def parse_day(text: str) -> dict[str, Any]:
    """A stored core rollup, parsed.

    msgspec parses these arrays of integers three times faster than ``json`` (parsing was
    a third of an evaluation) into the same dicts and lists; ``json`` still takes what
    msgspec refuses (NaN, lone surrogates) so every stored row reads as it always did.
    """
    try:
        data: dict[str, Any] = _decode(text)
    except msgspec.MsgspecError:
        data = json.loads(text)
    return data


def evaluate_texts(
    ids: list[str],
    rows: list[tuple[str, int, str]],
    subscribers: dict[str, dict[str, Any]],
    config: ProfilesConfig,
    as_of: int,
    modules: tuple[str, ...] = (),
    baselines: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """:func:`evaluate_homes` over raw rows (a worker process's entry point)."""
    for module in modules:
        importlib.import_module(module)  # registers rules defined outside homescope
    texts: dict[str, list[tuple[int, str]]] = {}
    for gid, day, text in rows:
        found = texts.get(gid)
        if found is None:
            found = texts[gid] = []
        found.append((day, text))
    # each home is parsed just before it is evaluated, so its rows are freed while still in cache
    homes = ((gid, [(day, parse_day(text)) for day, text in texts.get(gid, ())]) for gid in ids)
    # Rollups are trees without cycles: the cyclic collector would only rescan the thousands
    # of dicts parsed so far, again and again (it doubles the time of this function).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return evaluate_homes(homes, subscribers, config, as_of, baselines)
    finally:
        if enabled:
            gc.enable()


def evaluate_range(
    reader: DayReader,
    ids: list[str],
    since_day: int,
    until_day: int,
    subscribers: dict[str, dict[str, Any]],
    config: ProfilesConfig,
    as_of: int,
    modules: tuple[str, ...],
    by_id: bool,
    baselines: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Read a chunk of homes (the range ``ids[0]..ids[-1]``, or exactly ``ids``) and evaluate it.

    A worker process's entry point: it reads the rollups itself, so they never pass through
    the parent.
    """
    rows = reader(ids[0], ids[-1], since_day, until_day, ids if by_id else None)
    results, summaries = evaluate_texts(ids, rows, subscribers, config, as_of, modules, baselines)
    for r in results:
        # encoded here, in parallel, rather than in the parent's one writing transaction
        # (stores take evidence as a dict or as its compact JSON text)
        r["evidence"] = evidence_text(r["evidence"])
    return results, summaries


def _evaluate_chunk(*args: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], float]:
    # evaluate_range and the CPU it took in whichever process ran it (a worker's CPU is not
    # the parent's, and forkserver workers are not even its children)
    cpu = time.process_time()
    results, summaries = evaluate_range(*args)
    return results, summaries, time.process_time() - cpu


def _pool(workers: int) -> Executor:
    # forkserver: workers start clean, never inheriting the collector's threads and locks
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("forkserver"))


async def evaluate(
    store: InsightsStore,
    config: ProfilesConfig,
    *,
    as_of: int | None = None,
    gateway_ids: list[str] | None = None,
    workers: int | None = None,
    chunk_homes: int = 2000,
    kind: str = "full",
) -> EvaluationReport:
    """Evaluate all homes (or ``gateway_ids``) as of ``as_of`` (default: now) and store the results."""
    started = time.time()
    cpu_started = time.process_time()
    as_of = int(as_of if as_of is not None else started)
    report = EvaluationReport(kind, as_of)
    last_day = as_of_day(as_of)
    since = last_day - max(WINDOWS[w] for w in windows_needed(config)) + 1
    ids = sorted(gateway_ids) if gateway_ids is not None else await store.home_ids(since)
    subscribers = await store.subscribers(ids if len(ids) < 20_000 else None)
    baselines = await store.install_baselines(ids if len(ids) < 20_000 else None)
    report.phases["read_ids"] = round(time.time() - started, 3)
    modules = tuple(sorted({r.fn.__module__ for r in rules().values()}))
    workers = workers if workers is not None else (os.cpu_count() or 1)
    use_pool = workers > 1 and len(ids) >= POOL_MIN_HOMES
    loop = asyncio.get_running_loop()
    reader = store.day_reader()
    chunks = [ids[i : i + chunk_homes] for i in range(0, len(ids), chunk_homes)]
    done: list[tuple[list[dict[str, Any]], dict[str, dict[str, Any]], float] | None] = [None] * len(chunks)
    pool = _pool(workers) if use_pool else None
    try:
        # a few chunks per worker in flight, refilled as soon as any finishes (not in order),
        # so no worker waits behind a slow chunk
        running: dict[asyncio.Future[Any], int] = {}
        queued = iter(enumerate(chunks))
        limit = 2 * max(1, workers)
        while True:
            for index, chunk in queued:
                subs = {g: subscribers[g] for g in chunk if g in subscribers}
                installs = {g: baselines[g] for g in chunk if g in baselines}
                args = (reader, chunk, since, last_day, subs, config, as_of, modules, gateway_ids is not None,
                        installs)  # fmt: skip
                running[loop.run_in_executor(pool, _evaluate_chunk, *args)] = index
                if len(running) >= limit:
                    break
            if not running:
                break
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for fut in finished:
                done[running.pop(fut)] = fut.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    # chunk order, whatever order they finished in: the history is written in the same order
    results: list[dict[str, Any]] = []
    summaries: dict[str, dict[str, Any]] = {}
    worker_cpu = 0.0
    for part in done:
        assert part is not None
        results += part[0]
        summaries.update(part[1])
        worker_cpu += part[2]
    report.phases["evaluate"] = round(time.time() - started - report.phases["read_ids"], 3)
    saving = time.time()
    report.changes = await store.save_results(results, as_of, ids, summaries)
    report.phases["save"] = round(time.time() - saving, 3)
    report.homes, report.results = len(ids), len(results)
    for r in results:
        report.by_rule[r["rule"]] = report.by_rule.get(r["rule"], 0) + 1
    report.seconds = round(time.time() - started, 3)
    # in-process chunks ran on this process's threads: their CPU is already in process_time
    report.cpu_seconds = round(
        time.process_time() - cpu_started + (worker_cpu if pool is not None else 0.0), 3
    )
    await store.record_run(
        {"kind": kind, "started_at": started, "finished_at": time.time(), "as_of": as_of, "homes": report.homes,
         "results": report.results, "seconds": report.seconds}
    )  # fmt: skip
    log.info("evaluated %d homes (%s) in %.1f s: %d results, %s", report.homes, kind, report.seconds,
             report.results, report.changes)  # fmt: skip
    return report


async def evaluate_changed(
    store: InsightsStore, config: ProfilesConfig, as_of: int | None = None
) -> EvaluationReport | None:
    """The incremental evaluation: homes whose rollups changed since the last run started."""
    last = await store.last_run()
    since = float(last["started_at"]) if last else 0.0
    changed = await store.updated_homes(since)
    if not changed:
        return None
    return await evaluate(store, config, as_of=as_of, gateway_ids=changed, kind="incremental")
