"""The agent's own log lines (agent/logger.py): logging's format and levels, without logging."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent import logger
from agent.logger import Logger
from tests.agent.conftest import Line, parse_lines

ROOT = Path(__file__).resolve().parents[2]


def test_lines_have_logging_s_format_and_the_threshold_holds(agent_log: Callable[[], list[Line]]) -> None:
    log = Logger("agent.test")
    log.debug("not kept %s", "at INFO")
    log.info("kept %d of %s", 1, "two")
    log.warning("100% plain, no arguments")
    assert agent_log() == [
        Line("INFO", "agent.test", "kept 1 of two", ""),
        Line("WARNING", "agent.test", "100% plain, no arguments", ""),
    ]
    logger.configure("error")
    log.warning("dropped")
    log.critical("kept")
    assert [r.message for r in agent_log()][-1:] == ["kept"] and len(agent_log()) == 3


def test_a_traceback_follows_its_line_and_a_bad_format_never_raises(
    agent_log: Callable[[], list[Line]],
) -> None:
    log = Logger("agent.test")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        log.error("failed: %s", exc, exc_info=exc)
    log.info("two %s %s", "only one")  # noqa: PLE1206 - on purpose
    first, second = agent_log()
    assert first[:3] == ("ERROR", "agent.test", "failed: boom")
    assert first.more.startswith("Traceback (most recent call last):") and "RuntimeError: boom" in first.more
    assert second.level == "INFO" and "'two %s %s'" in second.message and "only one" in second.message


def test_levels_by_name() -> None:
    assert logger.level_of("debug") == logger.DEBUG and logger.level_of("WARNING") == logger.WARNING
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        logger.level_of("loud")


def test_unconfigured_only_warnings_are_written() -> None:
    """The emulator drives many agents in one process and configures nothing: as logging's last resort."""
    probe = (
        "from agent.logger import Logger; Logger('agent.x').info('quiet'); Logger('agent.x').warning('loud')"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert [r.message for r in parse_lines(done.stderr)] == ["loud"]


def test_the_agent_s_device_path_imports_no_logging() -> None:
    probe = (
        "import sys; sys.modules.update(msgspec=None, isal=None);"
        " import agent.cli, agent.runner, agent.publisher.paho_transport;"
        " from agent.samplers import build_samplers; build_samplers();"
        " real = lambda m: m in sys.modules and '__file__' in vars(sys.modules[m]);"
        " print(sorted(m for m in ('logging', 'traceback', 'tokenize', 'linecache') if real(m)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
