"""Server-rendered operator pages (escaped f-strings; no template engine needed yet)."""

from __future__ import annotations

import time
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from collector.web.charts import line_chart
from collector.web.ranges import DateRange, range_form
from collector.web.topology import topology_svg

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#15324d;color:#fff;padding:10px 20px;display:flex;flex-wrap:wrap;gap:8px 20px;align-items:center}
header a{color:#cfe3ff;text-decoration:none} header .brand{font-weight:700;font-size:18px;color:#fff}
main{padding:16px 20px} table{border-collapse:collapse;background:#fff;width:100%}
th,td{padding:6px 8px;border-bottom:1px solid #e3e8ef;text-align:left;font-size:14px}
th{background:#eef2f7} .num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:12px;margin-bottom:16px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e3e8ef;border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px} .charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{background:#fff;border:1px solid #e3e8ef;border-radius:6px}
.chart-title{font-size:12px;font-weight:600;fill:#1d2733} .chart-label{font-size:10px;fill:#66768a}
.chart-line{stroke:#2f7ed8;stroke-width:1.6} .chart-dot{fill:#2f7ed8} .chart-axis{stroke:#c8d0da}
.chart-empty{font-size:12px;fill:#99a5b3} .ok{color:#1a7f37} .bad{color:#b42318}
form.login{background:#fff;max-width:320px;margin:60px auto;padding:24px;border-radius:8px;border:1px solid #e3e8ef}
form.login input{display:block;width:100%;margin:6px 0 12px;padding:6px;box-sizing:border-box}
"""
#: Classes that replaced inline style attributes (the CSP allows no inline style).
EXTRA_STYLE = """
form.signout{margin-left:auto} form.inline{display:inline} .cards.spaced{margin-top:12px}
"""


FILTER_STYLE = """
form.filters{display:flex;gap:12px;flex-wrap:wrap;align-items:end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;gap:2px}
.shortcuts{font-size:13px;align-self:center} .exports{font-size:13px;margin:4px 0 10px}
"""


def layout(title: str, body: str, user: str | None = None, style: str = "") -> str:
    """The page around ``body``. All CSS is in ``/static/homescope.css`` (the CSP allows no inline
    style); ``style`` names a family's CSS that the stylesheet already holds."""
    nav = (
        '<a href="/">Gateways</a><a href="/homes">Homes</a><a href="/areas">Areas</a>'
        '<a href="/quarantine">Quarantine</a><a href="/reports">Reports</a><a href="/installer">Field</a><a href="/dpi/unclassified">Domains</a>'
        '<a href="/marketing">Marketing</a><a href="/security/events">Security</a><a href="/admin">Admin</a>'
        '<form class="signout" method="post" action="/logout"><button>Sign out</button></form>'
        if user
        else ""
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)} · homescope</title>"
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="stylesheet" href="/static/homescope.css"></head>'
        f'<body><header><span class="brand">homescope</span>{nav}</header><main>{body}</main></body></html>'
    )


def login_page(next_path: str, error: str = "") -> str:
    message = f'<p class="bad">{escape(error)}</p>' if error else ""
    form = (
        f'<form class="login" method="post" action="/login"><h2>Operator sign-in</h2>{message}'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label>User<input name="user" autocomplete="username" required></label>'
        '<label>Password<input name="password" type="password" autocomplete="current-password" required></label>'
        '<button type="submit">Sign in</button></form>'
    )
    return layout("Sign in", form)


def _ago(ts: float | None) -> str:
    if not ts:
        return "never"
    seconds = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _num(value: Any, digits: int = 1, scale: float = 1.0) -> str:
    return "–" if value is None else f"{value / scale:.{digits}f}"


def gateways_page(gateways: list[dict[str, Any]], counts: dict[str, int], user: str, tools: str = "") -> str:
    cards = "".join(
        f'<div class="card">{escape(label)}<b>{counts.get(key, 0)}</b></div>'
        for key, label in (
            ("gateways", "Gateways"),
            ("reports", "Reports"),
            ("event_batches", "Event batches"),
            ("quarantined", "Quarantined"),
        )
    )
    online = sum(1 for g in gateways if g.get("status") == "online")
    cards += f'<div class="card">Online<b>{online}</b></div>'
    rows = "".join(
        "<tr>"
        f'<td><a href="/gateways/{escape(g["gateway_id"])}">{escape(g["gateway_id"])}</a></td>'
        f'<td class="{"ok" if g.get("status") == "online" else "bad"}">{escape(g.get("status") or "unknown")}</td>'
        f'<td>{_ago(g.get("last_seen"))}</td><td class="num">{g.get("reports", 0)}</td>'
        f'<td class="num">{_num(g.get("cpu_pct"))}</td><td class="num">{_num(g.get("mem_used_pct"))}</td>'
        f'<td class="num">{_num(g.get("wan_rx_bps"), 2, 1e6)}</td><td class="num">{_num(g.get("wan_tx_bps"), 2, 1e6)}</td>'
        f'<td class="num">{g.get("stations") if g.get("stations") is not None else "–"}</td>'
        f"<td>{escape(g.get('agent_version') or '–')}{' (outdated)' if g.get('outdated') else ''}</td>"
        f'<td class="bad">{escape(", ".join(g.get("failing") or []))}</td>'
        "</tr>"
        for g in gateways
    )
    table = (
        '<table id="gateways"><thead><tr><th>Gateway</th><th>Status</th><th>Last seen</th><th class="num">Reports</th>'
        '<th class="num">CPU %</th><th class="num">Memory %</th><th class="num">WAN rx Mbit/s</th>'
        '<th class="num">WAN tx Mbit/s</th><th class="num">Stations</th><th>Agent</th><th>Samplers failing</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    return layout("Gateways", f'<div class="cards">{cards}</div>{tools}{table}', user, FILTER_STYLE)


def interfaces_of(gw: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest report's interfaces with their computed rates (the page's table and its export)."""
    rates = gw.get("rates") or {}
    return [
        {"name": i["name"], "role": i.get("role", ""),
         "link": "up" if i.get("up") else "down" if i.get("up") is False else None,
         "rx_bps": rates.get(i["name"], {}).get("rx_bps"), "tx_bps": rates.get(i["name"], {}).get("tx_bps")}
        for i in (gw.get("latest") or {}).get("interfaces", [])
    ]  # fmt: skip


def samplers_of(gw: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest report's samplers by name (the page's table and its export)."""
    samplers = (gw.get("latest") or {}).get("samplers") or {}
    return [
        {"name": name, "state": s.get("state", ""), "reason": s.get("reason", "")}
        for name, s in sorted(samplers.items())
    ]


def downloads(path: str, query: dict[str, str] | None = None, label: str = "Download") -> str:
    """A table's CSV and JSON links (``path`` without the suffix; ``query`` carried along)."""
    q = ("?" + urlencode(query)) if query else ""
    stem = path.rsplit("/", 1)[-1]
    return (
        f'<p class="exports">{escape(label)}: <a class="export-csv" id="export-{escape(stem)}-csv"'
        f' href="{escape(path + ".csv" + q)}">CSV</a> · <a class="export-json" href="{escape(path + ".json" + q)}">JSON</a></p>'
    )


def gateway_page(
    gw: dict[str, Any], history: list[dict[str, Any]], user: str, span: DateRange | None = None
) -> str:
    """One gateway: charts over ``span`` (their time axes are the range) or the latest windows."""
    gid = gw["gateway_id"]
    latest = gw.get("latest") or {}
    axis = (span.start, span.end - 1) if span is not None else None

    def series(key: str) -> list[tuple[int, float | None]]:
        return [(h["window_end"], h.get(key)) for h in history]

    charts = "".join(
        [
            line_chart("CPU %", series("cpu_pct"), "%", fixed_max=100, x_range=axis),
            line_chart("Memory used %", series("mem_used_pct"), "%", fixed_max=100, x_range=axis),
            line_chart("WAN receive", series("wan_rx_bps"), "bps", x_range=axis),
            line_chart("WAN send", series("wan_tx_bps"), "bps", x_range=axis),
            line_chart("Stations", series("stations"), "", x_range=axis),
        ]
    )
    base = f"/gateways/{quote(gid, safe='')}"
    ranged = span.query() if span is not None else {}
    iface_rows = "".join(
        f"<tr><td>{escape(i['name'])}</td><td>{escape(i['role'])}</td><td>{i['link'] or '–'}</td>"
        f'<td class="num">{_num(i["rx_bps"], 2, 1e6)}</td><td class="num">{_num(i["tx_bps"], 2, 1e6)}</td></tr>'
        for i in interfaces_of(gw)
    )
    sampler_rows = "".join(
        f'<tr><td>{escape(s["name"])}</td><td class="{"ok" if s["state"] == "ok" else "bad"}">{escape(s["state"])}</td>'
        f"<td>{escape(s['reason'])}</td></tr>"
        for s in samplers_of(gw)
    )
    body = (
        f"<h2>{escape(gid)}</h2><p>Status: <b>{escape(gw.get('status') or 'unknown')}</b> · last seen {_ago(gw.get('last_seen'))}"
        f" · {gw.get('reports', 0)} reports · agent {escape(gw.get('agent_version') or '?')}</p>"
        f"{range_form(base, span)}"
        f'<div class="charts">{charts}</div>{downloads(base + "/history", ranged, "Download the charts’ figures")}'
        f"<h3>Home network</h3>{topology_svg(gid, latest)}"
        '<h3>Interfaces</h3><table id="interfaces"><thead><tr><th>Name</th><th>Role</th><th>Link</th>'
        '<th class="num">rx Mbit/s</th><th class="num">tx Mbit/s</th></tr></thead>'
        f"<tbody>{iface_rows}</tbody></table>{downloads(base + '/interfaces')}"
        f'<h3>Samplers</h3><table id="samplers"><thead><tr><th>Sampler</th><th>State</th><th>Reason</th></tr></thead>'
        f"<tbody>{sampler_rows}</tbody></table>{downloads(base + '/samplers')}"
    )
    return layout(gid, body, user)


def quarantine_page(items: list[dict[str, Any]], user: str, span: DateRange | None = None) -> str:
    rows = "".join(
        f"<tr><td>{_ago(q['received_at'])}</td><td>{escape(q['topic'][:80])}</td><td>{escape(q['reason'])}</td>"
        f'<td>{escape(q["detail"][:160])}</td><td class="num">{q["size"]}</td></tr>'
        for q in items
    )
    table = (
        '<table id="quarantine"><thead><tr><th>When</th><th>Topic</th><th>Reason</th><th>Detail</th>'
        f'<th class="num">Bytes</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    tools = range_form("/quarantine", span) + downloads("/quarantine", span.query() if span else None)
    return layout("Quarantine", f"<h2>Quarantined messages</h2>{tools}{table}", user)
