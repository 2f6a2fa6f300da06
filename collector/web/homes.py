"""Home profiles over HTTP: ``/api/v1/homes``, one home's profile and results, the area view,
the OpenAPI document of these routes, and the operator pages over the same data (``/homes``,
``/homes/{id}``, ``/areas``, rendered by :mod:`collector.web.home_pages` and
:mod:`collector.web.home_detail`). The scheduled evaluation is :class:`collector.service.Service`'s.

Authentication is the app's middleware: every route here needs a session or a token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from collector.profiles import layout
from collector.profiles.config import WINDOWS, ProfilesConfig, load_config
from collector.profiles.profile import as_of_day, build_profile
from collector.profiles.rules import KINDS, plugin_defaults, rules
from collector.store.base import InsightsStore, StoreError, insights
from collector.web import home_detail, home_list, home_pages
from collector.web.access import Permission, requires
from collector.web.auth import USER
from collector.web.home_list import HomeQuery
from collector.web.ranges import DateRange, date_range, range_form
from collector.web.routes import STORE

log = logging.getLogger(__name__)

CONFIG: web.AppKey[ProfilesConfig] = web.AppKey("profiles_config", ProfilesConfig)
routes = web.RouteTableDef()
GB = 1e9


def _page(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


def _store(request: web.Request) -> InsightsStore:
    try:
        return insights(request.app[STORE])
    except StoreError as exc:
        raise web.HTTPNotImplemented(text=str(exc)) from exc


def _int(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name, str(default))
    # ASCII digits only: int() refuses "²" (str.isdigit() does not) and strings past 4300 digits
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19) or not 0 <= int(raw) <= top:
        raise web.HTTPBadRequest(text=f"{name} must be an integer from 0 to {top}")
    return int(raw)


def _rule_name(request: web.Request, name: str, kind: str) -> str | None:
    value = request.query.get(name) or None
    if value is not None and (value not in rules() or rules()[value].kind != kind):
        known = sorted(n for n, r in rules().items() if r.kind == kind)
        raise web.HTTPBadRequest(text=f"unknown {kind} {value!r}; known: {', '.join(known)}")
    return value


# -- what the API and the pages show (one function each, so both always agree) ---------------
HOMES_QUERY = {"label", "flag", "warning", "area", "limit", "offset", "from", "to", "range"}


def home_query(request: web.Request) -> HomeQuery:
    """The homes list's filters and date range (``from``/``to``: homes that reported in those days)."""
    unknown = sorted(set(request.query) - HOMES_QUERY)
    if unknown:
        raise web.HTTPBadRequest(
            text=f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(HOMES_QUERY))}"
        )
    return HomeQuery(
        label=_rule_name(request, "label", "label"),
        flag=_rule_name(request, "flag", "flag"),
        warning=_rule_name(request, "warning", "warning"),
        area=request.query.get("area") or None,
        span=date_range(request.query),
    )


async def homes_data(request: web.Request, default_limit: int = 100) -> dict[str, Any]:
    """The homes matching the request's filters (label, flag, warning, area, from/to) and its page."""
    query = home_query(request)
    limit, offset = _int(request, "limit", default_limit, 10_000), _int(request, "offset", 0, 10**9)
    if query.span is not None:
        return await home_list.page(request.app[STORE].db, query, limit, offset)
    return await _store(request).homes(
        label=query.label, flag=query.flag, warning=query.warning, area=query.area, limit=limit, offset=offset
    )


