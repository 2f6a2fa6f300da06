"""The agent's CLI on this very machine (real /proc), as a gateway vendor would first try it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from protocol import models


def test_sample_json_prints_a_valid_report_of_this_machine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # no probes or scans from a test: they would send traffic off this machine
    conf = tmp_path / "agent.toml"
    conf.write_text('[agent]\ndisabled_samplers = ["quality", "neighbours", "apps"]\n')
    assert main(["sample", "--json", "--wait", "0.2", "--gateway-id", "gw-local", "--config", str(conf)]) == 0
    message = json.loads(capsys.readouterr().out)
    report = models.validate(message)
    assert isinstance(report, models.Report)
    assert message["body"]["samplers"]["system"]["state"] == "ok"
    assert message["body"]["system"]["memory_total_kib"] > 0
    assert "cpu_usage_pct" in message["body"]["system"]
    assert any(i["name"] for i in message["body"]["interfaces"])


def test_bad_config_exits_2_with_a_message(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--config", "/nonexistent/agent.toml"]) == 2
    assert "cannot read configuration" in capsys.readouterr().err
