"""CPU of the store writer process per report, phase by phase, and what it stored (a digest).

    python bench/writer.py --json                       # this tree, both backends
    python bench/writer.py --compare /work/main --json  # old tree vs this one, alternating

Replays the emulator's reports (bench/ingest.py's ``make_reports``) as the writer child gets
them: triaged in advance (not timed, that is the parent's work), each batch of ``--batch``
pickled as ``WriterProcess.write_batch`` sends it, then in the timed loop unpickled, decoded
(``_message``) and committed (``store.write_batch``), one batch after the other. All figures
are CPU time of this process per report (the PostgreSQL server's work is not in them):
``total_us`` of all its threads (``time.process_time``, SQLite's writer thread included),
``unpickle_us`` and ``decode_us`` of the thread that ran them, ``checkpoint_us`` one PASSIVE
checkpoint of the WAL after the replay (the store's checkpoint thread is held off meanwhile, so
every round copies the same pages), ``write_us`` the rest. ``parent.send_us`` is the parent's
side, for the record: building and pickling the requests.

``--breakdown`` runs one more, instrumented pass that splits ``write_batch`` into its SQL
statements (SQLite: a timing proxy around the writer's connection; PostgreSQL: psycopg's
``execute``/``executemany``/``COPY``) and the Python around them (the plan, state decoding).

``--compare TREE`` runs each round in a child process, alternating TREE's code and this
tree's (``--tree``), and prints the medians of both. ``digest`` is a hash of every table's
rows after the replay (``schema_migrations`` aside): equal digests, equal stored rows.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parents[1]
#: The windows' clock: fixed, so every round (and every tree) replays the same reports.
NOW = 1_796_650_000
#: Each report's received_at: fixed too, for the digest.
RECEIVED_AT = 1_796_650_100.0


def _tree_from_argv() -> Path:
    if "--tree" in sys.argv:
        return Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()
    return HERE


sys.path.insert(0, str(_tree_from_argv()))
sys.path.insert(1, str(HERE))  # bench.ingest from this tree if the other has none

#: The parent's side, for the record: building and pickling what it sends (not the child's CPU).
PARENT: dict[str, float] = {}
PHASES = ("unpickle_us", "decode_us", "write_us", "checkpoint_us", "total_us")


def build(n: int, homes: int, batch: int) -> list[bytes]:
    """The requests the parent sends, pickled as ``Connection.send`` pickles them."""
    from multiprocessing.reduction import ForkingPickler

    from bench import ingest
    from collector.ingest import writer
    from collector.ingest.triage import Incoming, triage
    from collector.store import SpooledMessage

    real = ingest.time.time
    ingest.time.time = lambda: float(NOW)  # type: ignore[assignment]
    try:
        reports = ingest.make_reports(n, homes)
    finally:
        ingest.time.time = real  # type: ignore[assignment]
    messages = []
    for i, (topic, frame, _) in enumerate(reports):
        out = triage(Incoming(topic, frame, 1, 1, RECEIVED_AT + i / 1000)).out
        assert isinstance(out, SpooledMessage)
        messages.append(out)
    # what WriterProcess.write_batch sends (before _rows: each report's row and its msgpack)
    rows_of = getattr(writer, "_rows", None) or (lambda ms: [(m.row(), m.packed) for m in ms])
    requests = []
    started = time.process_time()
    for start in range(0, len(messages), batch):
        rows = rows_of(messages[start : start + batch])
        requests.append(bytes(ForkingPickler.dumps((rows, [], []))))
    PARENT["send_us"] = round((time.process_time() - started) / len(messages) * 1e6, 2)
    return requests


def pg_database() -> tuple[str, str] | None:
    import psycopg

    admin = os.environ.get("HOMESCOPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"hs_bench_w_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        print(f"PostgreSQL not available for the bench: {exc}", file=sys.stderr)
        return None
    return admin, admin.rsplit("/", 1)[0] + "/" + name


def drop_database(admin: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def _value(v: Any) -> str:
    if isinstance(v, memoryview):
        v = bytes(v)
    if isinstance(v, bytes):
        return "b:" + hashlib.sha256(v).hexdigest()[:16]
    return repr(v)


def checkpoint(path: str) -> None:
    """Copy the WAL into the database file, as the store's checkpoint thread does (PASSIVE)."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    db.close()


def digest_sqlite(path: str) -> str:
    import sqlite3

    db = sqlite3.connect(path)
    names = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name != 'schema_migrations' ORDER BY name"
        )
    ]
    h = hashlib.sha256()
    for name in names:
        rows = sorted("|".join(map(_value, r)) for r in db.execute(f"SELECT * FROM {name}"))
        h.update(f"{name}:{len(rows)}\n".encode())
        for r in rows:
            h.update(r.encode() + b"\n")
    db.close()
    return h.hexdigest()[:16]


