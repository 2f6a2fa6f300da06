"""The OpenAPI 3 document of every route: the JSON API, the exports, the report archive and the
HTML pages, each with its parameters and responses (served at ``/api/v1/openapi.json``).

The home-profile routes come from :func:`collector.web.homes.openapi_document`; the rest are
described here. ``tests/collector/test_openapi.py`` checks that every route of the app is in
the document and runs schemathesis over it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from collector.profiles.rules import rules
from collector.web.access import Permission, requires
from collector.web.homes import openapi_document
from collector.web.ranges import SHORTCUTS

routes = web.RouteTableDef()
INTEGER = {"type": "integer", "minimum": 0}
DAY = {"type": "string", "format": "date"}
ERRORS = {
    400: "bad parameter (the message names it)",
    401: "authentication required",
    403: "the role lacks the permission",
    404: "not found",
}


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _range() -> list[dict[str, Any]]:
    return [
        _param("from", "query", "first day (UTC), YYYY-MM-DD", DAY),
        _param("to", "query", "last day (UTC, included), YYYY-MM-DD", DAY),
        _param("range", "query", "shortcut: last7, this_month, previous (the period before from/to)",
               {"type": "string", "enum": list(SHORTCUTS)}),
    ]  # fmt: skip


def _op(
    summary: str,
    params: list[dict[str, Any]],
    media: str,
    schema: dict[str, Any],
    errors: tuple[int, ...] = (400,),
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {media: {"schema": schema}}}}
    for code in (*errors, 401, 403):
        responses[str(code)] = {"description": ERRORS[code]}
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


HTML = ("text/html", {"type": "string"})
OBJ: dict[str, Any] = {"type": "object"}
GATEWAY_FILTERS = [
    _param("status", "query", "online or offline", {"type": "string", "enum": ["online", "offline"]}),
    _param(
        "agent", "query", "outdated: not the newest agent version", {"type": "string", "enum": ["outdated"]}
    ),
    _param("sampler", "query", "failing: a sampler in state error", {"type": "string", "enum": ["failing"]}),
    _param("cpu_min", "query", "latest CPU % at least", {"type": "integer", "minimum": 0, "maximum": 100}),
    _param(
        "limit", "query", "gateways read (default 1000)", {"type": "integer", "minimum": 1, "maximum": 10000}
    ),
    *_range(),
]
GID = _param("gateway_id", "path", "the gateway id")
PAGING = [_param("limit", "query", "page size", {"type": "integer", "minimum": 0, "maximum": 10000}),
          _param("offset", "query", "page start", INTEGER)]  # fmt: skip
EVENTS = [
    _param("limit", "query", "events (default 100)", {"type": "integer", "minimum": 1, "maximum": 10000}),
    _param("event", "query", "one kind of event"),
]
HOME_FILTERS = [
    _param("label", "query", "a label rule"),
    _param("flag", "query", "a flag rule"),
    _param("warning", "query", "a warning rule"),
    _param("area", "query", "an area or community"),
    *_range(),
]


def _exports(path: str, summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        f"{path}.csv": _op(f"{summary} as CSV (UTF-8 with BOM)", params, "text/csv", {"type": "string"}),
        f"{path}.json": _op(f"{summary} as JSON", params, "application/json", OBJ),
    }


def _post(
    summary: str, params: list[dict[str, Any]], codes: dict[int, str], form: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A form post: ``form`` names its fields and their schemas (so fuzzing fills them)."""
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": {str(c): {"description": d} for c, d in codes.items()},
    }
    if form:
        op["requestBody"] = {
            "content": {
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": form}}
            }
        }
    return {"post": op}


TEXT = {"type": "string", "maxLength": 200}
INSTALL_FORM = {"placement": TEXT, "notes": {"type": "string", "maxLength": 2000},
                "mesh_added": {"type": "string", "enum": ["0", "1"]}, "command_id": {"type": "string"}}  # fmt: skip
