"""Fleet pages the reports link to: the gateways list with filters, and an area's trends.

Filters of the gateways list (``/``, and its exports): ``status`` (online, offline),
``agent=outdated`` (not the newest agent version in the fleet), ``sampler=failing`` (a
sampler in state ``error`` in the latest report), ``cpu_min`` (latest window's CPU %), and
``from``/``to`` (last seen in those days). ``/areas/{name}`` draws an area's days: gateways
reporting, WAN traffic, mean CPU and the weak-signal share of Wi-Fi station windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from collector.web.charts import line_chart
from collector.web.ranges import DateRange, date_range, range_form
from protocol.codec import decode_stored

KNOWN = {"status", "agent", "sampler", "cpu_min", "from", "to", "range", "limit"}
AREA_DAYS = (
    "SELECT d.start, count(*) AS gateways, sum(d.wan_rx_bytes) + sum(d.wan_tx_bytes) AS bytes,"
    " sum(d.cpu_sum) AS cpu_sum, sum(d.cpu_n) AS cpu_n, sum(d.weak_station_windows) AS weak,"
    " sum(d.wifi_station_windows) AS wifi FROM gateway_daily d JOIN subscribers s ON s.gateway_id = d.gateway_id"
    " WHERE (s.area = ? OR s.community = ?) AND d.start >= ? AND d.start < ? GROUP BY d.start ORDER BY d.start"
)
LATEST = (
    "SELECT g.gateway_id, coalesce(r.payload, g.latest_payload) AS payload FROM gateways g LEFT JOIN reports r"
    " ON r.gateway_id = g.gateway_id AND r.epoch = g.latest_epoch AND r.seq = g.latest_seq WHERE g.gateway_id IN "
)


def _version(text: str | None) -> tuple[int, ...]:
    parts = []
    for piece in (text or "").split("."):
        digits = "".join(ch for ch in piece if ch in "0123456789")
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class GatewayFilters:
    """The gateways list's query."""

    status: str | None = None
    outdated: bool = False
    failing: bool = False
    cpu_min: float | None = None
    span: DateRange | None = None
    limit: int = 1000

    @classmethod
    def of(cls, query: Mapping[str, str]) -> GatewayFilters:
        """Parsed and checked: a 400 names the first bad or unknown parameter."""
        unknown = sorted(set(query) - KNOWN)
        if unknown:
            raise web.HTTPBadRequest(
                text=f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(KNOWN))}"
            )
        status = query.get("status") or None
        if status not in (None, "online", "offline"):
            raise web.HTTPBadRequest(text="status must be online or offline")
        if query.get("agent") not in (None, "", "outdated"):
            raise web.HTTPBadRequest(text="agent must be outdated")
        if query.get("sampler") not in (None, "", "failing"):
            raise web.HTTPBadRequest(text="sampler must be failing")
        cpu_raw = query.get("cpu_min") or None
        if cpu_raw is not None and not (cpu_raw.isascii() and cpu_raw.isdigit() and int(cpu_raw) <= 100):
            raise web.HTTPBadRequest(text="cpu_min must be an integer from 0 to 100")
        limit = query.get("limit", "1000")
        if not (limit.isascii() and limit.isdigit() and len(limit) < 19) or not 1 <= int(limit) <= 10_000:
            raise web.HTTPBadRequest(text="limit must be an integer from 1 to 10000")
        return cls(status, query.get("agent") == "outdated", query.get("sampler") == "failing",
                   float(cpu_raw) if cpu_raw is not None else None, date_range(query), int(limit))  # fmt: skip

    def query(self) -> dict[str, str]:
        q = {"status": self.status or "", "agent": "outdated" if self.outdated else "",
             "sampler": "failing" if self.failing else "", "cpu_min": f"{self.cpu_min:g}" if self.cpu_min is not None else ""}  # fmt: skip
        if self.span is not None:
            q.update(self.span.query())
        return {k: v for k, v in q.items() if v}


async def _failing(db: Any, ids: list[str]) -> dict[str, list[str]]:
    """Samplers in state ``error`` in each gateway's latest report."""
    out: dict[str, list[str]] = {}
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        for row in await db.fetch(LATEST + "(" + ", ".join("?" * len(part)) + ")", part):
            if not row["payload"]:
                continue
            samplers = (decode_stored(bytes(row["payload"])).get("body") or {}).get("samplers") or {}
            bad = sorted(n for n, s in samplers.items() if isinstance(s, dict) and s.get("state") == "error")
            if bad:
                out[str(row["gateway_id"])] = bad
    return out


async def gateway_rows(store: Any, filters: GatewayFilters) -> list[dict[str, Any]]:
    """The gateways list rows (latest figures, ``failing`` samplers, ``outdated``) that pass ``filters``."""
    rows = await store.list_gateways(filters.limit)
    newest = max((_version(r.get("agent_version")) for r in rows if r.get("agent_version")), default=())
    failing = await _failing(store.db, [str(r["gateway_id"]) for r in rows])
    out = []
    for r in rows:
        r["failing"] = failing.get(str(r["gateway_id"]), [])
        r["outdated"] = bool(r.get("agent_version")) and _version(r.get("agent_version")) < newest
        if filters.status and r.get("status") != filters.status:
            continue
        if (filters.outdated and not r["outdated"]) or (filters.failing and not r["failing"]):
            continue
        if filters.cpu_min is not None and (r.get("cpu_pct") is None or r["cpu_pct"] < filters.cpu_min):
            continue
        if filters.span is not None and not (
            filters.span.start <= (r.get("last_seen") or 0) < filters.span.end
        ):
            continue
        out.append(r)
    return out


