"""A small evaluated fleet written straight into a store: CRM rows, profiles and results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from collector.profiles.rules import rules
from collector.store import Store
from collector.store.sql import Statement


def kind_of(name: str) -> str | None:
    """The registered rule's kind (what segments and the catalogue check names against)."""
    found = rules().get(name)
    return found.kind if found else None


@dataclass
class Home:
    gateway_id: str
    area: str = "north"
    community: str = "c1"
    plan: float = 100.0
    wifi: float = 70.0
    results: dict[str, str] = field(default_factory=dict)  # rule -> sentence
    since: float = 1_000.0
    churn: float | None = None


async def seed(store: Store, homes: list[Home]) -> None:
    """Write the homes as if imported and evaluated."""
    statements = []
    for h in homes:
        sid = "sub-" + h.gateway_id
        statements.append(
            Statement(
                "INSERT INTO subscribers (gateway_id, subscriber_id, plan_down_mbps, price, area, community, imported_at)"
                " VALUES (?, ?, ?, 50, ?, ?, 0)",
                (h.gateway_id, sid, h.plan, h.area, h.community),
            )
        )
        summary = {"wifi_score": h.wifi, "devices": 12, "gb_per_day": 3.0, "online_hours": 4.0}
        statements.append(
            Statement(
                "INSERT INTO home_profiles (gateway_id, evaluated_at, wifi_score, devices, gb_per_day, online_hours,"
                " competitor, summary) VALUES (?, 2000, ?, 12, 3.0, 4.0, 0, ?)",
                (h.gateway_id, h.wifi, json.dumps(summary)),
            )
        )
        for rule, sentence in h.results.items():
            statements.append(
                Statement(
                    "INSERT INTO home_results (gateway_id, rule, kind, version, time_window, state, score, sentence,"
                    " evidence, since, changed_at, evaluated_at) VALUES (?, ?, ?, 1, '7d', 'on', ?, ?, '{}', ?, ?, 2000)",
                    (
                        h.gateway_id,
                        rule,
                        kind_of(rule),
                        h.churn if rule == "churn_risk" else None,
                        sentence,
                        h.since,
                        h.since,
                    ),
                )
            )
    await store.db.transaction(statements)
