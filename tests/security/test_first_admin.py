"""The first admin's password goes to the terminal once, never to the log, and opens the UI."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import aiohttp
import pytest

from collector.service import Service
from collector.settings import Settings
from tests.broker import Broker

pytestmark = pytest.mark.timeout(60)


async def _signs_in(svc: Service, password: str) -> None:
    """``admin`` signs in with ``password`` and reaches the admin page."""
    base = f"http://127.0.0.1:{svc.port}"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(headers={"Origin": base}, cookie_jar=jar) as client:
        login = await client.post(
            f"{base}/login", data={"user": "admin", "password": password}, allow_redirects=False
        )
        assert login.status == 302
        assert (await client.get(f"{base}/admin")).status == 200


async def test_the_first_admin_password_is_printed_once_and_never_logged(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        db=f"sqlite:///{tmp_path}/first.db",
        mqtt=broker.url,
        http="127.0.0.1:0",
        store_writer="thread",
        # a session of its own: the shared broker keeps other tests' queued messages for the default id
        mqtt_client_id=f"first-admin-{tmp_path.name}",
    )
    svc = Service(settings)
    await svc.start()
    try:
        printed = capsys.readouterr().err
        found = re.search(r"created user 'admin' with password:\s+(\S+)", printed)
        assert found, printed
        password = found.group(1)
        assert password not in caplog.text
        await _signs_in(svc, password)
    finally:
        await svc.stop()
    again = Service(settings)  # a second start with the admin in the store prints nothing
    await again.start()
    try:
        assert "password" not in capsys.readouterr().err
    finally:
        await again.stop()


async def test_an_admin_named_in_settings_signs_in_with_its_password_and_none_is_invented(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "seeded-in-settings-long-enough-9"
    settings = Settings(
        db=f"sqlite:///{tmp_path}/seeded.db",
        mqtt=broker.url,
        http="127.0.0.1:0",
        store_writer="thread",
        users=f"admin:{password}",
        mqtt_client_id=f"seeded-admin-{tmp_path.name}",
    )
    svc = Service(settings)
    await svc.start()
    try:
        assert "created user" not in capsys.readouterr().err
        await _signs_in(svc, password)
    finally:
        await svc.stop()
