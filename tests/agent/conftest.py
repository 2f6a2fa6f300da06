"""The agent's log lines as tests read them (agent/logger.py writes them to stderr)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

import pytest

from agent import logger

_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ([A-Z]+) (\S+): (.*)$")


class Line(NamedTuple):
    level: str
    name: str
    message: str
    more: str  # the lines after it that are not log lines (a traceback)


def parse_lines(text: str) -> list[Line]:
    out: list[Line] = []
    for raw in text.splitlines():
        match = _LINE.match(raw)
        if match:
            out.append(Line(match[1], match[2], match[3], ""))
        elif out:
            out[-1] = out[-1]._replace(more=out[-1].more + raw + "\n")
    return out


@pytest.fixture
def agent_log(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[Line]]]:
    """Log at INFO while the test runs; calling the fixture returns the lines written so far."""
    before = logger.threshold()
    logger.configure(logger.INFO)
    seen: list[Line] = []

    def lines() -> list[Line]:
        seen.extend(parse_lines(capsys.readouterr().err))
        return list(seen)

    yield lines
    logger.configure(before)
