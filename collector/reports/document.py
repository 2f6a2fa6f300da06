"""A report as one self-contained HTML page (inline CSS and SVG charts), for screen and print.

The same page is the archive's HTML file and what Chromium prints to PDF. Every table links
to its CSV file (relative links: they work in the ``--out`` directory and in the archive).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from collector.reports.tables import Report, Table
from collector.web.charts import Bar, bar_chart, line_chart
from collector.web.pages import STYLE

PRINT = """
body{background:#fff} main{max-width:1060px;margin:0 auto;padding:12px 4px}
h2{border-bottom:2px solid #15324d;padding-bottom:4px;margin-top:28px}
section{break-inside:auto} .chart,table,.cards{break-inside:avoid}
tr{break-inside:avoid} th,td{font-size:12px;padding:4px 6px} td:first-child{white-space:nowrap}
h2,h3,.note{break-after:avoid}
.note{color:#66768a;font-size:12px;margin:4px 0 10px} .csv{font-size:12px;margin-left:8px}
@page{size:A4;margin:12mm}
@media print{header{background:#15324d;-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .chart-bar,.badge{-webkit-print-color-adjust:exact;print-color-adjust:exact} a{color:inherit;text-decoration:none}}
"""


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "–"
    if fmt and isinstance(value, int | float):
        try:
            return escape(format(value, fmt))
        except ValueError:
            return escape(str(value))
    return escape(str(value))


def table_html(table: Table, csv_href: str | None = None) -> str:
    """A :class:`Table` as HTML with its note and a link to its CSV."""
    heads = "".join(
        f'<th class="num">{escape(c.heading)}</th>' if c.numeric else f"<th>{escape(c.heading)}</th>"
        for c in table.columns
    )
    rows = (
        "".join(
            "<tr>"
            + "".join(
                f'<td class="num">{_cell(r.get(c.key), c.fmt)}</td>'
                if c.numeric
                else f"<td>{_cell(r.get(c.key), '')}</td>"
                for c in table.columns
            )
            + "</tr>"
            for r in table.rows
        )
        or f'<tr><td colspan="{len(table.columns)}" class="muted">none</td></tr>'
    )
    link = f'<a class="csv" href="{escape(csv_href)}">CSV</a>' if csv_href else ""
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f"<h3>{escape(table.title)}{link}</h3>{note}"
        f'<table id="{escape(table.name)}"><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>'
    )


def _charts(report: Report) -> dict[str, str]:
    t = report.tables
    daily = t["daily"].rows

    def series(key: str) -> list[tuple[int, float | None]]:
        # a day's point at its noon: the axis reads as dates
        return [(int(r["start"]) + 43200, r.get(key)) for r in daily]

    wifi = [
        bar
        for r in t["wifi"].rows
        for bar in (Bar(r["band"], r["homes"], "#2f7ed8"), Bar("period before", r["homes_before"], "#99a5b3"))
    ]
    usage = [Bar(r["category"], r["hours_per_day"], "#1a7f37") for r in t["usage"].rows[:10]]
    return {
        "fleet": line_chart("Gateways reporting per day", series("gateways"), " gw", width=320)
        + line_chart("WAN traffic per day, GB", series("wan_gb"), " GB", width=320)
        + line_chart("Mean CPU per day, %", series("cpu_pct"), "%", width=320, fixed_max=100),
        "wifi": bar_chart("Homes per Wi-Fi experience band", wifi, width=460, label_w=150),
        "usage": bar_chart("Engaged hours a day per using home, by category", usage, " h", width=460),
    }


def _cards(report: Report) -> str:
    h = report.headline

    def num(v: Any, fmt: str) -> str:
        return "–" if v is None else format(v, fmt)

    cards = (
        ("Gateways reporting", num(h.get("gateways"), "d")),
        ("Availability", num(h.get("availability_pct"), ".1f") + " %"),
        ("Homes profiled", num(h.get("homes"), "d")),
        ("Mean Wi-Fi score", num(h.get("wifi_score"), ".1f")),
        ("WAN traffic", num(h.get("wan_gb"), ",.0f") + " GB"),
        ("CPU/memory outliers", num(h.get("outliers"), "d")),
    )
    return (
        '<div class="cards">' + "".join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in cards) + "</div>"
    )


def render(report: Report, csv_name: str = "{name}.csv") -> str:
    """The report's HTML page; ``csv_name`` makes each table's CSV link from its name."""
    p, b = report.period, report.previous
    charts = _charts(report)

    def tables(*names: str) -> str:
        return "".join(
            table_html(report.tables[n], csv_name.format(name=n)) for n in names if n in report.tables
        )

    made = datetime.fromtimestamp(report.generated_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    extra = [n for n in report.tables if n not in ORDER]
    body = (
        f"<h1>homescope report: {escape(p.title)}</h1>"
        f"<p>{p.first.isoformat()} to {p.last.isoformat()} (UTC days), compared with {b.first.isoformat()} to"
        f" {b.last.isoformat()} · generated {made}</p>{_cards(report)}"
        f'<section><h2>Fleet</h2><div class="charts">{charts["fleet"]}</div>{tables("kpis", "outliers", "daily")}</section>'
        f'<section><h2>Wi-Fi experience</h2><div class="charts">{charts["wifi"]}</div>{tables("wifi", "wifi_worse")}</section>'
        f'<section><h2>Service usage</h2><div class="charts">{charts["usage"]}</div>{tables("usage", "apps")}</section>'
        f"<section><h2>Labels, flags and warnings</h2>{tables('results')}</section>"
        f"<section><h2>Areas</h2>{tables('areas', 'capacity')}</section>"
        f"<section><h2>Campaigns</h2>{tables('campaigns', *extra)}</section>"
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(p.title)} · homescope report</title>"
        f'<style>{STYLE}{PRINT}</style></head><body><header><span class="brand">homescope</span>'
        f"<span>{escape(p.name)}</span></header><main>{body}</main></body></html>"
    )


ORDER = (
    "kpis",
    "outliers",
    "daily",
    "wifi",
    "wifi_worse",
    "usage",
    "apps",
    "results",
    "areas",
    "capacity",
    "campaigns",
)
