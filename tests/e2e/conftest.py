"""The headless Chromium every page test drives (tests/cdp.py speaks the DevTools protocol to it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.cdp import Browser, chromium_binary


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    binary = chromium_binary()
    if binary is None:
        pytest.fail(
            "chromium is not installed: run `sudo apt-get install -y chromium` (make test does it as root)"
        )
    b = Browser(binary)
    await b.start()
    yield b
    await b.stop()
