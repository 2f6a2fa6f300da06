"""The store writer in a process of its own: ingest on one core, plan and commit on another.

One Python process holds one GIL: receiving, decoding and validating a batch, then
planning and committing it, ran one after the other however they were threaded (the
writer thread's Python work and the event loop's took turns; see docs/scaling.md).
:class:`WriterProcess` moves ``write_batch`` (the plan and the SQL) to a child process
that opens the same store URL, so the event loop triages batch N+1 while the child
commits batch N, each on its own core.

Reports cross the pipe as flat tuples of their stored row's fields plus the msgpack triage
unframed (bytes and a tuple pickle at memory speed; a nested dict does not, and a named
record goes through its class: 4.2 us a report against 1.2) and the child decodes from that again without
re-checking (it was validated here), without inflating the frame again, and only the
fields the plan reads (``plan_body``): a report's ``body`` in the child is that subset. The
contract of ``write_batch`` holds unchanged: one transaction, the result only after the commit. If the child dies, the
batch in flight fails as a transient :class:`StoreError` (its outcome unknown: the retry
finds what was committed as duplicates) and the next call starts a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from operator import attrgetter
from typing import Any

import msgspec

from collector.ingest.crash import crash_point
from collector.runtime import tune_gc
from collector.store import (
    Batch,
    BatchResult,
    LockTurn,
    QuarantinedMessage,
    SpooledMessage,
    StatusChange,
    StoreError,
    open_store,
)
from collector.store.folding import FOLD_BACKLOG
from collector.store.frames import frame_of
from collector.store.plan import READS_PACKED
from collector.store.plan_input import PlanBody, plan_body
from collector.store.rows import ReportRow
from collector.store.sqlite import sqlite_path
from protocol.errors import ProtocolError

log = logging.getLogger(__name__)

#: Seconds the child may take to open the store (migrations included) before we give up.
START_TIMEOUT_S = 60.0
#: Seconds one batch may take before the child is taken for hung, killed and replaced (the
#: store's own lock and statement timeouts are far shorter: this only bounds the unforeseen).
REPLY_TIMEOUT_S = 300.0
#: The child folds one share of the gateways (``Folds.share``), the collector the other, while no
#: batch waits, looking again every FOLD_IDLE_S: while batches keep coming (one in the last
#: FOLD_QUIET_S) only what it kept in memory once that nears its bound (FOLD_BUSY_KEPT: folding
#: takes cores the ingest needs, and acknowledging comes first), FOLD_BUSY_CHUNK at a time (a
#: batch arriving waits for the chunk); once they stop, FOLD_CHUNK at a time and from its share
#: of the queue table too (from its end), so after a burst both cores fold; the table again
#: FOLD_EMPTY_S after it had none.
FOLD_SHARE = (1, 2)
PARENT_FOLD_SHARE = (0, 2)
FOLD_CHUNK = 500
FOLD_BUSY_CHUNK = 100
FOLD_IDLE_S = 0.02
FOLD_QUIET_S = 0.25
FOLD_EMPTY_S = 0.5
FOLD_BUSY_KEPT = FOLD_BACKLOG - 2_000

#: A report as it crosses the pipe: the ``reports`` row's fields, then the unframed msgpack. Its
#: frame is ``None`` when not made yet: this process makes it from the msgpack (the deflate runs
#: here, off the process that receives).
Row = tuple[str, int, int, str, int, int, int, int, float, bytes | None, bytes]
_row = attrgetter(*(f if f != "payload" else "frame" for f in ReportRow._fields), "packed")


def local_store(url: str) -> bool:
    """Whether ``url`` names a store only this process can see (a second process cannot share it)."""
    return url.startswith("sqlite:///") and sqlite_path(url) == ":memory:"


class WriterProcess:
    """``write_batch`` of the store at ``url``, run by a child process.

    Batches are pipelined: a second ``write_batch`` may be called while the first commits,
    and its request waits in the pipe, so the child starts it the moment the first is
    done (without waiting for the event loop to hear of the first). The child commits up to
    ``concurrent_writes`` of the store at once, each in its own transaction; batches that share
    gateways take their locks in the order they were handed over (``store.LockTurn``), so a
    later one's raw insert runs beside an earlier one's plan. Replies come back in the order
    the batches were handed over.
    """

    def __init__(
        self,
        url: str,
        on_commit: Callable[[list[SpooledMessage], list[tuple[str, int, int]]], None] | None = None,
        home_key: bytes | None = None,
    ) -> None:
        self.url = url
        #: the privacy key the child's folds pseudonymise homes with (``Folds.home_key``)
        self._home_key = home_key
        #: told of each committed batch and its new keys (the parent folds its share of them)
        self._on_commit = on_commit
        # what the child folded (its share of the gateways, while no batch waits), and when last
        ctx = multiprocessing.get_context("spawn")
        self._folded = ctx.Value("q", 0, lock=False)
        self._folded_at = ctx.Value("d", 0.0, lock=False)
        self._conn: multiprocessing.connection.Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._lock = threading.Lock()
        # one thread sends (pickling happens off the event loop), one reads replies in order
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer-send")
        self._receiver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer-recv")

    @property
    def folded(self) -> int:
        """Reports the child folded into home-profile day rollups."""
        return int(self._folded.value)

    @property
    def folded_at(self) -> float | None:
        """When the child last folded (wall time), if it has."""
        return float(self._folded_at.value) or None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._sender, self._start)

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # fork would copy the event loop and its threads
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_serve,
            args=(self.url, child, self._folded, self._folded_at, self._home_key),
            name="homescope-store-writer",
            daemon=True,
        )
        proc.start()
        child.close()
        if not parent.poll(START_TIMEOUT_S):
            proc.kill()
            raise StoreError("store writer process did not start", transient=True)
        try:
            status, detail = parent.recv()
        except (EOFError, OSError) as exc:
            proc.join(1)
            raise StoreError(
                f"store writer process exited at start ({proc.exitcode})", transient=True
            ) from exc
        if status != "ready":
            proc.join(1)
            raise detail if isinstance(detail, StoreError) else StoreError(str(detail), transient=True)
        with self._lock:
            self._conn, self._proc = parent, proc
        log.info("store writer process %s started", proc.pid)

    async def write_batch(self, batch: Batch) -> BatchResult:
        messages = batch.messages
        rows = _rows(messages)
        # Both submitted at once, each to its own single thread: replies are read in the
        # order the requests were sent, and a send does not wait for the previous reply.
        sent = self._sender.submit(self._send, (rows, batch.quarantined, batch.statuses))
        result = await asyncio.wrap_future(self._receiver.submit(self._receive, sent))
        if self._on_commit is not None:
            self._on_commit(messages, result.inserted)
        return result

    def _send(self, request: tuple[list[Row], list[QuarantinedMessage], list[StatusChange]]) -> Child:
        if self._conn is None:
            self._start()
        with self._lock:
            child = self._conn, self._proc
        assert child[0] is not None and child[1] is not None
        try:
            child[0].send(request)
        except (EOFError, OSError) as exc:
            self._lost(child)
            raise StoreError(f"store writer process exited ({exc}); batch not sent", transient=True) from exc
        return child

    def _receive(self, sent: Future[Child]) -> BatchResult:
        child = sent.result()  # the send's error, if it failed, is this call's
        conn, proc = child
        assert conn is not None and proc is not None
        try:
            if not conn.poll(REPLY_TIMEOUT_S):
                proc.kill()
                raise EOFError(f"no reply in {REPLY_TIMEOUT_S:.0f} s")
            status, detail = conn.recv()
        except (EOFError, OSError) as exc:
            self._lost(child)
            raise StoreError(
                f"store writer process exited ({exc}); batch outcome unknown", transient=True
            ) from exc
        if status == "ok":
            assert isinstance(detail, BatchResult)
            return detail
        if isinstance(detail, StoreError):
            raise detail
        raise StoreError(str(detail), transient=True)

    def _lost(self, child: Child) -> None:
        conn, proc = child
        with self._lock:
            if self._conn is not conn:
                return  # the other thread saw it first
            self._conn = self._proc = None
        if proc is not None:
            proc.join(5)
            log.error("store writer process %s exited with %s", proc.pid, proc.exitcode)
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(self._sender, self._stop)
        self._sender.shutdown(wait=True)
        # the child answered (or died on) every batch before it exited: no read is left waiting
        await loop.run_in_executor(None, self._receiver.shutdown, True)
        if conn is not None:
            conn.close()

    def _stop(self) -> multiprocessing.connection.Connection | None:
        with self._lock:
            conn, proc = self._conn, self._proc
            self._conn = self._proc = None
        if conn is None or proc is None:
            return None
        with contextlib.suppress(OSError):
            conn.send(None)  # the child finishes what it was sent, closes its store and exits
        proc.join(30)
        if proc.exitcode is None:
            proc.kill()
            proc.join(5)
        return conn


Child = tuple[multiprocessing.connection.Connection | None, multiprocessing.process.BaseProcess | None]


def _rows(messages: list[SpooledMessage]) -> list[Row]:
    """The reports of a batch as they cross the pipe."""
    return [_row(m) for m in messages]


def _message(row: Row) -> SpooledMessage:
    gateway_id, epoch, seq, kind, start, end, uptime, sent_at, received_at, frame, packed = row
    planned: PlanBody | None = None
    if kind == "report" and packed and not READS_PACKED:
        # only what the plan reads (its folds read their own fields from packed); anything
        # else decodes the whole body from packed when read (SpooledMessage.body). The
        # compiled plan reads packed itself.
        with contextlib.suppress(msgspec.DecodeError):
            planned = plan_body(packed)
    # Framed here, not on first read of ``payload``: this runs while the batch before commits,
    # so the deflate is done before this batch's transaction starts, not inside it.
    return SpooledMessage(
        gateway_id, epoch, seq, kind, start, end, uptime, sent_at, received_at, None,
        frame if frame is not None or not packed else frame_of(packed), packed, planned,
    )  # fmt: skip


def _serve(
    url: str,
    conn: multiprocessing.connection.Connection,
    folded: Any,
    folded_at: Any,
    home_key: bytes | None = None,
) -> None:
    """The child: open the store, then commit one request at a time until told to stop.

    While no batch waits, it folds its share of the reports it committed (``FOLD_SHARE``: the
    collector folds the other), so after a burst both cores fold.
    """

    async def main() -> None:
        store = open_store(url)
        store.folds.state.share = FOLD_SHARE
        store.folds.state.from_the_end = True
        store.folds.state.home_key = home_key
        try:
            await store.open()
        except Exception as exc:
            conn.send(
                ("failed", exc if isinstance(exc, StoreError) else StoreError(str(exc), transient=True))
            )
            return
        tune_gc()
        conn.send(("ready", None))
        loop = asyncio.get_running_loop()

        async def receive() -> Any:
            """The next request, its reports already decoded; None when told to stop."""
            try:
                request: Any = await loop.run_in_executor(None, conn.recv)
            except (EOFError, OSError):
                return None  # the parent is gone
            if request is None:
                return None
            rows, quarantined, statuses = request
            try:
                return [_message(r) for r in rows], quarantined, statuses
            except Exception as exc:
                return StoreError(f"{type(exc).__name__}: {exc}", transient=True)

        async def commit(batch: Batch) -> tuple[str, Any]:
            crash_point("writer.before_commit", parent_too=True)  # fault tests only
            try:
                return ("ok", await store.write_batch(batch))
            except StoreError as exc:
                return ("error", exc)
            except ProtocolError as exc:  # a stored frame that no longer decodes: a bug here
                return (
                    "error",
                    StoreError(f"writer cannot decode a validated frame: {exc}", transient=False),
                )
            except Exception as exc:
                return ("error", StoreError(f"{type(exc).__name__}: {exc}", transient=True))

        replies: asyncio.Queue[asyncio.Future[tuple[str, Any]] | None] = asyncio.Queue()

        async def reply_in_order() -> None:
            while (done := await replies.get()) is not None:
                conn.send(await done)

        replier = asyncio.create_task(reply_in_order())
        running: set[asyncio.Future[tuple[str, Any]]] = set()
        last_turn: LockTurn | None = None
        upcoming: asyncio.Task[Any] | None = None

        async def fold_when_idle() -> None:
            failing = False
            table_empty_at = 0.0  # when the queue table last had nothing for us
            while True:
                if running or upcoming is None or upcoming.done():
                    await asyncio.sleep(FOLD_IDLE_S)
                    continue
                now = time.monotonic()
                quiet = now - last_batch[0] > FOLD_QUIET_S
                kept = store.folds.state.waiting()
                if not quiet and kept < FOLD_BUSY_KEPT:
                    await asyncio.sleep(FOLD_IDLE_S)
                    continue
                if not kept and now - table_empty_at < FOLD_EMPTY_S:
                    await asyncio.sleep(FOLD_IDLE_S)
                    continue
                try:
                    await store.folds.state.refresh_rules(store.db)
                    n = await store.folds.fold_pending(FOLD_CHUNK if quiet else FOLD_BUSY_CHUNK)
                    failing = False
                except StoreError as exc:  # they stay queued: folded from the table later
                    if not failing:
                        log.error("store writer: profile folding failed: %s", exc)
                    failing, n = True, 0
                    await asyncio.sleep(FOLD_IDLE_S)
                if not n:
                    table_empty_at = time.monotonic()
                folded.value = store.folds.state.folded  # what it folded (n: what it took)
                if n:
                    folded_at.value = time.time()

        last_batch = [0.0]  # when the last batch came (monotonic): folding waits for a quiet spell
        folder = asyncio.create_task(fold_when_idle())
        try:
            # The next request is received and decoded while this one commits (the store's
            # statements leave this loop free), so it is ready when the commit ends.
            upcoming = asyncio.create_task(receive())
            while True:
                request = await upcoming
                if request is None:
                    return
                upcoming = asyncio.create_task(receive())
                last_batch[0] = time.monotonic()
                if isinstance(request, StoreError):
                    failed: asyncio.Future[tuple[str, Any]] = loop.create_future()
                    failed.set_result(("error", request))
                    replies.put_nowait(failed)
                    continue
                messages, quarantined, statuses = request
                # Runs beside the batches in flight while the store has room: its raw insert goes
                # ahead, and it takes its gateways' locks only after the batch before it took
                # its own (LockTurn), so each gateway's reports are planned in the order they came.
                while len(running) >= store.concurrent_writes:
                    await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
                turn = LockTurn(last_turn if running else None)
                last_turn = turn
                task = asyncio.create_task(commit(Batch(messages, quarantined, statuses, turn)))
                running.add(task)
                task.add_done_callback(running.discard)
                replies.put_nowait(task)
        finally:
            folder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await folder
            replies.put_nowait(None)
            with contextlib.suppress(OSError, EOFError):
                await replier  # every batch begun is answered before the store closes
            await store.close()

    asyncio.run(main())
