"""The rule seam: ``@rule("name", kind=...)`` registers a pure function of a profile and its config.

A rule returns ``None`` (does not apply) or a :class:`Finding` with the metric values that
fired it and a human sentence; :func:`run_rules` wraps it into a :class:`Result` carrying
the rule id, version, window and thresholds, so every label, flag and warning explains
itself. Built-in rules (``collector.profiles.builtin``) use the same decorator. Thresholds
come from configuration (``thresholds.toml``), never from the rule's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import collector.profiles.builtin  # noqa: F401  (registers the built-in rules on import)
from collector.profiles.config import ProfilesConfig
from collector.profiles.profile import Profile
from collector.profiles.registry import KINDS, REGISTRY, Finding, Kind, Result, Rule, RuleFn, rule

__all__ = [
    "KINDS",
    "REGISTRY",
    "Finding",
    "Kind",
    "Result",
    "Rule",
    "RuleFn",
    "plan_rules",
    "rule",
    "rules",
    "run_rules",
]


def rules() -> dict[str, Rule]:
    """Every registered rule, built-ins included."""
    return REGISTRY


def plugin_defaults() -> dict[str, dict[str, Any]]:
    """Default thresholds brought by rules registered with ``defaults=`` (for ``load_config``)."""
    return {name: {"window": r.window, **r.defaults} for name, r in rules().items() if r.defaults}


def windows_needed(config: ProfilesConfig) -> set[str]:
    """The windows the enabled rules run over."""
    return {config.window_of(name, r.window) for name, r in rules().items()}


@dataclass(frozen=True)
class RulePlan:
    """Each enabled rule with its window and thresholds, resolved once per evaluation."""

    steps: tuple[tuple[Rule, str, dict[str, Any], dict[str, Any]], ...]  # rule, window, all, shown


def plan_rules(config: ProfilesConfig) -> RulePlan:
    """Resolve every registered rule's window and thresholds from ``config``."""
    steps = []
    for name, r in rules().items():
        thresholds = config.rule(name) or r.defaults
        shown = {k: v for k, v in thresholds.items() if k != "window"}
        steps.append((r, config.window_of(name, r.window), thresholds, shown))
    return RulePlan(tuple(steps))


def run_rules(
    profiles: dict[str, Profile], config: ProfilesConfig, plan: RulePlan | None = None
) -> list[Result]:
    """Every rule over the profile of its window; the results that fired."""
    out: list[Result] = []
    for r, window, thresholds, shown in (plan or plan_rules(config)).steps:
        profile = profiles[window]
        finding = r.fn(profile, thresholds)
        if finding is None:
            continue
        out.append(
            Result(
                gateway_id=profile.gateway_id,
                rule=r.name,
                kind=r.kind,
                version=r.version,
                window=window,
                state=finding.state,
                score=finding.score,
                thresholds=shown,
                metrics=finding.metrics,
                factors=finding.factors,
                sentence=finding.sentence,
            )
        )
    return out


def result_rows(profiles: dict[str, Profile], plan: RulePlan) -> list[dict[str, Any]]:
    """:func:`run_rules` in the form the store saves (evidence as one dict), without the
    intermediate :class:`Result` objects: an evaluation makes one per fired rule per home."""
    out: list[dict[str, Any]] = []
    for r, window, thresholds, shown in plan.steps:
        profile = profiles[window]
        finding = r.fn(profile, thresholds)
        if finding is None:
            continue
        out.append(
            {
                "gateway_id": profile.gateway_id,
                "rule": r.name,
                "kind": r.kind,
                "version": r.version,
                "window": window,
                "state": finding.state,
                "score": finding.score,
                "sentence": finding.sentence,
                "evidence": {"thresholds": shown, "metrics": finding.metrics, "factors": finding.factors},
            }
        )
    return out