def digest_postgres(url: str) -> str:
    import psycopg

    h = hashlib.sha256()
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                " AND c.relname != 'schema_migrations' ORDER BY c.relname"
            ).fetchall()
        ]
        for name in names:
            rows = sorted("|".join(map(_value, r)) for r in conn.execute(f"SELECT * FROM {name}").fetchall())
            h.update(f"{name}:{len(rows)}\n".encode())
            for r in rows:
                h.update(r.encode() + b"\n")
    return h.hexdigest()[:16]


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by name (numbered pool threads summed)."""
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            spent = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except OSError:
            continue
        name = thread.name.rsplit("_", 1)[0] if thread.name[-1:].isdigit() else thread.name
        out[name] = out.get(name, 0.0) + spent
    return out


class Timer:
    """CPU time per label, each timed in the thread it runs in (seconds in total)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    @contextmanager
    def on(self, label: str) -> Iterator[None]:
        start = time.thread_time()
        try:
            yield
        finally:
            self.spent[label] = self.spent.get(label, 0.0) + time.thread_time() - start


def _label(sql: str) -> str:
    words = " ".join(str(sql).split()).split(" ")
    verb = words[0].lower()
    if verb == "insert":
        return f"sql_insert_{words[2].lower()}"
    if verb in ("select", "update", "delete"):
        table = next(
            (w for w, p in zip(words[1:], words, strict=False) if p.upper() in ("FROM", "UPDATE")), "?"
        )
        return f"sql_{verb}_{table.lower()}"
    return f"sql_{verb}"


class _Cursor:
    """A SQLite cursor whose rows were all fetched while timed."""

    def __init__(self, cursor: Any, rows: list[Any]) -> None:
        self.rowcount = cursor.rowcount
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None


class TimedSqlite:
    """The writer's connection, each statement timed (its rows fetched inside the timing)."""

    def __init__(self, db: Any, timer: Timer) -> None:
        self._db, self._timer = db, timer

    def execute(self, sql: str, *args: Any) -> Any:
        with self._timer.on(_label(sql)):
            cur = self._db.execute(sql, *args)
            return _Cursor(cur, cur.fetchall())

    def executemany(self, sql: str, rows: Any) -> Any:
        with self._timer.on(_label(sql)):
            return self._db.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@contextmanager
def timed_psycopg(timer: Timer) -> Iterator[None]:
    """psycopg's statements timed by label (client CPU only: the server is another process)."""
    import psycopg

    saved: list[tuple[Any, str, Any]] = []

    def wrap(cls: Any, name: str, label_of: Any) -> None:
        original = getattr(cls, name)

        async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            with timer.on(label_of(args)):
                return await original(self, *args, **kwargs)

        saved.append((cls, name, original))
        setattr(cls, name, timed)

    wrap(
        psycopg.AsyncConnection, "execute", lambda a: _label(a[0] if isinstance(a[0], str) else a[0].decode())
    )
    wrap(psycopg.AsyncCursor, "execute", lambda a: _label(a[0] if isinstance(a[0], str) else a[0].decode()))
    wrap(psycopg.AsyncCursor, "executemany", lambda a: _label(a[0]))
    wrap(psycopg.AsyncCursor, "fetchall", lambda a: "sql_fetch")
    wrap(psycopg.AsyncCopy, "write_row", lambda a: "sql_copy_reports")
    try:
        yield
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)


