"""The shipped configuration and service files are valid for what reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent.config import load_config

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "packaging" / "openwrt" / "files"


def test_the_shipped_uci_config_loads() -> None:
    config = load_config(str(FILES / "homescope.config"))
    assert config.interval_s == 900
    assert config.mqtt_url.startswith("mqtts://")
    assert config.spool_quota_bytes == 2 * 1024 * 1024


def test_shell_scripts_parse() -> None:
    for script in (FILES / "homescope.init", FILES / "homescope-agent", ROOT / "scripts" / "demo.sh"):
        subprocess.run(["sh" if script.parent == FILES else "bash", "-n", str(script)], check=True)
