"""Server-rendered home-profile pages: the homes list, one home, and the area view.

The handlers in :mod:`collector.web.homes` pass these the same data the JSON API returns, so a
page never shows something the API would not. Every string from the store (gateway ids,
hostnames, SSIDs inside sentences, CRM areas) is escaped here; links are URL-quoted first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from collector.web.charts import Bar, bar_chart, line_chart
from collector.web.pages import downloads, layout
from collector.web.ranges import DateRange, range_form

KINDS = ("label", "flag", "warning")
KIND_COLOUR = {"label": "#2f7ed8", "flag": "#1a7f37", "warning": "#b42318"}
STYLE = """
.badge{display:inline-block;padding:1px 7px;margin:1px 2px;border-radius:9px;font-size:12px;color:#fff}
.badge-label{background:#2f7ed8} .badge-flag{background:#1a7f37} .badge-warning{background:#b42318}
form.filters{display:flex;gap:12px;flex-wrap:wrap;align-items:end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;gap:2px}
.results{display:flex;flex-direction:column;gap:12px;margin-bottom:16px}
.result{background:#fff;border:1px solid #e3e8ef;border-left:5px solid #2f7ed8;border-radius:6px;padding:8px 14px}
.result-flag{border-left-color:#1a7f37} .result-warning{border-left-color:#b42318}
.result h4{margin:4px 0} .result small{color:#66768a;font-weight:400} .sentence{font-size:15px}
table.evidence{width:auto;min-width:360px} .pager{margin:10px 0;display:flex;gap:16px}
.shortcuts{font-size:13px;align-self:center} .exports{font-size:13px;margin:4px 0 10px}
.muted{color:#66768a}
"""


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "–"


def _num(value: Any, fmt: str = ".1f") -> str:
    return "–" if value is None else format(value, fmt)


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def home_href(gateway_id: str) -> str:
    """The link to a home's page (quoted: a gateway id is data, not markup or a path)."""
    return escape(f"/homes/{quote(gateway_id, safe='')}")


def _table(attrs: str, heads: str, rows: str) -> str:
    """A table; ``heads`` are ``|``-separated, a leading ``>`` marks a numeric (right-aligned) column."""
    cells = "".join(
        f'<th class="num">{h[1:]}</th>' if h[:1] == ">" else f"<th>{h}</th>" for h in heads.split("|")
    )
    return f"<table {attrs}><thead><tr>{cells}</tr></thead><tbody>{rows}</tbody></table>"


def badges(kind: str, names: list[str]) -> str:
    return "".join(f'<span class="badge badge-{kind}" title="{kind}">{escape(n)}</span>' for n in names)


def export_links(path: str, query: Mapping[str, str]) -> str:
    """Links to the list's CSV and JSON exports with the same filters and range."""
    q = ("?" + urlencode(query)) if query else ""
    return (
        f'<p class="exports">Download this list: <a id="export-csv" href="{escape(path + ".csv" + q)}">CSV</a> · '
        f'<a id="export-json" href="{escape(path + ".json" + q)}">JSON</a></p>'
    )


# -- /homes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HomeFilters:
    """The /homes query: filters and the page."""

    label: str | None = None
    flag: str | None = None
    warning: str | None = None
    area: str | None = None
    limit: int = 50
    offset: int = 0
    first: str | None = None  # the date range (from, to), as given
    last: str | None = None

    @classmethod
    def of(cls, query: Mapping[str, str], limit: int, offset: int) -> HomeFilters:
        get = {k: (query.get(k) or None) for k in ("label", "flag", "warning", "area")}
        return cls(
            **get, limit=limit, offset=offset, first=query.get("from") or None, last=query.get("to") or None
        )

    def query(self) -> dict[str, str]:
        """The filters and range (no paging) as query values: what an export of this list takes."""
        pairs = {k: getattr(self, k) for k in (*KINDS, "area") if getattr(self, k)}
        return {
            **pairs,
            **({"from": self.first} if self.first else {}),
            **({"to": self.last} if self.last else {}),
        }

    def url(self, **changes: Any) -> str:
        """This query with ``changes``, as a ``/homes?...`` link (not yet HTML-escaped)."""
        f = replace(self, **changes)
        pairs: list[tuple[str, str | int]] = list(f.query().items())
        pairs += [("limit", f.limit)] if f.limit != 50 else []
        pairs += [("offset", f.offset)] if f.offset else []
        return "/homes" + (f"?{urlencode(pairs)}" if pairs else "")


def _select(name: str, title: str, groups: list[tuple[str, list[str]]], chosen: str | None) -> str:
    known = {o for _, options in groups for o in options}
    if chosen and chosen not in known:  # a value typed into the URL still shows as chosen
        groups = [*groups, ("", [chosen])]

    def options(values: list[str]) -> str:
        return "".join(
            f'<option value="{escape(v)}"{" selected" if v == chosen else ""}>{escape(v)}</option>'
            for v in values
        )

    inner = "".join(
        f'<optgroup label="{escape(g)}">{options(vs)}</optgroup>' if g else options(vs)
        for g, vs in groups
        if vs
    )
    return f'<label>{title}<select name="{name}"><option value="">any</option>{inner}</select></label>'


def homes_page(
    found: dict[str, Any],
    filters: HomeFilters,
    rule_names: dict[str, list[str]],
    areas: list[str],
    communities: list[str],
    counts: list[tuple[str, str, int]],
    user: str,
    tools: str = "",
) -> str:
    """The homes list: filter form, count, table with result badges, pager, and a chart of
    how many homes carry each label, flag and warning (``counts``: kind, rule, homes)."""
    form = (
        '<form class="filters" method="get" action="/homes">'
        + "".join(
            _select(kind, kind.capitalize(), [("", rule_names.get(kind, []))], getattr(filters, kind))
            for kind in KINDS
        )
        + _select("area", "Area or community", [("Areas", areas), ("Communities", communities)], filters.area)
        + (f'<input type="hidden" name="limit" value="{filters.limit}">' if filters.limit != 50 else "")
        + "".join(
            f'<input type="hidden" name="{k}" value="{escape(v)}">'
            for k, v in (("from", filters.first), ("to", filters.last))
            if v
        )
        + '<button type="submit">Filter</button><a href="/homes">clear</a></form>'
    )
    total = int(found["total"])
    rows = "".join(
        "<tr>"
        f'<td><a href="{home_href(h["gateway_id"])}">{escape(h["gateway_id"])}</a></td>'
        f"<td>{escape(h.get('subscriber_id') or '–')}</td>"
        f"<td>{escape(h.get('area') or '–')} / {escape(h.get('community') or '–')}</td>"
        f'<td class="num">{_num(h.get("wifi_score"), ".0f")}</td><td class="num">{_num(h.get("devices"), "d")}</td>'
        f'<td class="num">{_num(h.get("gb_per_day"), ".2f")}</td>'
        f"<td>{''.join(badges(k, h.get(k) or []) for k in KINDS)}</td></tr>"
        for h in found["homes"]
    )
    heads = "Gateway|Subscriber|Area / community|>Wi-Fi score|>Devices|>GB/day|Labels, flags, warnings"
    table = _table('id="homes"', heads, rows)
    first, last = filters.offset + 1, min(total, filters.offset + filters.limit)
    pager = '<div class="pager">'
    if filters.offset > 0:
        pager += f'<a rel="prev" href="{escape(filters.url(offset=max(0, filters.offset - filters.limit)))}">previous</a>'
    pager += f"<span>{first}–{last} of {total}</span>" if total and first <= last else ""
    if filters.offset + filters.limit < total:
        pager += f'<a rel="next" href="{escape(filters.url(offset=filters.offset + filters.limit))}">next</a>'
    pager += "</div>"
    where = f" in {filters.area}" if filters.area else ""
    chart = bar_chart(
        f"Homes with each label, flag and warning{where}",
        [Bar(rule, n, KIND_COLOUR[kind], filters.url(**{kind: rule}, offset=0)) for kind, rule, n in counts],
        width=460,
        label_w=150,
    )
    chosen = {k: getattr(filters, k) for k in (*KINDS, "area") if getattr(filters, k)}
    target = (
        f' <a id="target" href="/marketing?{escape(urlencode(chosen))}">Target these homes</a>'
        if chosen
        else ""
    )
    body = (
        f'<h2>Homes</h2>{form}{tools}<p id="total"><b>{total}</b> evaluated homes match.{target}</p>'
        f'<div class="charts">{chart}</div>{pager}{table}{pager}'
    )
    return layout("Homes", body, user, STYLE)


# -- /homes/{id} ---------------------------------------------------------------------------------
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
        f"{_num(sub.get('plan_down_mbps'), 'g')}{f' / {up:g}' if up else ''} Mbit/s",
        _num(sub.get("price"), "g"),
        escape(str(sub.get("contract_end") or "–")) + (f" ({left} days)" if left is not None else ""),
        escape(str(sub.get("area") or "–")),
        escape(str(sub.get("community") or "–")),
    ]
    row = "".join(f"<td>{c}</td>" for c in cells)
    return _table('id="crm"', "Subscriber|Plan|Price|Contract end|Area|Community", f"<tr>{row}</tr>")


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
    return _table('class="evidence"', "Figure|>Measured|Threshold", "".join(rows))


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


def _score_colour(value: float | None) -> str:
    return (
        "#99a5b3" if value is None else "#1a7f37" if value >= 70 else "#e8a33d" if value >= 50 else "#b42318"
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
    wifi += [Bar(name, value, _score_colour(value)) for name, value in parts.items()]
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
        f'<td class="num">{_num(t.get("signal_dbm"), "g")}</td><td class="num">{_num(t.get("phy_mbps"), "g")}</td>'
        f'<td class="num">{_num(t.get("reachable_mbps"), "g")}</td><td class="num">{_num(t.get("delay_ms"), "g")}</td>'
        f"<td>{_value(t.get('apps') or [])}</td>"
        f'<td class="{"bad" if t.get("problems") else "ok" if t.get("served") else ""}">'
        f"{_value(t.get('problems')) if t.get('problems') else 'ok' if t.get('served') else '–'}</td></tr>"
        for t in items
    )
    heads = "Terminal|Type|Band|>Signal dBm|>PHY Mbit/s|>Reachable Mbit/s|>Delay ms|Applications|Problems"
    return _table('id="terminals"', heads, rows)


def _history(history: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_when(h.get('at'))}</td><td>{escape(str(h.get('change')))}</td><td>{escape(str(h.get('rule')))}</td>"
        f"<td>{h.get('version')}</td><td>{escape(str(h.get('state') or ''))}</td>"
        f"<td>{escape(str(h.get('sentence') or ''))}</td></tr>"
        for h in history
    )
    return _table('id="history"', "When|Change|Rule|Version|State|Evidence then", rows)


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
            ("Wi-Fi score", _num(quality.get("wifi_score"), ".0f")),
            ("Devices", _num((profile.get("terminals") or {}).get("count"), "d")),
            ("GB/day", _num(traffic.get("gb_per_day"), ".2f")),
            ("Engaged h/day", _num(activity.get("online_hours_per_day"), ".1f")),
            ("Coverage", _num(activity.get("coverage"), ".0%")),
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


# -- /areas ------------------------------------------------------------------------------------
def areas_page(view: dict[str, Any], user: str, tools: str = "") -> str:
    """The area view: groups under the minimum size are suppressed exactly as the API does."""
    level = str(view["level"])
    groups: list[dict[str, Any]] = view["groups"]
    hidden = view.get("suppressed") or {}
    toggle = " · ".join(
        f"<b>{name}</b>" if lv == level else f'<a href="/areas?level={lv}">{name}</a>'
        for lv, name in (("area", "Areas"), ("community", "Communities"))
    )

    def area_url(name: str) -> str:
        return "/homes?" + urlencode({"area": name})

    rows = "".join(
        f'<tr><td><a href="{escape(area_url(str(g["name"])))}">{escape(str(g["name"]))}</a>'
        f' <a class="muted" href="/areas/{escape(quote(str(g["name"]), safe=""))}">trends</a></td>'
        f'<td class="num">{g["homes"]}</td><td class="num">{_num(g.get("wifi_score"), ".1f")}</td>'
        f'<td class="num">{_num(g.get("competitor_density"), ".0%")}</td>'
        f'<td class="num">{_num(g.get("gb_per_day"), ".2f")}</td><td class="num">{_num(g.get("devices"), ".1f")}</td>'
        "<td>"
        + "".join(
            f'<span class="badge badge-{k}">{escape(rule)} {n}</span>'
            for k in KINDS
            for rule, n in sorted((g.get(k + "s") or {}).items())
        )
        + "</td></tr>"
        for g in groups
    )
    charts = (
        bar_chart("Evaluated homes", [Bar(str(g["name"]), g["homes"], href=area_url(str(g["name"])))
                                      for g in groups], width=380)
        + bar_chart("Mean Wi-Fi score", [Bar(str(g["name"]), g.get("wifi_score"), _score_colour(g.get("wifi_score")))
                                         for g in groups], fixed_max=100, width=380)
        + bar_chart("Competitor density", [Bar(str(g["name"]), 100 * float(g.get("competitor_density") or 0),
                                               "#b42318") for g in groups], "%", fixed_max=100, width=380)
    )  # fmt: skip
    note = (
        f'<p id="suppressed">Not shown (fewer than {view["min_group"]} evaluated homes each, so no single home'
        f" can be singled out): {_count(hidden.get('groups', 0), 'group')} with"
        f" {_count(hidden.get('homes', 0), 'home')}.</p>"
    )
    heads = ">Homes|>Wi-Fi score|>Competitor density|>GB/day|>Devices|Labels, flags, warnings (homes)"
    table = _table('id="areas"', ("Area|" if level == "area" else "Community|") + heads, rows)
    body = f'<h2>Areas</h2><p>{toggle}</p>{tools}{note}<div class="charts">{charts}</div>{table}'
    return layout("Areas", body, user, STYLE)
