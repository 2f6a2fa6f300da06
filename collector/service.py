"""The running collector: store + MQTT ingest + web server in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import web

from collector.app import create_app
from collector.dpi.rules import load_path as load_rules_file
from collector.ingest import Ingest
from collector.ingest.writer import PARENT_FOLD_SHARE, WriterProcess, local_store
from collector.installer.channel import CommandChannel
from collector.installer.records import InstallerRecords
from collector.leadership import Leadership, process_owner
from collector.privacy import retention as privacy_retention
from collector.privacy.keys import load_key
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate_changed
from collector.profiles.rules import plugin_defaults
from collector.settings import Settings
from collector.store import StoreError, open_store
from collector.store.base import drain_folds, insights
from collector.store.leases import Leases
from collector.web.bootstrap import auth_from_settings, first_admin, web_tls

log = logging.getLogger(__name__)

#: Reports folded per store call (whole gateways: a backlog's home-days are written once a chunk),
#: and the pause when none are waiting.
FOLD_CHUNK = 500
FOLD_IDLE_S = 0.5
FOLD_YIELD_S = 0.05
#: Reports waiting to be folded past which folding takes turns with ingest batches instead
#: of waiting for a gap (so under sustained load it keeps pace).
FOLD_EAGER = 20_000
#: Seconds after start before the first retention pass (then every ``retention_every_s``).
RETENTION_FIRST_S = 300
#: The lease whose holder evaluates home profiles on schedule (one collector of several).
EVALUATION_LEASE = "profile-evaluation"
#: Its ttl: a dead leader's successor starts within this (the leader renews at a third of it).
EVALUATION_LEASE_TTL_S = 60.0


class Service:
    """Starts and stops the parts in order; ``health()`` degrades instead of crashing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings.db)
        # the homes' pseudonyms of the unclassified-domains view are made with the privacy key
        home_key = load_key(settings)
        self.store.folds.state.home_key = home_key
        self.writer: WriterProcess | None = None
        if settings.store_writer == "process" and not local_store(settings.db):
            # the writer process commits the batches; this process folds them, from the
            # unframed msgpack it still holds (the writer's reply says which were new)
            self.writer = WriterProcess(settings.db, on_commit=self.store.fold_later, home_key=home_key)
            self.store.folds.state.share = PARENT_FOLD_SHARE  # the child folds the other share
        self.ingest = Ingest(settings, self.store, self.writer)
        #: Rule thresholds and the evaluation schedule (``HOMESCOPE_PROFILES_CONFIG``); a bad file stops us here.
        self.profiles = load_config(None, plugin_defaults())
        #: Scheduled evaluation runs in the one collector holding this lease (store/leases.py).
        self.leadership = Leadership(
            Leases(self.store.db), EVALUATION_LEASE, process_owner(), EVALUATION_LEASE_TTL_S
        )
        #: Scheduled evaluations this process ran.
        self.evaluations = 0
        self.commands = CommandChannel(
            self.ingest,
            InstallerRecords(self.store.db),
            ttl_s=settings.command_ttl_s,
            key=settings.command_key.encode() or None,
        )
        self.ingest.replies = self.commands.on_reply
        self.commands.scrub = lambda result: self.ingest.scrubber.body("report", result)
        self.auth = auth_from_settings(settings)
        self._runner: web.AppRunner | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self._folding_task: asyncio.Task[None] | None = None
        self._leading_task: asyncio.Task[None] | None = None
        self._evaluation_task: asyncio.Task[None] | None = None
        #: When this process last folded reports into home-profile day rollups.
        self.last_fold_at: float | None = None
        self.port: int | None = None

    @property
    def folded(self) -> int:
        """Reports this process folded into home-profile day rollups (claimed and committed)."""
        return self.store.folds.state.folded

    def health(self) -> dict[str, Any]:
        stats = self.ingest.stats
        degraded = not self.ingest.connected or bool(stats.last_error)
        return {
            "status": "degraded" if degraded else "ok",
            "mqtt_connected": self.ingest.connected,
            "store_error": stats.last_error or None,
            "received": stats.received,
            "stored": stats.stored,
            "duplicates": stats.duplicates,
            "quarantined": stats.quarantined,
            "folded": self.folded + (self.writer.folded if self.writer else 0),
            "last_fold_at": max(
                (t for t in (self.last_fold_at, self.writer.folded_at if self.writer else None) if t),
                default=None,
            ),
            "leads": {EVALUATION_LEASE: self.leadership.term} if self.leadership.held else {},
            **self.ingest.health(),
        }

    async def _retention(self) -> None:
        # The first pass waits: a collector (re)started with a backlog acknowledges it first, and a
        # retention pass's deletes compete with its batches for the store (they stalled ingest).
        await asyncio.sleep(min(RETENTION_FIRST_S, self.settings.retention_every_s))
        while True:
            try:
                deleted = await self.store.retain(
                    time.time(),
                    raw_days=self.settings.retention_raw_days,
                    facts_days=self.settings.retention_facts_days,
                    hourly_days=self.settings.retention_hourly_days,
                )
                deleted |= await privacy_retention.retain(self.store.db, self.settings, time.time())
                if any(deleted.values()):
                    log.info("retention: deleted %s", deleted)
            except StoreError as exc:
                log.warning("retention: %s", exc)
            await asyncio.sleep(self.settings.retention_every_s)

    async def _folding(self) -> None:
        # Home-profile day rollups follow the ingest: folding costs as much as the rest of
        # a report, and acknowledging comes first (gateways free their outboxes on our ack;
        # profiles are evaluated hours apart). While messages wait or a batch is being
        # stored, folding waits, up to FOLD_EAGER reports behind; past that it takes turns
        # with the batches, so under sustained load it keeps pace and never starves.
        try:
            profiles = insights(self.store)
        except StoreError:
            return  # a backend without home-profile tables: nothing to fold
        failing = False
        backlog, counted = 0, 0.0
        while True:
            if self.ingest.busy:
                if time.monotonic() - counted > 1.0:
                    with contextlib.suppress(StoreError):
                        backlog = await profiles.pending_folds()
                    counted = time.monotonic()
                if backlog < FOLD_EAGER:
                    await asyncio.sleep(FOLD_YIELD_S)
                    continue
            try:
                n = await profiles.fold_pending(FOLD_CHUNK)
                if failing:
                    log.warning("profile folding works again")
                failing = False
            except StoreError as exc:
                if not failing:
                    log.error("profile folding failed, will retry: %s", exc)
                failing, n = True, 0
            if n:
                self.last_fold_at = time.time()
            backlog -= n
            await asyncio.sleep(FOLD_IDLE_S if not n else 0)

    async def _evaluating(self) -> None:
        # Incremental evaluation of changed homes, every evaluate_every_s, by the one collector
        # that holds the lease (the others keep asking; one takes over within the lease's ttl).
        while True:
            await asyncio.sleep(self.profiles.evaluate_every_s)
            if not self.leadership.held:
                continue
            try:
                store = insights(self.store)
                await drain_folds(store)
                await evaluate_changed(store, self.profiles)
                self.evaluations += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                # a failed run is retried at the next interval; ingest must never stop for it
                log.exception("scheduled profile evaluation failed")

    async def start(self) -> None:
        await self.store.open()
        if not any(self.auth.roles.get(name, "admin") == "admin" for name in self.auth.users):
            # an admin named in HOMESCOPE_USERS is created by the app's seeding; a random one made first
            # would take its name and leave the configured password unusable (the demo's login failed)
            await first_admin(self.store.db)
        if self.settings.dpi_domains_file:
            await load_rules_file(self.store.db, self.settings.dpi_domains_file)
        if self.writer is not None:
            await self.writer.start()  # after the migrations, which the open above ran
        await self.ingest.start()
        self._retention_task = asyncio.create_task(self._retention(), name="retention")
        self._folding_task = asyncio.create_task(self._folding(), name="profile-folding")
        if self.profiles.evaluate_every_s > 0:
            self._leading_task = asyncio.create_task(self.leadership.run(), name="evaluation-lease")
            self._evaluation_task = asyncio.create_task(self._evaluating(), name="profile-evaluation")
        host, _, port = self.settings.http.rpartition(":")
        app = create_app(
            self.store,
            self.auth,
            self.health,
            self.commands,
            profiles=self.profiles,
            unclassified_min_homes=self.settings.dpi_unclassified_min_homes,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or "127.0.0.1", int(port), ssl_context=web_tls(self.settings))
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else int(port)
        log.info(
            "collector: store %s, web on %s://%s:%d/",
            self.settings.db,
            "https" if self.settings.tls_cert else "http",
            host or "127.0.0.1",
            self.port,
        )

    async def stop(self) -> None:
        for task in (self._evaluation_task, self._leading_task, self._retention_task, self._folding_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._runner is not None:
            await self._runner.cleanup()
        await self.commands.stop()
        await self.ingest.stop()
        if self.writer is not None:
            await self.writer.close()
        await self.store.close()

    async def run_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
