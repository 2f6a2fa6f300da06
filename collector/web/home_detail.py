"""The server-rendered page of one home: CRM row, figures, results with their evidence, pictures,
terminals and history.

The handler in :mod:`collector.web.homes` passes it the same data the JSON API returns, so the
page never shows something the API would not. Every string from the store (gateway ids,
hostnames, SSIDs inside sentences) is escaped here; links are URL-quoted first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from collector.web.charts import Bar, bar_chart, line_chart
from collector.web.home_markup import KIND_COLOUR, STYLE, badges, data_table, home_href, num, score_colour
from collector.web.pages import downloads, layout
from collector.web.ranges import DateRange, range_form


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "–"


def _value(value: Any) -> str:
    """Any evidence value as short, escaped text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return escape(f"{value:g}")
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value))
    if isinstance(value, dict):
        return escape(", ".join(f"{k} {v}" for k, v in value.items()))
    return escape(str(value))


def _crm(home: dict[str, Any], plan: dict[str, Any]) -> str:
    sub = home.get("subscriber")
    if not sub:
        speed = plan.get("down_mbps")
        reported = f" (the gateway reports a {speed:g} Mbit/s plan)" if speed else ""
        return f'<p id="crm" class="muted">No CRM row for this gateway{reported}.</p>'
    up = sub.get("plan_up_mbps")
    left = plan.get("days_to_contract_end")
    cells = [
        escape(str(sub.get("subscriber_id") or "–")),
        f"{num(sub.get('plan_down_mbps'), 'g')}{f' / {up:g}' if up else ''} Mbit/s",
        num(sub.get("price"), "g"),
        escape(str(sub.get("contract_end") or "–")) + (f" ({left} days)" if left is not None else ""),
        escape(str(sub.get("area") or "–")),
        escape(str(sub.get("community") or "–")),
    ]
    row = "".join(f"<td>{c}</td>" for c in cells)
    return data_table('id="crm"', "Subscriber|Plan|Price|Contract end|Area|Community", f"<tr>{row}</tr>")


def _evidence_table(evidence: dict[str, Any]) -> str:
    # a threshold sits beside the figure it bounds: min_hours_per_day beside hours_per_day
    metrics: dict[str, Any] = evidence.get("metrics") or {}
    thresholds: dict[str, Any] = dict(evidence.get("thresholds") or {})
    rows = []
    for key, value in metrics.items():
        bound = ""
        for prefix, sign in (("min_", "≥ "), ("max_", "≤ ")):
            if prefix + key in thresholds:
                bound = sign + _value(thresholds.pop(prefix + key))
        rows.append(f'<tr><td>{escape(key)}</td><td class="num">{_value(value)}</td><td>{bound}</td></tr>')
    rows += [
        f'<tr><td>{escape(k)}</td><td class="num">–</td><td>{_value(v)}</td></tr>'
        for k, v in thresholds.items()
    ]
    return data_table('class="evidence"', "Figure|>Measured|Threshold", "".join(rows))


def _factors_chart(result: dict[str, Any]) -> str:
    factors = (result.get("evidence") or {}).get("factors") or []
    if not factors:
        return ""
    bars = [
        Bar(str(f.get("factor")), float(f["grade"]) * float(f["weight"]), KIND_COLOUR["warning"],
            note=f"{float(f['grade']):.2f} × {float(f['weight']):g}")
        for f in factors
    ]  # fmt: skip
    score = result.get("score")
    bars.append(Bar("score", score if score is not None else sum(b.value or 0 for b in bars), "#15324d"))
    bound = ((result.get("evidence") or {}).get("thresholds") or {}).get("min_score")
    marker = (float(bound), f"fires at {bound:g}") if isinstance(bound, int | float) else None
    return bar_chart("Factors: grade × weight", bars, fixed_max=1.0, marker=marker, width=460)


def _result_card(r: dict[str, Any]) -> str:
    kind = str(r.get("kind"))
    score = f" · score {r['score']:.2f}" if r.get("score") is not None else ""
    return (
        f'<section class="result result-{escape(kind)}" id="result-{escape(str(r["rule"]))}">'
        f"<h4>{badges(kind, [kind])} {escape(str(r['rule']))} <small>version {r.get('version')} · window"
        f" {escape(str(r.get('window')))} · state {escape(str(r.get('state')))}{score}</small></h4>"
        f'<p class="sentence">{escape(str(r.get("sentence") or ""))}</p>'
        f'<div class="charts">{_evidence_table(r.get("evidence") or {})}{_factors_chart(r)}</div>'
        f'<p class="muted">since {_when(r.get("since"))} · last changed {_when(r.get("changed_at"))}'
        f" · evaluated {_when(r.get('evaluated_at'))}</p></section>"
    )