def filter_form(filters: GatewayFilters) -> str:
    """The gateways list's filters, the date range and the export links."""

    def option(name: str, value: str, label: str, chosen: bool) -> str:
        return f'<option value="{value}"{" selected" if chosen else ""}>{label}</option>'

    form = (
        '<form class="filters" method="get" action="/">'
        '<label>Status<select name="status">' + option("status", "", "any", filters.status is None)
        + option("status", "online", "online", filters.status == "online")
        + option("status", "offline", "offline", filters.status == "offline") + "</select></label>"
        '<label>Agent<select name="agent">' + option("agent", "", "any", not filters.outdated)
        + option("agent", "outdated", "outdated", filters.outdated) + "</select></label>"
        '<label>Samplers<select name="sampler">' + option("sampler", "", "any", not filters.failing)
        + option("sampler", "failing", "failing", filters.failing) + "</select></label>"
        f'<label>CPU at least %<input name="cpu_min" size="4" value="{escape(f"{filters.cpu_min:g}") if filters.cpu_min is not None else ""}"></label>'
        '<button type="submit">Filter</button><a href="/">clear</a></form>'
    )  # fmt: skip
    q = urlencode(filters.query())
    exports = (
        f'<p class="exports">Download: <a id="export-csv" href="{escape("/gateways.csv?" + q)}">CSV</a> · '
        f'<a id="export-json" href="{escape("/gateways.json?" + q)}">JSON</a></p>'
    )
    keep = {k: v for k, v in filters.query().items() if k not in ("from", "to")}
    return form + range_form("/", filters.span, keep) + exports


async def area_trends(db: Any, name: str, span: DateRange) -> list[dict[str, Any]]:
    """One row per day of ``span`` with gateways of the area (or community) ``name``."""
    rows = await db.fetch(AREA_DAYS, (name, name, span.start, span.end))
    return [
        {"start": int(r["start"]), "gateways": int(r["gateways"]), "gb": int(r["bytes"] or 0) / 1e9,
         "cpu_pct": float(r["cpu_sum"]) / int(r["cpu_n"]) if r["cpu_n"] else None,
         "weak_pct": 100 * int(r["weak"] or 0) / int(r["wifi"]) if r["wifi"] else None}
        for r in rows
    ]  # fmt: skip


def area_page_body(name: str, days: list[dict[str, Any]], span: DateRange, min_group: int) -> str:
    """An area's trends: charts with date axes, and the table they draw."""

    def series(key: str) -> list[tuple[int, float | None]]:
        return [(d["start"] + 43200, d[key]) for d in days]

    most = max((d["gateways"] for d in days), default=0)
    # a day with fewer gateways than the minimum group shows its count, never its figures:
    # they would be one or two homes' own (the area's other days still show theirs)
    small = sum(1 for d in days if d["gateways"] < min_group)
    days = [
        d if d["gateways"] >= min_group else {**d, "gb": None, "cpu_pct": None, "weak_pct": None}
        for d in days
    ]
    head = f'<h2>Area {escape(name)}</h2><p><a href="{escape("/homes?" + urlencode({"area": name}))}">its homes</a> · <a href="/areas">all areas</a></p>'
    form = range_form(f"/areas/{quote(name, safe='')}", span)
    if most < min_group:
        return head + form + f'<p id="suppressed">Not shown: fewer than {min_group} gateways report here.</p>'
    charts = (
        line_chart("Gateways reporting per day", series("gateways"), " gw")
        + line_chart("WAN traffic per day, GB", series("gb"), " GB")
        + line_chart("Mean CPU per day, %", series("cpu_pct"), "%", fixed_max=100)
        + line_chart("Wi-Fi station windows with a weak signal, %", series("weak_pct"), "%", fixed_max=100)
    )
    rows = "".join(
        f'<tr><td>{datetime.fromtimestamp(d["start"], UTC).date().isoformat()}</td><td class="num">{d["gateways"]}</td>'
        f'<td class="num">{"–" if d["gb"] is None else format(d["gb"], ".1f")}</td><td class="num">{"–" if d["cpu_pct"] is None else format(d["cpu_pct"], ".1f")}</td>'
        f'<td class="num">{"–" if d["weak_pct"] is None else format(d["weak_pct"], ".1f")}</td></tr>'
        for d in days
    )
    table = (
        '<table id="area-days"><thead><tr><th>Day</th><th class="num">Gateways</th><th class="num">WAN GB</th>'
        f'<th class="num">Mean CPU %</th><th class="num">Weak-signal %</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    note = (
        f'<p id="small-days">{small} days with fewer than {min_group} gateways reporting: their figures are not shown.</p>'
        if small
        else ""
    )
    return head + form + f'<div class="charts">{charts}</div>{note}{table}'


def default_span(today: datetime | None = None) -> DateRange:
    """The last 30 days, today included."""
    day = (today or datetime.now(UTC)).date()
    return DateRange(day - timedelta(days=29), day)
