"""The marketing pages (``/marketing...``), the delivery schedule, the OpenAPI paths of the
marketing API, and :func:`setup_marketing`, which adds them all to the app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from collector.marketing import MarketingError, delivery, reporting
from collector.marketing import audiences as aud
from collector.marketing import campaigns as camp
from collector.marketing.audiences import NotFound
from collector.marketing.catalogue import Catalogue, load_catalogue
from collector.marketing.results import campaign_results
from collector.marketing.senders import Sender, sender_from_url
from collector.profiles.rules import KINDS, rules
from collector.web import marketing_pages as pages
from collector.web.access import Permission, requires
from collector.web.auth import USER
from collector.web.marketing import CATALOGUE, csrf_field, kind_of, routes, secret
from collector.web.marketing import _contacts as contacts_allowed
from collector.web.routes import STORE

log = logging.getLogger(__name__)
site = web.RouteTableDef()
R, W = Permission.MARKETING_READ, Permission.MARKETING_WRITE


def _page(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


def _names() -> dict[str, list[str]]:
    return {k: sorted(n for n, r in rules().items() if r.kind == k) for k in KINDS}


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise web.HTTPBadRequest(text="id must be an integer")
    return int(raw)


async def _desk(request: web.Request, query: dict[str, str], error: str = "") -> web.Response:
    catalogue = request.app[CATALOGUE]
    db = request.app[STORE].db
    flag = query.get("flag") or ""
    default = next((o.id for o in catalogue.for_flag(flag)), next(iter(catalogue.offers))) if flag else ""
    offers = [(o.id, o.name) for o in catalogue.offers.values()]
    page = pages.desk_page(query, _names(), offers, default, await aud.audiences(db), await camp.campaigns(db),
                           request[USER], csrf_field(request), error)  # fmt: skip
    return _page(page)


@site.get("/marketing")
@requires(R)
async def desk(request: web.Request) -> web.Response:
    """The campaign desk (``flag=``, ``area=`` pre-fill it from the homes list)."""
    return await _desk(request, dict(request.query))


def definition_of(form: dict[str, str]) -> dict[str, Any]:
    """A segment definition from the desk's form: every chosen rule and the area, all required."""
    parts: list[dict[str, Any]] = [{k: form[k]} for k in ("flag", "label", "warning") if form.get(k)]
    if form.get("area"):
        parts.append({"any": [{"area": form["area"]}, {"community": form["area"]}]})
    if not parts:
        raise MarketingError("choose at least a flag, label, warning or area")
    return {"all": parts}


