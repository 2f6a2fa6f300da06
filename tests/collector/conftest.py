"""Stores for the collector's tests: every concern runs on both backends through ``store``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.store import Store, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.db"
    else:
        url = request.getfixturevalue("postgres_url")
    s = open_store(url)
    await s.open()
    yield s
    await s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_collectors(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores opened on one URL, as two collectors sharing it (races between collectors)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/shared.db"
    else:
        url = request.getfixturevalue("postgres_url")
    first, second = open_store(url), open_store(url)
    await first.open()
    await second.open()
    yield first, second
    await first.close()
    await second.close()