async def home_data(request: web.Request, gid: str) -> dict[str, Any] | None:
    """One home (``as_of=``, ``history=`` from the query), or ``None`` if nothing is known of it."""
    store = _store(request)
    config = request.app[CONFIG]
    raw = request.query.get("as_of")
    if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) < 12):
        raise web.HTTPBadRequest(text="as_of must be an epoch second (at most 11 digits)")
    as_of = int(raw) if raw else int(time.time())
    since = as_of_day(as_of) - max(WINDOWS.values()) + 1
    days = [(d, data) for _, d, data in await store.home_days(since, as_of_day(as_of), [gid], detail=True)]
    results = await store.home_results(gid)
    if not days and not results:
        return None
    subscriber = (await store.subscribers([gid])).get(gid)

    def profiles() -> dict[str, Any]:
        return {w: build_profile(gid, days, subscriber, config, as_of, w).to_dict() for w in WINDOWS}

    by_kind: dict[str, list[dict[str, Any]]] = {"labels": [], "flags": [], "warnings": []}
    for r in results:
        by_kind[r["kind"] + "s"].append(r)
    return {
        "gateway_id": gid,
        "as_of": as_of,
        "subscriber": subscriber,
        "summary": await store.home_summary(gid),
        "profile": await asyncio.to_thread(profiles),
        **by_kind,
        "history": await store.result_history(gid, _int(request, "history", 100, 10_000)),
    }


async def home_days(request: web.Request, span: DateRange) -> list[dict[str, Any]]:
    """One home's traffic per day of ``span`` (days it reported; none for days it did not)."""
    gid = request.match_info["gateway_id"]
    first, last = span.start // 86400, span.end // 86400 - 1
    out = []
    for _, day, data in await _store(request).home_days(first, last, [gid]):
        v = data.get("v") or layout.zeros()
        down, up = float(v[layout.BYTES_DOWN]), float(v[layout.BYTES_UP])
        out.append({"day": datetime.fromtimestamp(day * 86400, UTC).date().isoformat(), "day_start": day * 86400,
                    "gb": round((down + up) / GB, 3), "down_gb": round(down / GB, 3), "up_gb": round(up / GB, 3)})  # fmt: skip
    return out


