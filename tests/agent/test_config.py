from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, load_config


def test_defaults_file_env_and_flags_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text('[agent]\ngateway_id = "gw-file"\ninterval_s = 60\nlan_interfaces = ["br-lan", "eth1"]\n')
    monkeypatch.setenv("HOMESCOPE_INTERVAL_S", "30")
    config = load_config(str(conf), {"mqtt_url": "mqtt://broker:1884"})
    assert (config.gateway_id, config.interval_s, config.mqtt_url) == ("gw-file", 30, "mqtt://broker:1884")
    assert config.lan_interfaces == ("br-lan", "eth1")


def test_uci_file(tmp_path: Path) -> None:
    conf = tmp_path / "homescope"
    conf.write_text(
        "config agent 'main'\n"
        "\toption gateway_id 'gw-uci'\n"
        "\toption interval_s '900'\n"
        "\tlist lan_interfaces 'br-lan'\n"
        "\tlist lan_interfaces 'eth1'\n"
        "config other 'x'\n\toption nothing 'here'\n"
    )
    config = load_config(str(conf))
    assert config.gateway_id == "gw-uci" and config.lan_interfaces == ("br-lan", "eth1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[agent]\ninterval = 5\n", "unknown configuration key 'interval'"),
        ('[agent]\ninterval_s = "often"\n', "interval_s"),
        ("[agent]\ninterval_s = 0\n", "between 1 and 86400"),
        ('[agent]\nmqtt_url = "http://x"\n', "mqtt_url"),
        ('[agent]\ngateway_id = "a/b"\n', "gateway_id"),
        ("[agent\n", "agent.toml"),
    ],
)
def test_bad_configuration_fails_fast_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("'", ".")):
        load_config(str(conf))


def test_publish_offset_is_stable_and_spread() -> None:
    offsets = {load_config(None, {"gateway_id": f"gw-{i}"}).publish_offset_s() for i in range(50)}
    assert len(offsets) > 40 and all(0 <= o <= 120 for o in offsets)
    assert (
        load_config(None, {"gateway_id": "gw-1"}).publish_offset_s()
        == load_config(None, {"gateway_id": "gw-1"}).publish_offset_s()
    )
