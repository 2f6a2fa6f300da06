"""Thresholds and weights from configuration: the shipped defaults, overlaid by an operator file.

The defaults live in ``thresholds.toml`` beside this module (one documented place). An
operator's file holds only what it changes; unknown sections or keys and values of the
wrong type fail at start-up with the key named, never at the first evaluation.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

ENV_VAR = "HOMESCOPE_PROFILES_CONFIG"
WINDOWS = {"day": 1, "7d": 7, "30d": 30}
T = TypeVar("T")


class ConfigError(ValueError):
    """The profiles configuration is not valid; the message names the key."""


@dataclass(frozen=True)
class ProfilesConfig:
    """Everything the profile builder and the rules read from configuration."""

    profile: dict[str, Any]
    wifi_score: dict[str, float]
    needs: dict[str, dict[str, float]]
    rules: dict[str, dict[str, Any]]
    evaluate_every_s: float
    min_group: int
    # figures derived from the settings (bucket positions, sets), computed once per configuration
    # instead of once per home; travels with the configuration to evaluation workers
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def derived(self, key: str, build: Callable[[ProfilesConfig], T]) -> T:
        """``build(self)``, computed on first use and kept (the settings never change)."""
        found = self._derived.get(key)
        if found is None:
            found = self._derived[key] = build(self)
        return cast(T, found)

    def rule(self, name: str) -> dict[str, Any]:
        """The thresholds of one rule (empty for a rule that has none)."""
        return self.rules.get(name, {})

    def window_of(self, name: str, default: str) -> str:
        """The window a rule runs over."""
        return str(self.rules.get(name, {}).get("window", default))


def _defaults() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("thresholds.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float)
    return type(default) is type(value)


def _overlay(base: dict[str, Any], extra: dict[str, Any], where: str, open_keys: bool) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        path = f"{where}.{key}" if where else key
        if key not in base:
            if not open_keys:
                raise ConfigError(f"profiles config: unknown key {path}")
            out[key] = value
            continue
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"profiles config: {path} must be a table")
            # a category's needs may be added; every other table's keys are fixed
            out[key] = _overlay(base[key], value, path, open_keys=path == "needs")
        elif not _same_kind(base[key], value):
            raise ConfigError(f"profiles config: {path} must be a {type(base[key]).__name__}, got {value!r}")
        else:
            out[key] = value
    return out


def load_config(
    path: str | Path | None = None, extra_rules: dict[str, dict[str, Any]] | None = None
) -> ProfilesConfig:
    """The defaults overlaid with ``path`` (or ``$HOMESCOPE_PROFILES_CONFIG``, when set).

    ``extra_rules`` are default thresholds of rules registered outside homescope.
    """
    data = _defaults()
    for name, defaults in (extra_rules or {}).items():
        data["rules"].setdefault(name, dict(defaults))
    path = path or os.environ.get(ENV_VAR) or None
    if path:
        try:
            override = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"profiles config: cannot read {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"profiles config: {path} is not valid TOML: {exc}") from exc
        data = _overlay(data, override, "", open_keys=False)
    for name, section in data["rules"].items():
        window = section.get("window", "7d")
        if window not in WINDOWS:
            raise ConfigError(f"profiles config: rules.{name}.window must be one of {sorted(WINDOWS)}")
    weights = {k: float(v) for k, v in data["wifi_score"].items()}
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ConfigError("profiles config: wifi_score weights must be >= 0 and not all 0")
    min_group = int(data["areas"]["min_group"])
    if min_group < 2:
        raise ConfigError("profiles config: areas.min_group must be at least 2")
    return ProfilesConfig(
        profile=dict(data["profile"]),
        wifi_score=weights,
        needs={k: {n: float(v) for n, v in d.items()} for k, d in data["needs"].items()},
        rules={k: dict(v) for k, v in data["rules"].items()},
        evaluate_every_s=float(data["schedule"]["evaluate_every_s"]),
        min_group=min_group,
    )