async def areas_data(request: web.Request) -> dict[str, Any]:
    """The area view for ``level=`` and ``min_group=`` (which may raise the configured floor only);
    ``from``/``to``: only homes that reported in those days (the minimum group still holds)."""
    level = request.query.get("level", "area")
    if level not in ("area", "community"):
        raise web.HTTPBadRequest(text="level must be area or community")
    floor = request.app[CONFIG].min_group
    min_group = max(floor, _int(request, "min_group", floor, 10**6))
    span = date_range(request.query)
    days = (span.start // 86400, span.end // 86400 - 1) if span is not None else None
    view = await _store(request).area_summary(min_group, level, days)
    return {**view, "range": span.query() if span is not None else None}


def rules_data(config: ProfilesConfig) -> list[dict[str, Any]]:
    """Every registered rule with its kind, version, configured window and thresholds."""
    return [
        {"rule": name, "kind": r.kind, "version": r.version, "window": config.window_of(name, r.window),
         "doc": r.doc, "thresholds": {k: v for k, v in (config.rule(name) or r.defaults).items() if k != "window"}}
        for name, r in sorted(rules().items())
    ]  # fmt: skip


# -- the API -----------------------------------------------------------------------------------
@routes.get("/api/v1/homes")
@requires(Permission.HOMES_READ)
async def api_homes(request: web.Request) -> web.Response:
    """Evaluated homes, filtered by label, flag, warning and area (or community)."""
    return web.json_response(await homes_data(request))


@routes.get("/api/v1/homes/{gateway_id}")
@requires(Permission.HOMES_READ)
async def api_home(request: web.Request) -> web.Response:
    """One home: its CRM row, profile per window, current results with evidence, and history;
    with ``from``/``to``, its traffic per day in that range too (``days``)."""
    gid = request.match_info["gateway_id"]
    home = await home_data(request, gid)
    if home is None:
        return web.json_response({"error": f"no home {gid}"}, status=404)
    span = date_range(request.query)
    if span is not None:  # the home page's traffic chart over the range: one row per day reported
        home["days"] = await home_days(request, span)
    return web.json_response(home)


@routes.get("/api/v1/areas")
@requires(Permission.FLEET_READ)
async def api_areas(request: web.Request) -> web.Response:
    """Per area (or ``level=community``): homes, result counts, Wi-Fi and competitor density.

    ``min_group`` may raise the configured minimum group size, never lower it.
    """
    return web.json_response(await areas_data(request))


@routes.get("/api/v1/rules")
@requires(Permission.HOMES_READ)
async def api_rules(request: web.Request) -> web.Response:
    """Every registered rule with its kind, version, window and thresholds."""
    return web.json_response({"rules": rules_data(request.app[CONFIG])})


# -- the operator pages (the same data functions as the API) -------------------------------------
async def _rule_counts(store: InsightsStore, area: str | None) -> list[tuple[str, str, int]]:
    """How many evaluated homes (in ``area``) carry each rule: one count query per rule, through
    the same ``homes`` method the list uses (``limit=0`` reads no rows)."""
    named = sorted(
        ((r.kind, name) for name, r in rules().items()), key=lambda kn: (KINDS.index(kn[0]), kn[1])
    )
    found = await asyncio.gather(
        *(
            store.homes(
                label=name if kind == "label" else None,
                flag=name if kind == "flag" else None,
                warning=name if kind == "warning" else None,
                area=area,
                limit=0,
            )
            for kind, name in named
        )
    )
    return [(kind, name, int(f["total"])) for (kind, name), f in zip(named, found, strict=True)]


async def _area_names(store: InsightsStore) -> tuple[list[str], list[str]]:
    # names only, for the filter's choices: the list itself is per home, so no group is hidden here
    found = await store.area_names()
    return found["area"], found["community"]


@routes.get("/homes")
@requires(Permission.HOMES_READ)
async def homes_page(request: web.Request) -> web.Response:
    """The homes list with its filters, result badges and a chart of result counts."""
    found = await homes_data(request, default_limit=50)
    span = date_range(request.query)
    filters = home_pages.HomeFilters.of(
        {**request.query, **(span.query() if span else {})},
        _int(request, "limit", 50, 10_000),
        _int(request, "offset", 0, 10**9),
    )
    store = _store(request)
    counts, (areas, communities) = await asyncio.gather(_rule_counts(store, filters.area), _area_names(store))
    names: dict[str, list[str]] = {k: sorted(n for n, r in rules().items() if r.kind == k) for k in KINDS}
    tools = range_form("/homes", span, filters.query()) + home_pages.export_links("/homes", filters.query())
    page = home_pages.homes_page(found, filters, names, areas, communities, counts, request[USER], tools)
    return _page(page)


@routes.get("/homes/{gateway_id}")
@requires(Permission.HOMES_READ)
async def home_page(request: web.Request) -> web.Response:
    """One home's profile, results with evidence and pictures, terminals and history."""
    gid = request.match_info["gateway_id"]
    window = request.query.get("window", "7d")
    if window not in WINDOWS:
        raise web.HTTPBadRequest(text=f"window must be one of {', '.join(WINDOWS)}")
    home = await home_data(request, gid)
    if home is None:
        raise web.HTTPNotFound(text=f"no home {gid}")
    span = date_range(request.query)
    # with a range the traffic chart draws the home's days in it (its axis is the range)
    days = await home_days(request, span) if span is not None else None
    return _page(home_detail.home_page(home, window, request[USER], span, days))


@routes.get("/areas")
@requires(Permission.FLEET_READ)
async def areas_page(request: web.Request) -> web.Response:
    """The area view; small groups are suppressed as in ``/api/v1/areas``."""
    view = await areas_data(request)
    level = {"level": view["level"]} if view["level"] != "area" else {}
    tools = range_form("/areas", date_range(request.query), level)
    tools += home_pages.export_links("/areas", {**level, **(view["range"] or {})})
    return _page(home_pages.areas_page(view, request[USER], tools))


# -- OpenAPI ---------------------------------------------------------------------------------
def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


def _get(
    summary: str, params: list[dict[str, Any]], schema: dict[str, Any], errors: tuple[int, ...] = ()
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}}
    }
    messages = {400: "bad query parameter", 401: "authentication required", 404: "no such home"}
    for code in (*errors, 401):
        responses[str(code)] = {"description": messages[code]}
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def openapi_document(rule_names: list[str]) -> dict[str, Any]:
    """The OpenAPI 3 description of the home-profile routes."""
    integer = {"type": "integer", "minimum": 0}
    ref = {"$ref": "#/components/schemas/Result"}
    names = {"type": "string", "enum": rule_names}
    home_row = {"type": "object", "properties": {
        "gateway_id": {"type": "string"}, "subscriber_id": {"type": "string"}, "area": {"type": "string"},
        "community": {"type": "string"}, "wifi_score": {"type": "number"}, "devices": {"type": "integer"},
        "gb_per_day": {"type": "number"}, "online_hours": {"type": "number"}, "evaluated_at": {"type": "number"},
        "label": {"type": "array", "items": {"type": "string"}}, "flag": {"type": "array", "items": {"type": "string"}},
        "warning": {"type": "array", "items": {"type": "string"}}}}  # fmt: skip
    result = {"type": "object", "properties": {
        "rule": names, "kind": {"type": "string", "enum": ["label", "flag", "warning"]}, "version": {"type": "integer"},
        "window": {"type": "string", "enum": list(WINDOWS)}, "state": {"type": "string"}, "score": {"type": "number"},
        "sentence": {"type": "string", "description": "the evidence in words"},
        "evidence": {"type": "object", "description": "thresholds, metrics (the values that fired it), factors"},
        "since": {"type": "number"}, "changed_at": {"type": "number"}, "evaluated_at": {"type": "number"}}}  # fmt: skip
    home = {"type": "object", "properties": {
        "gateway_id": {"type": "string"}, "as_of": {"type": "integer"}, "subscriber": {"type": "object"},
        "summary": {"type": "object"}, "history": {"type": "array", "items": {"type": "object"}},
        "profile": {"type": "object", "description": "per window (day, 7d, 30d): activity, terminals, traffic, "
                    "quality, plan, preferences, competitor"},
        "labels": {"type": "array", "items": ref}, "flags": {"type": "array", "items": ref},
        "warnings": {"type": "array", "items": ref}}}  # fmt: skip
    return {
        "openapi": "3.0.3",
        "info": {"title": "homescope home profiles", "version": "1"},
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "homescope_session"},
            },
            "schemas": {"Result": result, "Home": home, "HomeRow": home_row},
        },
        "paths": {
            "/api/v1/homes": _get(
                "Evaluated homes, filtered (all filters must hold)",
                [_param("label", "query", "a label rule", names), _param("flag", "query", "a flag rule", names),
                 _param("warning", "query", "a warning rule", names),
                 _param("area", "query", "an area or community from the CRM import"),
                 _param("limit", "query", "page size (default 100)", integer),
                 _param("offset", "query", "page start", integer)],
                {"type": "object", "properties": {"total": {"type": "integer"},
                                                  "homes": {"type": "array", "items": {"$ref": "#/components/schemas/HomeRow"}}}},
                (400,),
            ),
            "/api/v1/homes/{gateway_id}": _get(
                "One home: profile per window, results with evidence, history",
                [_param("gateway_id", "path", "the gateway id"), _param("as_of", "query", "epoch second (default now)", integer),
                 _param("history", "query", "history entries (default 100)", integer)],
                {"$ref": "#/components/schemas/Home"},
                (400, 404),
            ),
            "/api/v1/areas": _get(
                "Per area or community; groups under the minimum size are suppressed",
                [_param("level", "query", "area (default) or community", {"type": "string", "enum": ["area", "community"]}),
                 _param("min_group", "query", "raise the minimum group size (never below the configured one)", integer)],
                {"type": "object"},
                (400,),
            ),
            "/api/v1/rules": _get("Registered rules, their windows and thresholds", [], {"type": "object"}),
        },
    }  # fmt: skip


def setup_homes(app: web.Application, config: ProfilesConfig | None = None) -> None:
    """Add the home-profile routes to ``app`` (the evaluation schedule is the service's).

    The thresholds come from ``HOMESCOPE_PROFILES_CONFIG`` (or the defaults); a bad file
    stops the app here, at start-up.
    """
    app[CONFIG] = config or load_config(None, plugin_defaults())
    app.add_routes(routes)
