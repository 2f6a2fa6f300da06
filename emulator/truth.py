"""The fleet's ground truth and its CRM export, written beside a back-fill.

``truth.json`` says, per gateway, which personas built the home and which labels, flags
and warnings a good profiling system should give it. ``subscribers.csv`` is what an
operator's CRM would hold for the same homes (the columns ``homescope-collector
import-subscribers`` reads), so plan- and area-based rules have their inputs.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulator.household import HomeSpec, draw_home
from emulator.personas import assign

#: Every label, flag and warning the ground truth speaks about.
OUTCOMES = (
    "heavy_gamer", "video_lover", "reader", "livestreamer", "soho",
    "mesh_or_fttr", "plan_upgrade", "video_package", "acceleration_package", "traffic_package",
    "churn_risk", "inactive",
)  # fmt: skip
CRM_COLUMNS = (
    "subscriber_id", "gateway_id", "plan_down_mbps", "plan_up_mbps", "price", "contract_end", "area", "community",
)  # fmt: skip


def fleet_specs(
    mix: Mapping[str, float], homes: int, prefix: str = "emu", seed: int = 1, areas: int = 25
) -> list[HomeSpec]:
    """Homes for a persona mix, interleaved so any prefix of the fleet is mixed too, over ``areas``
    CRM areas (a small demo fleet needs few, so each area passes the minimum group size)."""
    names = assign(mix, homes)
    order = sorted(range(homes), key=lambda i: ((i * 7919) % homes, i))
    return [
        draw_home(f"{prefix}-{n:05d}", names[i], seed * 1_000_003 + n, areas) for n, i in enumerate(order)
    ]


def truth_document(specs: list[HomeSpec], span: tuple[int, int]) -> dict[str, object]:
    """The JSON ground truth of a fleet."""
    return {
        "span": list(span),
        "outcomes": list(OUTCOMES),
        "homes": {s.gateway_id: {"personas": list(s.personas), "truth": sorted(s.truth)} for s in specs},
    }


def write_truth(path: str | Path, specs: list[HomeSpec], span: tuple[int, int]) -> None:
    """Write ``truth.json``."""
    Path(path).write_text(json.dumps(truth_document(specs, span), indent=1) + "\n", encoding="utf-8")


def crm_rows(specs: list[HomeSpec], span_end: int) -> list[dict[str, str]]:
    """The CRM rows of a fleet (contract ends relative to the end of the simulated span)."""
    end = datetime.fromtimestamp(span_end, UTC).date()
    return [
        {
            "subscriber_id": s.subscriber_id,
            "gateway_id": s.gateway_id,
            "plan_down_mbps": str(s.plan_mbps),
            "plan_up_mbps": str(max(10, s.plan_mbps // 5)),
            "price": f"{s.price:.2f}",
            "contract_end": (end + timedelta(days=s.contract_days)).isoformat(),
            "area": s.area,
            "community": s.community,
        }
        for s in specs
    ]


def write_crm(path: str | Path, specs: list[HomeSpec], span_end: int) -> None:
    """Write the CRM export as CSV."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CRM_COLUMNS)
        writer.writeheader()
        writer.writerows(crm_rows(specs, span_end))
