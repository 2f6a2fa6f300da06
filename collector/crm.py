"""The operator's CRM export: which subscriber, plan and area each gateway serves.

A CSV with a header row (columns in any order; names are case-insensitive):

| column | required | meaning |
| --- | --- | --- |
| ``gateway_id`` | yes | the gateway's id (as in its MQTT topic) |
| ``subscriber_id`` | yes | the operator's subscriber or account id |
| ``plan_down_mbps`` | yes | subscribed download speed, Mbit/s (> 0) |
| ``plan_up_mbps`` | no | subscribed upload speed, Mbit/s |
| ``price`` | no | monthly price, in the operator's currency (>= 0) |
| ``contract_end`` | no | ``YYYY-MM-DD`` |
| ``area`` | no | area (micro-region) for the area view |
| ``community`` | no | community / building within the area |
| ``tenure_months`` | no | months since the subscriber joined (>= 0); short tenure raises churn risk |
| ``complaints`` | no | complaints or trouble tickets in the last 90 days (>= 0) |
| ``arrears`` | no | amount overdue, in the operator's currency (>= 0) |

Bad rows are reported with their line number (the header is line 1) and skipped; good
rows are kept. A gateway listed twice keeps its last row (reported as a warning).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from protocol.topics import is_valid_gateway_id

REQUIRED = ("gateway_id", "subscriber_id", "plan_down_mbps")
OPTIONAL = (
    "plan_up_mbps", "price", "contract_end", "area", "community", "tenure_months", "complaints", "arrears",
)  # fmt: skip
COLUMNS = REQUIRED + OPTIONAL
MAX_TEXT = 128


@dataclass
class ImportResult:
    """Good rows (ready for ``Store.upsert_subscribers``) and what was wrong with the rest."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    warnings: list[tuple[int, str]] = field(default_factory=list)


def _number(value: str, name: str, *, positive: bool = False) -> float | None:
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} is not a number: {value!r}")
    if number < 0 or (positive and number == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}: {value!r}")
    return number


def _row(raw: dict[str, str]) -> dict[str, Any]:
    values = {k: (raw.get(k) or "").strip() for k in COLUMNS}
    for name in REQUIRED:
        if not values[name]:
            raise ValueError(f"{name} is missing")
    for name in ("gateway_id", "subscriber_id", "area", "community"):
        if len(values[name]) > MAX_TEXT:
            raise ValueError(f"{name} is longer than {MAX_TEXT} characters")
    if not is_valid_gateway_id(values["gateway_id"]):
        raise ValueError(f"gateway_id is not a valid gateway id: {values['gateway_id']!r}")
    end = values["contract_end"]
    if end:
        try:
            date.fromisoformat(end)
        except ValueError:
            raise ValueError(f"contract_end is not a YYYY-MM-DD date: {end!r}") from None
    return {
        "gateway_id": values["gateway_id"],
        "subscriber_id": values["subscriber_id"],
        "plan_down_mbps": _number(values["plan_down_mbps"], "plan_down_mbps", positive=True),
        "plan_up_mbps": _number(values["plan_up_mbps"], "plan_up_mbps", positive=True),
        "price": _number(values["price"], "price"),
        "contract_end": end or None,
        "area": values["area"] or None,
        "community": values["community"] or None,
        "tenure_months": _number(values["tenure_months"], "tenure_months"),
        "complaints": _number(values["complaints"], "complaints"),
        "arrears": _number(values["arrears"], "arrears"),
    }


def csv_reader(
    text: str, required: Sequence[str], errors: list[tuple[int, str]]
) -> csv.DictReader[str] | None:
    """A reader over a CRM export with its header names trimmed and lower-cased, or ``None`` when the
    file is empty or lacks a ``required`` column (the reason appended to ``errors`` as line 1)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a byte-order mark
    if reader.fieldnames is None:
        errors.append((1, "the file is empty"))
        return None
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    missing = [c for c in required if c not in reader.fieldnames]
    if missing:
        errors.append((1, f"missing column(s): {', '.join(missing)}"))
        return None
    return reader


def parse_subscribers(text: str) -> ImportResult:
    """Check every row of a CRM CSV export; see the module docstring for the columns."""
    result = ImportResult()
    reader = csv_reader(text, REQUIRED, result.errors)
    if reader is None or reader.fieldnames is None:
        return result
    unknown = [f for f in reader.fieldnames if f not in COLUMNS]
    if unknown:
        result.warnings.append((1, f"ignored column(s): {', '.join(unknown)}"))
    seen: dict[str, int] = {}
    by_gateway: dict[str, dict[str, Any]] = {}
    for raw in reader:
        line = reader.line_num
        if None in raw:
            result.errors.append((line, f"{len(raw[None])} more field(s) than the header"))
            continue
        if all(not (v or "").strip() for v in raw.values()):
            continue  # blank line
        try:
            row = _row(raw)
        except ValueError as exc:
            result.errors.append((line, str(exc)))
            continue
        gid = row["gateway_id"]
        if gid in seen:
            result.warnings.append((line, f"gateway {gid} already on line {seen[gid]}: this line wins"))
        seen[gid] = line
        by_gateway[gid] = row
    result.rows = list(by_gateway.values())
    return result
