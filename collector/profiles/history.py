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
    for key, r in new.items():
        old = current.get(key)
        entry = {
            "gateway_id": key[0],
            "rule": key[1],
            **{k: r[k] for k in ("version", "state", "score", "sentence")},
        }
        if old is None:
            out.appeared.append(r)
            out.history.append({**entry, "change": "appeared"})
        elif (old["state"], old["version"]) != (r["state"], r["version"]):
            out.refreshed.append((r, True))
            out.history.append({**entry, "change": "changed"})
        else:
            out.refreshed.append((r, False))
    for key, old in current.items():
        if key not in new:
            out.cleared.append(key)
            out.history.append({"gateway_id": key[0], "rule": key[1], "change": "cleared", **old})
    return out
