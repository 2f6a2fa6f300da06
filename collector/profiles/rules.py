"""The rule seam: ``@rule("name", kind=...)`` registers a pure function of a profile and its config.

A rule returns ``None`` (does not apply) or a :class:`Finding` with the metric values that
fired it and a human sentence; :func:`run_rules` wraps it into a :class:`Result` carrying
the rule id, version, window and thresholds, so every label, flag and warning explains
itself. Built-in rules (``collector.profiles.builtin``) use the same decorator. Thresholds
come from configuration (``thresholds.toml``), never from the rule's code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from collector.profiles.config import ProfilesConfig
from collector.profiles.profile import Profile

Kind = Literal["label", "flag", "warning"]
KINDS: tuple[Kind, ...] = ("label", "flag", "warning")


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule found: the figures that fired it and the sentence an operator reads."""

    metrics: dict[str, Any]
    sentence: str
    state: str = "on"  # a variant that matters for history (e.g. a style or a risk band)
    score: float | None = None
    factors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Result:
    """One fired rule for one home, with everything needed to explain and audit it."""

    gateway_id: str
    rule: str
    kind: Kind
    version: int
    window: str
    state: str
    score: float | None
    thresholds: dict[str, Any]
    metrics: dict[str, Any]
    factors: list[dict[str, Any]]
    sentence: str

    def evidence(self) -> dict[str, Any]:
        """The JSON evidence stored with the result: thresholds, metric values, factors."""
        return {"thresholds": self.thresholds, "metrics": self.metrics, "factors": self.factors}


RuleFn = Callable[[Profile, dict[str, Any]], Finding | None]


@dataclass(frozen=True)
class Rule:
    """A registered rule."""

    name: str
    kind: Kind
    version: int
    window: str
    fn: RuleFn
    doc: str
    defaults: dict[str, Any]


REGISTRY: dict[str, Rule] = {}


def rule(
    name: str, *, kind: Kind, version: int = 1, window: str = "7d", defaults: dict[str, Any] | None = None
) -> Callable[[RuleFn], RuleFn]:
    """Register ``fn(profile, thresholds) -> Finding | None`` as rule ``name``.

    ``defaults`` are thresholds for a rule shipped outside ``thresholds.toml`` (a plugin);
    configuration still overrides them. Bump ``version`` when the logic changes, so the
    history shows which results came from which logic.
    """
    if kind not in KINDS:
        raise ValueError(f"rule {name}: kind must be one of {KINDS}")

    def register(fn: RuleFn) -> RuleFn:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise ValueError(f"rule {name} is registered twice")
        REGISTRY[name] = Rule(
            name, kind, version, window, fn, (fn.__doc__ or "").strip(), dict(defaults or {})
        )
        return fn

    return register


def rules() -> dict[str, Rule]:
    """Every registered rule, built-ins included."""
    import collector.profiles.builtin  # noqa: F401  (registers the built-ins on import)

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