def _pictures(
    profile: dict[str, Any],
    month: dict[str, Any],
    as_of: int,
    span: DateRange | None,
    days: list[dict[str, Any]] | None,
) -> str:
    quality = profile.get("quality") or {}
    parts: dict[str, float] = quality.get("parts") or {}
    # no part means no Wi-Fi station reported: the chart then says "no data yet"
    wifi = [Bar("score", quality.get("wifi_score"), "#15324d")] if parts else []
    wifi += [Bar(name, value, score_colour(value)) for name, value in parts.items()]
    daily: list[float] = (month.get("traffic") or {}).get("daily_gb") or []
    # complete days run up to the day before as_of's midnight, oldest first
    last = as_of // 86400 - 1
    points: list[tuple[int, float | None]] = [
        ((last - len(daily) + 1 + i) * 86400, v) for i, v in enumerate(daily)
    ]
    traffic_title, axis = "Traffic per day, GB (complete days, 30d)", None
    if span is not None and days is not None:
        # a picked range: the home's reported days in it, on an axis that is the range
        points = [(int(d["day_start"]) + 43200, d["gb"]) for d in days]
        traffic_title = f"Traffic per day, GB ({span.first} to {span.last})"
        axis = (span.start, span.end - 1)
    hours: dict[str, float] = (profile.get("preferences") or {}).get("hours_per_day") or {}
    use = [Bar(c, h) for c, h in sorted(hours.items(), key=lambda kv: -kv[1]) if h > 0]
    return (
        '<div class="charts">'
        + bar_chart(f"Wi-Fi experience score and its parts ({profile.get('window')})", wifi, fixed_max=100)
        + line_chart(traffic_title, points, "GB", x_range=axis)
        + bar_chart(f"Engaged hours a day by category ({profile.get('window')})", use[:10], "h")
        + "</div>"
    )


def _terminals(profile: dict[str, Any]) -> str:
    items = (profile.get("terminals") or {}).get("items") or []
    rows = "".join(
        f'<tr><td title="{escape(str(t.get("mac", "")))}">{escape(str(t.get("hostname") or t.get("mac") or "?"))}</td>'
        f"<td>{escape(str(t.get('type') or ''))}</td><td>{escape(str(t.get('medium') or ''))}</td>"
        f'<td class="num">{num(t.get("signal_dbm"), "g")}</td><td class="num">{num(t.get("phy_mbps"), "g")}</td>'
        f'<td class="num">{num(t.get("reachable_mbps"), "g")}</td><td class="num">{num(t.get("delay_ms"), "g")}</td>'
        f"<td>{_value(t.get('apps') or [])}</td>"
        f'<td class="{"bad" if t.get("problems") else "ok" if t.get("served") else ""}">'
        f"{_value(t.get('problems')) if t.get('problems') else 'ok' if t.get('served') else '–'}</td></tr>"
        for t in items
    )
    heads = "Terminal|Type|Band|>Signal dBm|>PHY Mbit/s|>Reachable Mbit/s|>Delay ms|Applications|Problems"
    return data_table('id="terminals"', heads, rows)


def _history(history: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_when(h.get('at'))}</td><td>{escape(str(h.get('change')))}</td><td>{escape(str(h.get('rule')))}</td>"
        f"<td>{h.get('version')}</td><td>{escape(str(h.get('state') or ''))}</td>"
        f"<td>{escape(str(h.get('sentence') or ''))}</td></tr>"
        for h in history
    )
    return data_table('id="history"', "When|Change|Rule|Version|State|Evidence then", rows)


def home_page(
    home: dict[str, Any],
    window: str,
    user: str,
    span: DateRange | None = None,
    days: list[dict[str, Any]] | None = None,
) -> str:
    """One home: CRM row, figures, every current result with its evidence, pictures,
    terminals and history; ``window`` picks the profile shown (results keep their own)."""
    gid = str(home["gateway_id"])
    profiles: dict[str, Any] = home.get("profile") or {}
    profile = profiles.get(window) or {}
    summary = home.get("summary") or {}
    quality, traffic = profile.get("quality") or {}, profile.get("traffic") or {}
    activity = profile.get("activity") or {}
    cards = "".join(
        f'<div class="card">{label}<b>{value}</b></div>'
        for label, value in (
            ("Wi-Fi score", num(quality.get("wifi_score"), ".0f")),
            ("Devices", num((profile.get("terminals") or {}).get("count"), "d")),
            ("GB/day", num(traffic.get("gb_per_day"), ".2f")),
            ("Engaged h/day", num(activity.get("online_hours_per_day"), ".1f")),
            ("Coverage", num(activity.get("coverage"), ".0%")),
        )
    )
    gateway = escape(f"/gateways/{quote(gid, safe='')}")
    base = f"/homes/{quote(gid, safe='')}"  # raw: range_form and downloads escape it
    as_of = int(home["as_of"])
    windows = " ".join(
        f"<b>{w}</b>"
        if w == window
        else f'<a href="{home_href(gid)}?{escape(urlencode({"window": w, "as_of": as_of}))}">{w}</a>'
        for w in profiles
    )
    results = [r for kind in ("warnings", "flags", "labels") for r in home.get(kind) or []]
    cards_html = (
        "".join(_result_card(r) for r in results) or '<p class="muted">No label, flag or warning fires.</p>'
    )
    body = (
        f"<h2>Home {escape(gid)}</h2>"
        f'<p><a href="{gateway}">Gateway page</a> · profile as of {_when(as_of)} · last evaluated'
        f" {_when(summary.get('evaluated_at'))} · window {windows}</p>"
        f'{_crm(home, profile.get("plan") or {})}<div class="cards spaced">{cards}</div>'
        f'<h3>Labels, flags and warnings</h3><div class="results">{cards_html}</div>'
        f"<h3>Pictures</h3>{range_form(base, span, {'window': window})}"
        f"{_pictures(profile, profiles.get('30d') or profile, as_of, span, days)}"
        f"{downloads(base + '/days', span.query() if span else None, 'Download the traffic per day')}"
        f"<h3>Terminals ({escape(window)})</h3>{_terminals(profile)}"
        f"{downloads(base + '/terminals', {'window': window, 'as_of': str(as_of)})}"
        f"<h3>History</h3>{_history(home.get('history') or [])}{downloads(base + '/history')}"
    )
    return layout(f"Home {gid}", body, user, STYLE)
