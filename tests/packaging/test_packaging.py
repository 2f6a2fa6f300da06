"""The shipped configuration and service files are valid for what reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent.config import load_config, parse_uci

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "packaging" / "openwrt" / "homescope-agent" / "files"


def test_the_shipped_uci_config_loads() -> None:
    config = load_config(str(FILES / "homescope.config"))
    assert config.interval_s == 900
    assert config.mqtt_url.startswith("mqtts://")
    assert config.spool_quota_bytes == 2 * 1024 * 1024


def test_the_shipped_config_is_disabled_until_configured() -> None:
    """opkg's default_postinst enables and starts every init script it installs: it must not connect yet."""
    assert parse_uci((FILES / "homescope.config").read_text())["enabled"] == "0"


def test_shell_scripts_parse() -> None:
    for script in (*FILES.iterdir(), ROOT / "scripts" / "demo.sh"):
        if script.name.endswith((".config", ".json")):
            continue
        subprocess.run(
            ["sh" if script.parent == FILES else "bash", "-n", str(script)], check=True, timeout=10
        )
