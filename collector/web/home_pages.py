"""Server-rendered lists of home profiles: the homes list and the area view.

The handlers in :mod:`collector.web.homes` pass these the same data the JSON API returns, so a
page never shows something the API would not. Every string from the store (gateway ids, CRM
areas) is escaped here; links are URL-quoted first. One home's page is :mod:`collector.web.home_detail`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from collector.web.charts import Bar, bar_chart
from collector.web.home_markup import (
    KIND_COLOUR,
    KINDS,
    STYLE,
    badges,
    data_table,
    home_href,
    num,
    score_colour,
)
from collector.web.pages import layout


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


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
        f'<td class="num">{num(h.get("wifi_score"), ".0f")}</td><td class="num">{num(h.get("devices"), "d")}</td>'
        f'<td class="num">{num(h.get("gb_per_day"), ".2f")}</td>'
        f"<td>{''.join(badges(k, h.get(k) or []) for k in KINDS)}</td></tr>"
        for h in found["homes"]
    )
    heads = "Gateway|Subscriber|Area / community|>Wi-Fi score|>Devices|>GB/day|Labels, flags, warnings"
    table = data_table('id="homes"', heads, rows)
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
        f'<td class="num">{g["homes"]}</td><td class="num">{num(g.get("wifi_score"), ".1f")}</td>'
        f'<td class="num">{num(g.get("competitor_density"), ".0%")}</td>'
        f'<td class="num">{num(g.get("gb_per_day"), ".2f")}</td><td class="num">{num(g.get("devices"), ".1f")}</td>'
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
        + bar_chart("Mean Wi-Fi score", [Bar(str(g["name"]), g.get("wifi_score"), score_colour(g.get("wifi_score")))
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
    table = data_table('id="areas"', ("Area|" if level == "area" else "Community|") + heads, rows)
    body = f'<h2>Areas</h2><p>{toggle}</p>{tools}{note}<div class="charts">{charts}</div>{table}'
    return layout("Areas", body, user, STYLE)