CAMPAIGN_FORM = {
    **{k: TEXT for k in ("name", "flag", "label", "warning", "area", "offer_id", "template")},
    "channel": {"type": "string", "enum": ["sms", "email", "push", "call"]}, "control_share": TEXT,
}  # fmt: skip
TOKEN_FORM = {"name": TEXT, "role": TEXT, "days": TEXT}
UNLOCK_FORM = {"key": {"type": "string", "description": "user:<name> or addr:<address>"}}


def _export_params() -> dict[str, list[dict[str, Any]]]:
    """Each table export's query parameters: the same as its page's table."""
    level = _param("level", "query", "area or community", {"type": "string", "enum": ["area", "community"]})
    window = _param(
        "window", "query", "profile window (default 7d)", {"type": "string", "enum": ["day", "7d", "30d"]}
    )
    as_of = _param("as_of", "query", "epoch second (default now)", INTEGER)
    history = _param(
        "history",
        "query",
        "history entries (default 100)",
        {"type": "integer", "minimum": 0, "maximum": 10000},
    )
    return {
        "/homes": HOME_FILTERS, "/gateways": GATEWAY_FILTERS,
        "/areas": [level, _param("min_group", "query", "raise the minimum group", INTEGER), *_range()],
        "/quarantine": [_param("limit", "query", "rows (default 1000)", {"type": "integer", "minimum": 0,
                                                                        "maximum": 100000}), *_range()],
        "/reports": [*PAGING, *_range()], "/security/events": EVENTS,
        "/gateways/{gateway_id}/history": [GID, *_range()], "/gateways/{gateway_id}/interfaces": [GID],
        "/gateways/{gateway_id}/samplers": [GID], "/homes/{gateway_id}/terminals": [GID, window, as_of, history],
        "/homes/{gateway_id}/history": [GID, as_of, history], "/homes/{gateway_id}/days": [GID, as_of, history, *_range()],
    }  # fmt: skip


def _every_export() -> dict[str, Any]:
    """The CSV and JSON of every table (:data:`collector.web.exports.EXPORTS`)."""
    from collector.web.exports import EXPORTS  # the exports import the pages' readers, as this module does

    params = _export_params()
    out: dict[str, Any] = {}
    for export in EXPORTS:
        found = _exports(export.path, export.summary, params[export.path])
        for op in found.values():
            if "{gateway_id}" in export.path:
                op["get"]["responses"]["404"] = {"description": "no such gateway or home"}
        out.update(found)
    return out


def _marketing_pages() -> dict[str, Any]:
    """The marketing pages (``collector/web/marketing_site.py``); its API describes itself."""
    mid = _param("id", "path", "the audience's or campaign's id")
    prefill = [
        _param(k, "query", f"pre-fill the desk with this {k}") for k in ("flag", "label", "warning", "area")
    ]
    done = {303: "to the campaign's page", 400: "a field or state named", 401: ERRORS[401], 403: ERRORS[403]}
    return {
        "/marketing": _op("The campaign desk: segments, audiences, campaigns", prefill, *HTML, ()),
        "/marketing/audiences/{id}": _op("One audience: members with their evidence", [mid], *HTML, (404,)),
        "/marketing/campaigns/{id}": _op(
            "One campaign: treatment vs control over time", [mid], *HTML, (404,)
        ),
        "/marketing/subscribers/{subscriber_id}": _op(
            "A subscriber's next-best offers with talk tracks",
            [_param("subscriber_id", "path", "the subscriber id")],
            *HTML,
            (404,),
        ),
        "/marketing/winback": _op("Subscribers who left or went silent, by area", [], *HTML, ()),
        "/marketing/campaigns": _post("Create a campaign from the desk's form", [], done, CAMPAIGN_FORM),
        "/marketing/campaigns/{id}/launch": _post("Launch a draft campaign", [mid], done),
        "/marketing/campaigns/{id}/pause": _post("Pause a running campaign", [mid], done),
        "/marketing/campaigns/{id}/resume": _post("Resume a paused campaign", [mid], done),
    }


