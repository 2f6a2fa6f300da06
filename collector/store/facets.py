"""The store's concerns composed once for every backend: one place per concern, no twins.

A backend (``SqliteStore``, ``PostgresStore``) owns only what truly differs: connections and
migrations, the hand-tuned ingest path (``write_batch``, retention), the fold queue's claims
(``*_folds.py``), saving results in its bulk idiom (``*_results.py``) and the evaluation
workers' day reader. Everything else is a concern object over the backend's
:class:`~collector.store.sql.Database`, built here:

| facet | object | module |
| --- | --- | --- |
| gateway reads (pages, API) | ``reads`` | ``gateway_reads.py`` |
| home days, CRM, runs, result reads | ``profiles`` | ``profiles.py`` |
| the fold queue | ``folds`` | ``folding.py`` + ``<backend>_folds.py`` |
| saving results | ``save_results`` | ``<backend>_results.py`` |
| evaluation workers' reads | ``day_reader()`` | ``<backend>_days.py`` |

A new concern (campaigns, security, ...) is a planner of statements over ``store.db``
(``sql.py``), not a method here, unless callers reach it as ``store.<method>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from collector.store.base import DayReader, FoldQueue, ResultsSave, SpooledMessage
from collector.store.gateway_reads import GatewayReads
from collector.store.profiles import Profiles
from collector.store.sql import Database

#: A backend's way of saving an evaluation's results (``sqlite_results``, ``postgres_results``).
SaveResults = Callable[[ResultsSave], Awaitable[dict[str, int]]]


class Facets:
    """The composed concerns and the :class:`~collector.store.base.Store` methods they answer."""

    def __init__(self, db: Database, folds: FoldQueue, save: SaveResults, day_reader: DayReader) -> None:
        #: SQL written once for both backends, for the store's concerns (``store/sql.py``).
        self.db = db
        #: The home-profile fold queue (``store/folding.py``).
        self.folds = folds
        self.reads = GatewayReads(db)
        self.profiles = Profiles(db)
        self._save = save
        self._day_reader = day_reader

    # -- folding -----------------------------------------------------------------------
    def fold_later(self, messages: list[SpooledMessage], inserted: list[tuple[str, int, int]]) -> None:
        """Keep the new reports of a batch a store writer process committed, for folding."""
        self.folds.state.committed(messages, inserted)

    async def fold_pending(self, limit: int = 500, everyone: bool = False) -> int:
        """Fold up to ``limit`` stored reports into their day rollups (exactly once); how many.
        This process's share first; ``everyone``: anyone's after it (``FoldQueue.fold_pending``).
        The operator's domain rules are looked at first (``dpi/rules.py``: reloaded if changed)."""
        await self.folds.state.refresh_rules(self.db)
        return await self.folds.fold_pending(limit, everyone)

    async def pending_folds(self) -> int:
        """Reports stored and not yet folded (by any process)."""
        return await self.folds.pending()

    @property
    def keep_folds_in_memory(self) -> bool:
        """Keep the reports this process commits for folding (off where another process folds)."""
        return self.folds.state.keep_in_memory

    @keep_folds_in_memory.setter
    def keep_folds_in_memory(self, keep: bool) -> None:
        self.folds.state.keep_in_memory = keep

    # -- gateway reads -----------------------------------------------------------------
    async def list_gateways(self, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        return await self.reads.list_gateways(limit, offset)

    async def gateway(self, gateway_id: str) -> dict[str, Any] | None:
        return await self.reads.gateway(gateway_id)

    async def history(
        self, gateway_id: str, limit: int = 96, span: tuple[int, int] | None = None
    ) -> list[dict[str, Any]]:
        return await self.reads.history(gateway_id, limit, span)

    async def rollups(self, gateway_id: str, period: str, since: int) -> list[dict[str, Any]]:
        return await self.reads.rollups(gateway_id, period, since)

    async def quarantine(self, limit: int = 100, span: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        return await self.reads.quarantine(limit, span)

    async def counts(self) -> dict[str, int]:
        return await self.reads.counts()

    async def stored_keys(self, kind: str | None = None) -> list[tuple[str, int, int]]:
        return await self.reads.stored_keys(kind)

    # -- home profiles -----------------------------------------------------------------
    async def home_days(
        self,
        since_day: int,
        until_day: int | None = None,
        gateway_ids: list[str] | None = None,
        detail: bool = False,
    ) -> list[tuple[str, int, dict[str, Any]]]:
        return await self.profiles.home_days(since_day, until_day, gateway_ids, detail)

    async def home_ids(self, since_day: int) -> list[str]:
        return await self.profiles.home_ids(since_day)

    async def home_day_texts(
        self, first_id: str, last_id: str, since_day: int, until_day: int, only: list[str] | None = None
    ) -> list[tuple[str, int, str]]:
        return await self.profiles.home_day_texts(first_id, last_id, since_day, until_day, only)

    async def updated_homes(self, since: float) -> list[str]:
        return await self.profiles.updated_homes(since)

    def day_reader(self) -> DayReader:
        """A picklable reader of raw core rollups, so evaluation workers read for themselves."""
        return self._day_reader

    async def save_results(
        self,
        results: list[dict[str, Any]],
        evaluated_at: float,
        homes: list[str],
        summaries: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, int]:
        """Replace the current results of ``homes`` with ``results``, keeping history.

        A result that was not there ``appeared``; one whose state or rule version moved
        ``changed``; one no longer there is ``cleared``. Other homes are untouched. Each
        result is a dict: gateway_id, rule, kind, version, window, state, score, sentence,
        evidence (a dict, or its compact JSON text). ``summaries`` (per home) refresh
        ``home_profiles``.
        """
        return await self._save(ResultsSave(results, evaluated_at, homes, summaries or {}))

    async def upsert_subscribers(self, rows: list[dict[str, Any]], imported_at: float | None = None) -> int:
        return await self.profiles.upsert_subscribers(rows, imported_at)

    async def subscribers(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        return await self.profiles.subscribers(gateway_ids)

    async def install_baselines(self, gateway_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        return await self.profiles.install_baselines(gateway_ids)

    async def record_run(self, run: dict[str, Any]) -> None:
        await self.profiles.record_run(run)

    async def last_run(self) -> dict[str, Any] | None:
        return await self.profiles.last_run()

    async def home_results(self, gateway_id: str) -> list[dict[str, Any]]:
        return await self.profiles.home_results(gateway_id)

    async def result_history(self, gateway_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return await self.profiles.result_history(gateway_id, limit)

    async def home_summary(self, gateway_id: str) -> dict[str, Any] | None:
        return await self.profiles.home_summary(gateway_id)

    async def homes(
        self,
        label: str | None = None,
        flag: str | None = None,
        warning: str | None = None,
        area: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        return await self.profiles.homes(label, flag, warning, area, limit, offset)

    async def area_summary(
        self, min_group: int, level: str = "area", days: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        return await self.profiles.area_summary(min_group, level, days)

    async def area_names(self) -> dict[str, list[str]]:
        return await self.profiles.area_names()
