"""Thresholds come from configuration: defaults, an operator's overrides, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.profiles.config import ConfigError, load_config


def test_the_shipped_defaults_cover_every_built_in_rule() -> None:
    from collector.profiles.rules import rules

    config = load_config()
    assert set(rules()) <= set(config.rules)
    assert config.rule("heavy_gamer")["min_hours_per_day"] == 2.0
    assert config.window_of("churn_risk", "7d") == "30d"
    assert config.min_group == 10 and config.evaluate_every_s == 900


def test_an_operator_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[rules.heavy_gamer]\nmin_hours_per_day = 3\nwindow = '30d'\n[needs.music]\nkbps = 320\n")
    config = load_config(path)
    assert config.rule("heavy_gamer")["min_hours_per_day"] == 3
    assert config.rule("heavy_gamer")["min_day_minutes"] == 60
    assert config.window_of("heavy_gamer", "7d") == "30d"
    assert config.needs["music"] == {"kbps": 320.0}


def test_the_environment_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.toml"
    path.write_text("[areas]\nmin_group = 25\n")
    monkeypatch.setenv("HOMESCOPE_PROFILES_CONFIG", str(path))
    assert load_config().min_group == 25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules.heavy_gamer]\nmin_hours = 2\n", "unknown key rules.heavy_gamer.min_hours"),
        (
            "[rules.heavy_gamer]\nmin_hours_per_day = 'lots'\n",
            "rules.heavy_gamer.min_hours_per_day must be a float",
        ),
        ("[rules.heavy_gamer]\nwindow = '14d'\n", "rules.heavy_gamer.window must be one of"),
        ("[rules.no_such_rule]\nx = 1\n", "unknown key rules.no_such_rule"),
        ("[profile]\nown_operators = 'Orange'\n", "profile.own_operators must be a list"),
        ("[areas]\nmin_group = 1\n", "areas.min_group must be at least 2"),
        ("[wifi_score]\nsignal = -1.0\n", "wifi_score weights"),
        ("rules = 3\n", "rules must be a table"),
        ("[rules\n", "not valid TOML"),
    ],
)
def test_mistakes_stop_at_start_up_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_config(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
