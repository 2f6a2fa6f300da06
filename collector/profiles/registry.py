"""The rule registry: ``@rule("name", kind=...)`` and the records a rule gives and is kept as.

Its own module so that the rules (``builtin``, plugins) and the code that runs them
(``rules``) both import it and not each other: ``rules`` imports ``builtin`` to register the
built-ins, ``builtin`` imports only this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

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