@contextmanager
def timed_python(timer: Timer) -> Iterator[None]:
    """The planner and the state loading, wherever a store took them from."""
    import importlib

    saved: list[tuple[Any, str, Any]] = []
    from collector.store import plan

    known = getattr(plan, "KnownStates", None)  # since wave 4, the state loading is its method
    if known is not None:
        load = known.load

        def timed_load(*args: Any) -> Any:
            with timer.on("py_load_state"):
                return load(*args)

        saved.append((known, "load", load))
        known.load = timed_load
    for module_name in ("collector.store.sqlite", "collector.store.postgres"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, label in (("plan_batch", "py_plan_batch"), ("load_state", "py_load_state")):
            original = getattr(module, name, None)
            if original is None:
                continue

            def timed(*args: Any, _original: Any = original, _label: str = label) -> Any:
                with timer.on(_label):
                    return _original(*args)

            saved.append((module, name, original))
            setattr(module, name, timed)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


async def replay(kind: str, requests: list[bytes], breakdown: bool) -> dict[str, Any]:
    """One pass over the requests through a fresh store, as the writer child runs them."""
    from collector.ingest.writer import FOLD_SHARE, _message
    from collector.runtime import tune_gc
    from collector.store import Batch, open_store

    folder = tempfile.mkdtemp(prefix="hs-bench-writer-")
    pg = None
    if kind == "sqlite":
        url = f"sqlite:///{folder}/w.db"
    else:
        pg = pg_database()
        if pg is None:
            return {}
        url = pg[1]
    import collector.store.sqlite as sqlite_store

    # the WAL is checkpointed once, timed, after the replay (the child's checkpoint thread does
    # it every second; its work is what the commits wrote, whenever it runs)
    sqlite_store.CHECKPOINT_EVERY_S = 3600.0
    store = open_store(url)
    store.folds.state.share = FOLD_SHARE  # as the child sets it (it keeps its share for folding)
    store.folds.state.from_the_end = True
    await store.open()
    tune_gc()  # as the child does once its store is open
    timer = Timer()
    reports = 0
    gc_started = [0.0]

    def gc_time(phase: str, info: dict[str, Any]) -> None:
        # the cyclic collector's share, whichever phase it ran in (reported apart, not subtracted)
        if phase == "start":
            gc_started[0] = time.thread_time()
        else:
            timer.spent["gc_us"] = timer.spent.get("gc_us", 0.0) + time.thread_time() - gc_started[0]

    gc.callbacks.append(gc_time)
    threads_before = thread_cpu()
    started = time.process_time()
    with instrumented(breakdown, kind, store, timer):
        for blob in requests:
            with timer.on("unpickle_us"):
                rows, quarantined, statuses = pickle.loads(blob)
            with timer.on("decode_us"):
                messages = [_message(r) for r in rows]
            await store.write_batch(Batch(messages, quarantined, statuses))
            reports += len(messages)
    threads = {k: v - threads_before.get(k, 0.0) for k, v in thread_cpu().items()}
    if kind == "sqlite":
        with timer.on("checkpoint_us"):
            checkpoint(f"{folder}/w.db")
    spent = time.process_time() - started
    gc.callbacks.remove(gc_time)
    await store.close()
    digest = digest_sqlite(f"{folder}/w.db") if kind == "sqlite" else digest_postgres(url)
    shutil.rmtree(folder, ignore_errors=True)
    if pg is not None:
        drop_database(*pg)
    per = 1e6 / reports
    out: dict[str, Any] = {k: round(v * per, 2) for k, v in sorted(timer.spent.items())}
    out["total_us"] = round(spent * per, 2)
    out.setdefault("checkpoint_us", 0.0)
    out["write_us"] = round(out["total_us"] - out["unpickle_us"] - out["decode_us"] - out["checkpoint_us"], 2)
    out["threads_us"] = {k: round(v * per, 2) for k, v in sorted(threads.items()) if v * per >= 0.01}
    out["digest"] = digest  # type: ignore[assignment]
    return out


@contextmanager
def instrumented(breakdown: bool, kind: str, store: Any, timer: Timer) -> Iterator[None]:
    if not breakdown:
        yield
        return
    with timed_python(timer):
        if kind == "sqlite":
            store._wdb = TimedSqlite(store._wdb, timer)
            yield
        else:
            with timed_psycopg(timer):
                yield


def one_round(args: argparse.Namespace) -> dict[str, Any]:
    requests = build(args.reports, args.homes, args.batch)
    out: dict[str, Any] = {"parent": dict(PARENT)}
    for kind in args.stores.split(","):
        out[kind] = asyncio.run(replay(kind, requests, False))
        if args.breakdown:
            out[kind + "_breakdown"] = asyncio.run(replay(kind, requests, True))
    return out


def compare(args: argparse.Namespace) -> dict[str, Any]:
    trees = {"old": Path(args.compare).resolve(), "new": Path(args.tree).resolve() if args.tree else HERE}
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            argv = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--round",
                "--tree",
                str(trees[name]),
                "--reports",
                str(args.reports),
                "--homes",
                str(args.homes),
                "--batch",
                str(args.batch),
                "--stores",
                args.stores,
            ] + (["--breakdown"] if args.breakdown and r == 0 else [])
            done = subprocess.run(argv, check=True, capture_output=True, text=True)
            runs[name].append(json.loads(done.stdout))
    out: dict[str, Any] = {"reports": args.reports, "batch": args.batch, "rounds": args.rounds}
    for kind in args.stores.split(","):
        for name in ("old", "new"):
            rows = [run[kind] for run in runs[name] if run.get(kind)]
            if not rows:
                continue
            out[f"{kind}_{name}"] = {p: round(median(r[p] for r in rows), 2) for p in PHASES}
            out[f"{kind}_{name}"]["digests"] = sorted({r["digest"] for r in rows})
            if args.breakdown:
                out[f"{kind}_{name}_breakdown"] = runs[name][0].get(kind + "_breakdown")
        if f"{kind}_old" in out and f"{kind}_new" in out:
            old, new = out[f"{kind}_old"]["total_us"], out[f"{kind}_new"]["total_us"]
            out[f"{kind}_cut"] = round(1 - new / old, 3)
            out[f"{kind}_same_rows"] = out[f"{kind}_old"]["digests"] == out[f"{kind}_new"]["digests"]
    out["parent_send_us"] = {
        name: round(median(run["parent"]["send_us"] for run in runs[name]), 2) for name in ("old", "new")
    }
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=10000)
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--compare", help="the old tree, to alternate with --tree (default: this one)")
    parser.add_argument("--tree", help="the tree whose collector is measured (default: this one)")
    parser.add_argument("--round", action="store_true", help="one round, in this process (internal)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.compare:
        figures = compare(args)
    else:
        figures = one_round(args)
        figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures) if args.json or args.round else json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
