"""Segments: saved AND/OR conditions over home results, CRM fields and profile figures.

A definition is JSON. A condition is a one-key object naming a field; ``all``, ``any``
and ``not`` combine them::

    {"all": [{"flag": "mesh_or_fttr"}, {"area": ["north", "east"]},
             {"any": [{"wifi_score": {"lt": 55}}, {"flag": {"rule": "plan_upgrade", "since": "2026-12-01"}}]}]}

| field | value |
| --- | --- |
| ``label`` ``flag`` ``warning`` | a rule name, or ``{"rule": name, "since": "YYYY-MM-DD"}`` (appeared since) |
| ``area`` ``community`` ``plan`` | a string or a list of strings (``plan`` is the plan speed, e.g. ``"300"``) |
| ``wifi_score`` ``churn_score`` ``plan_down_mbps`` ``price`` ``devices`` | ``{"lt"/"lte"/"gt"/"gte"/"eq": number}`` |
| ``appeared_since`` | ``"YYYY-MM-DD"``: any of the home's current results appeared on or after that day |

A bad definition raises :class:`SegmentError` naming the place (``all[1].any[0]``) and the
field. :func:`compile_segment` turns a checked definition into one SQL condition over
``home_profiles p LEFT JOIN subscribers s`` (the same tables the homes list reads).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from collector.marketing import MarketingError

RESULT_FIELDS = ("label", "flag", "warning")
TEXT_FIELDS = {"area": "s.area", "community": "s.community", "plan": "s.plan_down_mbps"}
NUMBER_FIELDS = {
    "wifi_score": "p.wifi_score",
    "churn_score": "coalesce((SELECT r.score FROM home_results r WHERE r.gateway_id = p.gateway_id"
    " AND r.rule = 'churn_risk'), 0)",
    "plan_down_mbps": "s.plan_down_mbps",
    "price": "s.price",
    "devices": "p.devices",
}
OPERATORS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "="}
FIELDS = (*RESULT_FIELDS, *TEXT_FIELDS, *NUMBER_FIELDS, "appeared_since")
BASE = " FROM home_profiles p LEFT JOIN subscribers s ON s.gateway_id = p.gateway_id"


class SegmentError(MarketingError):
    """A segment definition that cannot run; the message names the place and the field."""


@dataclass
class Compiled:
    """A checked segment as SQL: ``WHERE`` text (``?`` placeholders), its parameters, and
    the rules it names (their sentences are the members' evidence)."""

    where: str
    params: list[Any] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def _day(value: Any, where: str) -> float:
    if not isinstance(value, str):
        raise SegmentError(f"{where}: expected a YYYY-MM-DD date, got {value!r}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise SegmentError(f"{where}: not a YYYY-MM-DD date: {value!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _result(kind: str, value: Any, where: str, known: Callable[[str], str | None], out: Compiled) -> str:
    since: float | None = None
    if isinstance(value, Mapping):
        extra = set(value) - {"rule", "since"}
        if extra:
            raise SegmentError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; known: rule, since")
        if "since" in value:
            since = _day(value["since"], f"{where}.since")
        value = value.get("rule")
    if not isinstance(value, str) or known(value) != kind:
        raise SegmentError(f"{where}: {value!r} is not a {kind} rule")
    out.rules.append(value)
    out.params.append(value)
    # IN over the covering (rule, gateway_id) index: the rule's homes are read, not every home
    # probed (a rule name has one kind, checked above)
    sql = "p.gateway_id IN (SELECT r.gateway_id FROM home_results r WHERE r.rule = ?"
    if since is not None:
        out.params.append(since)
        sql += " AND r.since >= ?"
    return sql + ")"


def _text(name: str, value: Any, where: str, out: Compiled) -> str:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
        raise SegmentError(f"{where}: {name} needs a string or a non-empty list of strings")
    if name == "plan":
        try:
            out.params += [float(v) for v in values]
        except ValueError:
            raise SegmentError(f"{where}: plan needs speeds in Mbit/s, got {values!r}") from None
    else:
        out.params += [str(v) for v in values]
    return f"{TEXT_FIELDS[name]} IN ({', '.join('?' * len(values))})"


def _number(name: str, value: Any, where: str, out: Compiled) -> str:
    if not isinstance(value, Mapping) or not value:
        raise SegmentError(f'{where}: {name} needs a comparison such as {{"lt": 55}}')
    parts = []
    for op, bound in value.items():
        if op not in OPERATORS:
            raise SegmentError(
                f"{where}: unknown comparison {op!r} for {name}; known: {', '.join(OPERATORS)}"
            )
        if not isinstance(bound, int | float) or isinstance(bound, bool):
            raise SegmentError(f"{where}: {name} {op} needs a number, got {bound!r}")
        parts.append(f"{NUMBER_FIELDS[name]} {OPERATORS[op]} ?")
        out.params.append(float(bound))
    return " AND ".join(parts)


def _node(node: Any, where: str, known: Callable[[str], str | None], out: Compiled) -> str:
    if not isinstance(node, Mapping) or len(node) != 1:
        raise SegmentError(f"{where}: a condition is an object with exactly one field, got {node!r}")
    ((name, value),) = node.items()
    if name in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise SegmentError(f"{where}.{name}: needs a non-empty list of conditions")
        joiner = " AND " if name == "all" else " OR "
        return (
            "(" + joiner.join(_node(v, f"{where}.{name}[{i}]", known, out) for i, v in enumerate(value)) + ")"
        )
    if name == "not":
        return "NOT (" + _node(value, f"{where}.not", known, out) + ")"
    if name in RESULT_FIELDS:
        return _result(name, value, f"{where}.{name}", known, out)
    if name in TEXT_FIELDS:
        return _text(name, value, f"{where}.{name}", out)
    if name in NUMBER_FIELDS:
        return _number(name, value, f"{where}.{name}", out)
    if name == "appeared_since":
        out.params.append(_day(value, f"{where}.appeared_since"))
        return "EXISTS (SELECT 1 FROM home_results r WHERE r.gateway_id = p.gateway_id AND r.since >= ?)"
    raise SegmentError(f"{where}: unknown field {name!r}; known: {', '.join(('all', 'any', 'not', *FIELDS))}")


def compile_segment(definition: Any, kind_of: Callable[[str], str | None]) -> Compiled:
    """Check ``definition`` and compile it; ``kind_of(rule)`` is a rule's kind or ``None``."""
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except ValueError as exc:
            raise SegmentError(f"segment: not JSON: {exc}") from None
    out = Compiled("")
    out.where = " WHERE " + _node(definition, "segment", kind_of, out)
    out.rules = list(dict.fromkeys(out.rules))
    return out