def _installer() -> dict[str, Any]:
    """The installer's view (``collector/web/installer.py``)."""
    gid = _param("gateway_id", "path", "the gateway id")
    return {
        "/installer": _op("Find a home (phone page)", [_param("q", "query", "subscriber, gateway or area")], *HTML, ()),
        "/api/v1/installer/search": _op(
            "Homes matching a search", [_param("q", "query", "1 to 100 characters")], "application/json", OBJ
        ),
        "/installer/homes/{gateway_id}": _op("One home for the installer", [gid], *HTML, (400, 404)),
        "/api/v1/installer/homes/{gateway_id}": _op(
            "The home's freshest measurement and install baseline", [gid], "application/json", OBJ, (400, 404)
        ),
        "/api/v1/installer/commands/{command_id}": _op(
            "A measure-now command's state and result",
            [_param("command_id", "path", "the command id")], "application/json", OBJ, (404,),
        ),
        "/api/v1/installer/homes/{gateway_id}/measure": _post(
            "Ask the gateway to measure now",
            [gid],
            {202: "the command", 400: "bad gateway id", 401: ERRORS[401], 403: ERRORS[403], 404: "unknown gateway",
             409: "the gateway cannot be asked now", 503: "this collector sends no commands"},
        ),
        "/installer/homes/{gateway_id}/install": _post(
            "Record the install: the current measurement becomes the baseline",
            [gid],
            {303: "back to the home's page", 400: "nothing measured yet", 401: ERRORS[401], 403: ERRORS[403],
             404: "unknown gateway"},
            form=INSTALL_FORM,
        ),
        "/static/installer.js": {"get": {"summary": "The installer page's script", "parameters": [],
                                         "responses": {"200": {"description": "JavaScript"}}}},
    }  # fmt: skip


def _security() -> dict[str, Any]:
    """The auditor's and the admin's routes (``collector/web/security_pages.py``)."""
    events = EVENTS
    done = {303: "back to the admin page", 400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403]}
    return {
        "/security/events": _op("The security events page", events, *HTML),
        "/api/v1/security/events": _op("Security events, newest first", events, "application/json", OBJ),
        "/admin": _op("Users, sessions, tokens, lockouts", [], *HTML, ()),
        "/admin/tokens": _post("Create an API token (form: name, role, days)", [], done, TOKEN_FORM),
        "/admin/tokens/{token_id}/revoke": _post(
            "Revoke a token", [_param("token_id", "path", "the token id")], done
        ),
        "/admin/sessions/{id_hash}/revoke": _post(
            "Revoke a session", [_param("id_hash", "path", "the session's id hash")], done
        ),
        "/admin/unlock": _post("Lift a sign-in lockout (form: key)", [], done, UNLOCK_FORM),
    }


def _dpi() -> dict[str, Any]:
    """The unclassified-domains view and the operator's domain rules (``collector/web/dpi_pages.py``)."""
    week = [
        _param(
            "week",
            "query",
            "ISO week, e.g. 2026-W49 (default: this week)",
            {"type": "string", "pattern": r"^\d{4}-W\d{2}$"},
        )
    ]
    done = {
        303: "back to the view",
        400: "a bad domain or category (named)",
        401: ERRORS[401],
        403: ERRORS[403],
    }
    return {
        "/dpi/unclassified": _op("Domains the fleet could not classify, by week (at least the minimum of homes)",
                                 week, *HTML),
        "/dpi/unclassified.csv": _op("The week's unclassified domains as CSV", week, "text/csv", {"type": "string"}),
        "/dpi/unclassified.json": _op("The week's unclassified domains as JSON", week, "application/json", OBJ),
        "/dpi/rules": _post("Give a domain a category (form: domain, category, week)", [], done),
        "/dpi/rules/delete": _post("Remove a domain's category (form: domain, week)", [],
                                   {**done, 404: "no rule for that domain"}),
    }  # fmt: skip


