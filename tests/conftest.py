"""Session fixtures: a private Mosquitto on a free loopback port, shared test data, headless Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

from tests.broker import Broker
from tests.cdp import Browser, chromium_binary
from tests.pg import Postgres

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HOMESCOPE_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """``../shared/testdata`` (CI has it beside the clone)."""
    path = SHARED / "testdata"
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}; set HOMESCOPE_SHARED to the shared/ folder")
    return path


@pytest.fixture(scope="session")
def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )
    if not found:
        pytest.fail(
            "mosquitto is not installed: run `sudo apt-get install -y mosquitto` (make test does it as root)"
        )
    return found


@pytest.fixture(scope="session")
def broker(mosquitto_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One Mosquitto for the session (tests use unique gateway ids/topics)."""
    b = Broker(mosquitto_binary, tmp_path_factory.mktemp("mosquitto"))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def private_broker(mosquitto_binary: str, tmp_path: Path) -> Iterator[Broker]:
    """A broker of the test's own, for tests that kill, restart or reconfigure it."""
    b = Broker(mosquitto_binary, tmp_path / "mosquitto")
    yield b
    b.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL server for the session (skips the PostgreSQL tests only if none can be had)."""
    server = Postgres()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> Iterator[str]:
    """A fresh database of the test's own."""
    if postgres_server.admin_url is None:
        pytest.skip(postgres_server.skip_reason)
    url = postgres_server.database()
    yield url
    postgres_server.drop(url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, object, object]:
    """A ``root`` test that skips while running as root fails instead.

    Without root it may skip (a developer's laptop); as root (CI) its set-up (network
    namespaces, nftables, mount) has no excuse, and a skip would hide that the proof never ran.
    """
    report = yield
    if (
        isinstance(report, pytest.TestReport)
        and report.skipped
        and item.get_closest_marker("root") is not None
        and os.geteuid() == 0
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"a root test skipped while running as root: {reason}"
    return report


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """The headless Chromium a page test drives (tests/cdp.py speaks the DevTools protocol to it)."""
    binary = chromium_binary()
    if binary is None:
        pytest.fail(
            "chromium is not installed: run `sudo apt-get install -y chromium` (make test does it as root)"
        )
    b = Browser(binary)
    await b.start()
    yield b
    await b.stop()
