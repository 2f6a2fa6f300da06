"""How a home's results moved between two evaluations: appeared, changed, cleared.

A result *changes* when its state (a style, a risk band) or its rule's version moves;
new figures alone refresh the evidence without a history entry, so the history says
when a flag appeared, changed and cleared rather than repeating every evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]  # (gateway_id, rule)


@dataclass
class ResultChanges:
    """What to write: new rows, refreshed rows (and whether they changed), removed keys, history."""

    appeared: list[dict[str, Any]] = field(default_factory=list)
    refreshed: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    cleared: list[Key] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def diff_results(current: dict[Key, dict[str, Any]], results: list[dict[str, Any]]) -> ResultChanges:
    """Compare stored results (state, version, score, sentence per key) with a new evaluation's."""
    out = ResultChanges()
    new = {(r["gateway_id"], r["rule"]): r for r in results}
    appeared, refreshed, history = out.appeared, out.refreshed, out.history
    for key, r in new.items():
        old = current.get(key)
        if old is not None and old["state"] == r["state"] and old["version"] == r["version"]:
            refreshed.append((r, False))  # the common case: new figures only, no history entry
            continue
        if old is None:
            appeared.append(r)
            change = "appeared"
        else:
            refreshed.append((r, True))
            change = "changed"
        history.append(
            {"gateway_id": key[0], "rule": key[1], "version": r["version"], "state": r["state"],
             "score": r["score"], "sentence": r["sentence"], "change": change}
        )  # fmt: skip
    for key, old in current.items():
        if key not in new:
            out.cleared.append(key)
            history.append({"gateway_id": key[0], "rule": key[1], "change": "cleared", **old})
    return out
