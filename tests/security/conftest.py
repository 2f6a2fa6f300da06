"""A running collector (store + MQTT ingest + HTTP) with one account per role, for the security suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from collector.security import accounts
from collector.service import Service
from collector.settings import Settings
from collector.web.access import ROLES
from tests.broker import Broker

PASSWORD = "security-suite-passphrase-7"
_FIGURES: dict[str, dict[str, object]] = {}


@dataclass
class Running:
    service: Service
    base: str

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.service.store.db

    async def session(self, user: str, password: str = PASSWORD) -> aiohttp.ClientSession:
        """A client signed in as ``user`` (cookies kept), coming from our own origin."""
        # unsafe=True: aiohttp keeps no cookies for IP-address hosts otherwise
        client = aiohttp.ClientSession(
            headers={"Origin": self.base}, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        response = await client.post(
            f"{self.base}/login",
            data={"user": user, "password": password, "next": "/"},
            allow_redirects=False,
        )
        assert response.status == 302, (user, response.status, await response.text())
        return client


async def start_collector(broker: Broker, tmp_path: Path, **extra: object) -> Service:
    settings = Settings(
        db=f"sqlite:///{tmp_path}/security.db",
        mqtt=broker.url,
        http="127.0.0.1:0",
        users=f"root:{PASSWORD}",
        mqtt_client_id=f"sec-{tmp_path.name}",
        store_writer="thread",
        **extra,  # type: ignore[arg-type]
    )
    svc = Service(settings)
    await svc.start()
    for role in ROLES:
        await accounts.add_user(svc.store.db, f"{role}-user", role, PASSWORD)
    return svc


@pytest.fixture
async def running(broker: Broker, tmp_path: Path) -> AsyncIterator[Running]:
    svc = await start_collector(broker, tmp_path)
    try:
        yield Running(svc, f"http://127.0.0.1:{svc.port}")
    finally:
        await svc.stop()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Callable[..., None]]:
    """Figures a test measured, printed in the run's summary (guesses per minute, ...)."""

    def record(**values: object) -> None:
        _FIGURES.setdefault(request.node.nodeid, {}).update(values)

    yield record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("security figures")
        for node, values in _FIGURES.items():
            terminalreporter.write_line(
                f"{node.split('::')[-1]}: " + ", ".join(f"{k}={v}" for k, v in values.items())
            )