def document(rule_names: list[str]) -> dict[str, Any]:
    """The whole API and page surface as OpenAPI 3.0."""
    from collector.web.marketing_site import openapi_paths  # the marketing API describes itself

    doc = openapi_document(rule_names)
    doc["info"] = {"title": "homescope collector", "version": "1"}
    doc["paths"].update(openapi_paths())
    doc["paths"].update(_marketing_pages())
    paging = [_param("limit", "query", "page size", {"type": "integer", "minimum": 0, "maximum": 10000}),
              _param("offset", "query", "page start", INTEGER)]  # fmt: skip
    report_name = _param("name", "path", "the report's period name, e.g. week-2026-W48")
    doc["paths"]["/api/v1/homes"]["get"]["parameters"] += _range()
    doc["paths"]["/api/v1/areas"]["get"]["parameters"] += _range()
    doc["paths"]["/api/v1/homes/{gateway_id}"]["get"]["parameters"] += _range()
    doc["paths"].update(
        {
            "/healthz": _op("Health", [], "application/json", OBJ, ()),
            "/api/v1/openapi.json": _op("This document", [], "application/json", OBJ, ()),
            "/api/v1/gateways": _op("Gateways with their latest figures and totals", paging, "application/json", OBJ),
            "/api/v1/gateways/{gateway_id}": _op(
                "One gateway: latest report, rates, history",
                [_param("gateway_id", "path", "the gateway id"),
                 _param("history", "query", "history windows (default 96; without a range)",
                        {"type": "integer", "minimum": 0, "maximum": 10000}), *_range()],
                "application/json", OBJ, (400, 404),
            ),
            "/api/v1/quarantine": _op("Quarantined payloads (no bytes), received in the range if one is given",
                                      [paging[0], *_range()], "application/json", OBJ),
            "/api/v1/reports": _op("Archived reports, latest period first", [*paging, *_range()],
                                   "application/json", OBJ),
            "/api/v1/reports/{name}": _op("One archived report", [report_name], "application/json", OBJ, (404,)),
            "/reports/{name}/{file}": {
                "get": {
                    "summary": "A file of an archived report: report.html, report.pdf or <table>.csv",
                    "parameters": [report_name, _param("file", "path", "report.html, report.pdf or a table's CSV")],
                    "responses": {"200": {"description": "the file"},
                                  **{str(c): {"description": ERRORS[c]} for c in (401, 403, 404)}},
                }
            },
            "/": _op("Gateways page (filters, range, exports)", GATEWAY_FILTERS, *HTML),
            "/gateways/{gateway_id}": _op("One gateway's page (charts over the range, default the latest day)",
                                          [GID, *_range()], *HTML, (400, 404)),
            "/quarantine": _op("Quarantine page", [paging[0], *_range()], *HTML),
            "/homes": _op("Homes page", [*HOME_FILTERS, *paging], *HTML),
            "/homes/{gateway_id}": _op(
                "One home's page",
                [_param("gateway_id", "path", "the gateway id"),
                 _param("window", "query", "profile window", {"type": "string", "enum": ["day", "7d", "30d"]}),
                 _param("as_of", "query", "epoch second", INTEGER),
                 _param("history", "query", "history entries (default 100)", {"type": "integer", "minimum": 0,
                                                                                "maximum": 10000}), *_range()],
                *HTML, (400, 404),
            ),
            "/areas": _op("Area view page", [_param("level", "query", "area or community",
                                                    {"type": "string", "enum": ["area", "community"]}),
                                             _param("min_group", "query", "raise the minimum group", INTEGER),
                                             *_range()], *HTML),
            "/areas/{name}": _op("One area's trends", [_param("name", "path", "an area or community"), *_range()],
                                 *HTML),
            "/reports": _op("The report archive page", [*paging, *_range()], *HTML),
            **_installer(),
            **_security(),
            **_dpi(),
            **{f"/static/{name}": {"get": {"summary": f"The {name} stylesheet", "parameters": [],
                                           "responses": {"200": {"description": "CSS"}}}}
               for name in ("homescope.css", "installer.css", "report.css")},
            **_every_export(),
        }
    )  # fmt: skip
    return doc


@routes.get("/api/v1/openapi.json")
@requires(Permission.FLEET_READ)
async def api_openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3 document of every route, marketing's included."""
    return web.json_response(document(sorted(rules())))
