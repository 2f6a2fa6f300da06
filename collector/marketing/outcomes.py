"""The CRM's outcome export: orders, plan changes, cancellations and opt-outs.

A CSV with a header row (any column order, names case-insensitive):

| column | required | meaning |
| --- | --- | --- |
| ``subscriber_id`` | yes | the subscriber |
| ``kind`` | yes | ``order``, ``plan_change``, ``cancel``, ``opt_out`` or ``left`` (the subscriber left) |
| ``offer_id`` | for order/cancel | an offer of the catalogue (``plan_change`` defaults to ``plan_upgrade``) |
| ``at`` | yes | ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS]`` (UTC) or epoch seconds |
| ``plan_down_mbps`` | for plan_change | the new plan speed, Mbit/s |
| ``contact`` fields ``name``, ``phone``, ``address`` | no | ignored here (see ``import-contacts``) |

Bad rows are reported with their line number (the header is line 1) and skipped; good rows
are kept, so one broken row never costs the rest of the file.
"""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collector.crm import csv_reader

KINDS = ("order", "plan_change", "cancel", "opt_out", "left")

REQUIRED = ("subscriber_id", "kind", "at")
COLUMNS = (*REQUIRED, "offer_id", "plan_down_mbps")


@dataclass(frozen=True)
class OutcomeRow:
    """One good row of an outcome file."""

    line: int
    subscriber_id: str
    kind: str
    offer_id: str
    at: float
    plan_down_mbps: float | None


@dataclass
class OutcomeImport:
    """The good rows and the bad ones' ``(line, message)``."""

    rows: list[OutcomeRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def parse_time(value: str) -> float:
    """An outcome time as epoch seconds (UTC)."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"at is not a time: {value!r}")
        return number
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"at is not YYYY-MM-DD[THH:MM:SS] or epoch seconds: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _row(line: int, raw: dict[str, str], offers: Container[str]) -> OutcomeRow:
    v = {k: (raw.get(k) or "").strip() for k in COLUMNS}
    for name in REQUIRED:
        if not v[name]:
            raise ValueError(f"{name} is missing")
    if v["kind"] not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}: {v['kind']!r}")
    offer = v["offer_id"] or ("plan_upgrade" if v["kind"] == "plan_change" else "")
    if v["kind"] in ("order", "cancel", "plan_change") and offer not in offers:
        raise ValueError(f"offer_id is not an offer of the catalogue: {offer!r}")
    plan: float | None = None
    if v["plan_down_mbps"]:
        try:
            plan = float(v["plan_down_mbps"])
        except ValueError:
            raise ValueError(f"plan_down_mbps is not a number: {v['plan_down_mbps']!r}") from None
        if not math.isfinite(plan) or plan <= 0:
            raise ValueError(f"plan_down_mbps must be > 0: {v['plan_down_mbps']!r}")
    if v["kind"] == "plan_change" and plan is None:
        raise ValueError("plan_down_mbps is missing (a plan change needs the new speed)")
    return OutcomeRow(line, v["subscriber_id"][:128], v["kind"], offer, parse_time(v["at"]), plan)


def parse_outcomes(text: str, offers: Container[str]) -> OutcomeImport:
    """Check every row of an outcome CSV against the catalogue's offer ids."""
    result = OutcomeImport()
    reader = csv_reader(text, REQUIRED, result.errors)
    if reader is None:
        return result
    for raw in reader:
        line = reader.line_num
        if None in raw:
            result.errors.append((line, f"{len(raw[None])} more field(s) than the header"))
            continue
        if all(not (x or "").strip() for x in raw.values()):
            continue
        try:
            result.rows.append(_row(line, raw, offers))
        except ValueError as exc:
            result.errors.append((line, str(exc)))
    return result