@site.post("/marketing/campaigns")
@requires(W)
async def desk_create(request: web.Request) -> web.Response:
    """Freeze an audience from the form and save a draft campaign on it."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    db = request.app[STORE].db
    try:
        definition = definition_of(form)
        name = form.get("name") or "campaign"
        audience = await aud.freeze_audience(db, name, definition, kind_of, request[USER])
        spec = {"name": name, "audience_id": audience["id"], "offer_id": form.get("offer_id"),
                "channel": form.get("channel") or "sms", "template": form.get("template", ""),
                "control_share": form.get("control_share") or 0.1}  # fmt: skip
        created = await camp.create_campaign(db, request.app[CATALOGUE], spec, request[USER])
    except MarketingError as exc:
        return await _desk(request, form, str(exc))
    raise web.HTTPSeeOther(f"/marketing/campaigns/{created['id']}")


@site.get("/marketing/campaigns/{id}")
@requires(R)
async def campaign_page(request: web.Request) -> web.Response:
    """A campaign: preview, Launch/Pause, results with the treatment vs control chart."""
    db, catalogue = request.app[STORE].db, request.app[CATALOGUE]
    try:
        shown = await camp.preview(db, catalogue, _id(request))
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    results = (
        await campaign_results(db, catalogue, shown["campaign"]["id"])
        if shown["campaign"]["launched_at"]
        else None
    )
    return _page(pages.campaign_page(shown, results, request[USER], csrf_field(request)))


async def _act(request: web.Request, action: str) -> web.Response:
    db, cid = request.app[STORE].db, _id(request)
    try:
        if action == "launch":
            await camp.launch(db, request.app[CATALOGUE], cid)
        else:
            await camp.set_state(db, cid, action)
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    except MarketingError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/marketing/campaigns/{cid}")


@site.post("/marketing/campaigns/{id}/launch")
@requires(W)
async def launch_form(request: web.Request) -> web.Response:
    return await _act(request, "launch")


@site.post("/marketing/campaigns/{id}/pause")
@requires(W)
async def pause_form(request: web.Request) -> web.Response:
    return await _act(request, "paused")


@site.post("/marketing/campaigns/{id}/resume")
@requires(W)
async def resume_form(request: web.Request) -> web.Response:
    return await _act(request, "launched")


@site.get("/marketing/audiences/{id}")
@requires(R)
async def audience_page(request: web.Request) -> web.Response:
    db = request.app[STORE].db
    try:
        header = await aud.audience(db, _id(request))
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    found = await aud.members(db, header["id"], contacts_allowed(request), limit=1000)
    return _page(pages.audience_page(header, found, contacts_allowed(request), request[USER]))


@site.get("/marketing/subscribers/{subscriber_id}")
@requires(R)
async def offers_page(request: web.Request) -> web.Response:
    try:
        found = await aud.next_best_offers(request.app[STORE].db, request.app[CATALOGUE],
                                           request.match_info["subscriber_id"])  # fmt: skip
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    return _page(pages.offers_page(found, request[USER]))


@site.get("/marketing/winback")
@requires(R)
async def winback_page(request: web.Request) -> web.Response:
    return _page(pages.winback_page(await aud.winback(request.app[STORE].db), request[USER]))


# -- delivery ---------------------------------------------------------------------------------
async def _deliver(app: web.Application, sender: Sender, every_s: float) -> None:
    while True:
        try:
            counts = await delivery.deliver_due(app[STORE].db, app[CATALOGUE], sender)
            if counts["sent"] or counts["failed"]:
                log.info("campaign delivery: %s", json.dumps(counts))
        except asyncio.CancelledError:
            raise
        except Exception:
            # retried at the next interval; ingest and the pages must never stop for it
            log.exception("campaign delivery failed")
        await asyncio.sleep(every_s)


async def _delivery(app: web.Application) -> AsyncIterator[None]:
    spec = os.environ.get("HOMESCOPE_SENDER", "")
    task = None
    if spec:
        # a webhook sender without its key stops start-up (MarketingError names the variable)
        key = b"" if spec.startswith("file:") else secret()
        every = float(os.environ.get("HOMESCOPE_DELIVER_EVERY_S", "60"))
        task = asyncio.create_task(_deliver(app, sender_from_url(spec, key), every), name="campaign-delivery")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- OpenAPI ----------------------------------------------------------------------------------
def _op(summary: str, params: list[str] = (), body: bool = False, csv: bool = False) -> dict[str, Any]:  # type: ignore[assignment]
    content = (
        {"text/csv": {"schema": {"type": "string"}}}
        if csv
        else {"application/json": {"schema": {"type": "object"}}}
    )
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params],
        "responses": {"200": {"description": "OK", "content": content}, "400": {"description": "bad input, named"},
                      "401": {"description": "authentication required"}, "403": {"description": "role lacks the permission"},
                      "404": {"description": "no such item"}},
    }  # fmt: skip
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return op


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI paths of the marketing API (merged into ``/api/v1/openapi.json``)."""
    i = ["id"]
    top = {"name": "top", "in": "query", "required": False, "schema": {"type": "integer", "default": 6}}
    offers = _op("Ranked next-best offers with talk tracks", ["subscriber_id"])
    offers["parameters"].append(top)
    audience = _op("An audience with members and evidence", i)
    audience["parameters"].append(
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "default": 1000}}
    )
    export = _op("Members as CSV (UTF-8 BOM, formulas neutralised)", i, csv=True)
    export["parameters"].append(
        {"name": "offer", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "an offer id of the catalogue: fills the offer column"}
    )  # fmt: skip
    return {
        "/api/v1/segments": {"get": _op("Saved segments"), "post": _op("Save a segment {name, definition}", body=True)},
        "/api/v1/segments/preview": {"post": _op("Size and sample of a definition", body=True)},
        "/api/v1/audiences": {"get": _op("Audiences"),
                              "post": _op("Freeze an audience {name, segment_id | definition}", body=True)},
        "/api/v1/audiences/{id}": {"get": audience},
        "/api/v1/audiences/{id}/export.csv": {"get": export},
        "/api/v1/audiences/{id}/push": {"post": _op("Push to a CRM webhook {url}: signed, retried, idempotent", i, True)},
        "/api/v1/subscribers/{subscriber_id}/offers": {"get": offers},
        "/api/v1/winback": {"get": _op("Left or silent subscribers by area, with likely reasons")},
        "/api/v1/campaigns": {"get": _op("Campaigns"), "post": _op("Create a draft campaign", body=True)},
        "/api/v1/campaigns/{id}": {"get": _op("A campaign with its preview (arms, rendered messages)", i)},
        "/api/v1/campaigns/{id}/launch": {"post": _op("Draw the control group and queue the messages", i)},
        "/api/v1/campaigns/{id}/pause": {"post": _op("Pause delivery", i)},
        "/api/v1/campaigns/{id}/resume": {"post": _op("Resume delivery", i)},
        "/api/v1/campaigns/{id}/results": {"get": _op("Conversion per arm, uplift with 95% CI (Newcombe), verified", i)},
    }  # fmt: skip


def setup_marketing(app: web.Application, catalogue: Catalogue | None = None) -> None:
    """Add the marketing API, pages and delivery; a bad catalogue stops the app here."""
    app[CATALOGUE] = catalogue or load_catalogue(None, kind_of)
    reporting.register(app[CATALOGUE])  # the reports built in this process show the campaigns
    app.add_routes(routes)
    app.add_routes(site)
    app.cleanup_ctx.append(_delivery)
