"""Marketing over HTTP: segments, audiences (CSV export, webhook push), next-best offers,
the win-back list and campaigns (create, preview, launch, pause, results), as JSON API and
the JSON API; the pages and the delivery schedule are :mod:`collector.web.marketing_site`.

Every route declares MARKETING_READ or MARKETING_WRITE; contact fields appear only for
roles holding CONTACTS_READ. ``HOMESCOPE_OFFERS`` names the offer catalogue (TOML),
``HOMESCOPE_SENDER`` where messages go (``file:/dir`` or an http(s) webhook; unset: they
stay queued), ``HOMESCOPE_WEBHOOK_SECRET`` the HMAC key of webhooks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from collector.marketing import MarketingError
from collector.marketing import audiences as aud
from collector.marketing import campaigns as camp
from collector.marketing.audiences import NotFound
from collector.marketing.catalogue import Catalogue
from collector.marketing.export import audience_csv, body_bytes, idempotency_key
from collector.marketing.results import campaign_results
from collector.marketing.senders import post_signed
from collector.profiles.rules import rules
from collector.store.sql import Database, Statement
from collector.web.access import ROLE, Permission, allowed, requires
from collector.web.auth import USER
from collector.web.routes import STORE

log = logging.getLogger(__name__)
CATALOGUE: web.AppKey[Catalogue] = web.AppKey("offer_catalogue", Catalogue)
routes = web.RouteTableDef()
R, W = Permission.MARKETING_READ, Permission.MARKETING_WRITE


def kind_of(name: str) -> str | None:
    """A registered rule's kind, or ``None``."""
    found = rules().get(name)
    return found.kind if found else None


def _db(request: web.Request) -> Database:
    return request.app[STORE].db


def _contacts(request: web.Request) -> bool:
    return allowed(request[ROLE], Permission.CONTACTS_READ)


def _id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise web.HTTPBadRequest(text=f"{name} must be an integer")
    return int(raw)


def csrf_field(request: web.Request) -> str:
    """The hidden anti-forgery field of a form (empty until the session work provides one)."""
    return ""


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _answer(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[web.Response]]:
    """Bad input -> 400 naming the field, missing things -> 404, both as JSON."""

    async def run(*args: Any, **kwargs: Any) -> web.Response:
        try:
            return web.json_response(await fn(*args, **kwargs))
        except NotFound as exc:
            return web.json_response({"error": str(exc)}, status=404)
        except MarketingError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return run


# -- segments and audiences -------------------------------------------------------------------
@routes.get("/api/v1/segments")
@requires(R)
async def api_segments(request: web.Request) -> web.Response:
    return await _answer(lambda: _wrap("segments", aud.segments(_db(request))))()


async def _wrap(key: str, value: Awaitable[Any]) -> dict[str, Any]:
    return {key: await value}


@routes.post("/api/v1/segments")
@requires(W)
async def api_save_segment(request: web.Request) -> web.Response:
    body = await _json(request)
    return await _answer(aud.save_segment)(
        _db(request), str(body.get("name", "")), body.get("definition"), kind_of, request[USER]
    )


@routes.post("/api/v1/segments/preview")
@requires(R)
async def api_preview_segment(request: web.Request) -> web.Response:
    body = await _json(request)
    return await _answer(aud.preview)(_db(request), body.get("definition"), kind_of)


@routes.get("/api/v1/audiences")
@requires(R)
async def api_audiences(request: web.Request) -> web.Response:
    return await _answer(lambda: _wrap("audiences", aud.audiences(_db(request))))()


async def _definition(db: Database, body: dict[str, Any]) -> tuple[Any, int | None]:
    if body.get("segment_id") is not None:
        if not str(body["segment_id"]).isdigit():
            raise MarketingError("audience: segment_id must be a segment's id")
        seg = await aud.segment(db, int(body["segment_id"]))
        return seg["definition"], int(seg["id"])
    if body.get("definition") is None:
        raise MarketingError("audience: give a segment_id or a definition")
    return body["definition"], None


@routes.post("/api/v1/audiences")
@requires(W)
async def api_freeze_audience(request: web.Request) -> web.Response:
    body = await _json(request)

    async def run() -> dict[str, Any]:
        definition, segment_id = await _definition(_db(request), body)
        name = str(body.get("name") or "audience")
        return await aud.freeze_audience(_db(request), name, definition, kind_of, request[USER], segment_id)

    return await _answer(run)()


@routes.get("/api/v1/audiences/{id}")
@requires(R)
async def api_audience(request: web.Request) -> web.Response:
    async def run() -> dict[str, Any]:
        header = await aud.audience(_db(request), _id(request))
        raw = request.query.get("limit", "1000")
        if not raw.isdigit():
            raise MarketingError("limit must be an integer")
        limit = min(int(raw), 100_000)
        return {**header, "members": await aud.members(_db(request), header["id"], _contacts(request), limit)}

    return await _answer(run)()


@routes.get("/api/v1/audiences/{id}/export.csv")
@requires(R)
async def api_export(request: web.Request) -> web.Response:
    """The audience as CSV (UTF-8 with BOM; formulas neutralised); ``offer=`` fills the offer column."""
    db, audience_id = _db(request), _id(request)
    try:
        await aud.audience(db, audience_id)
        offer = (
            request.app[CATALOGUE].offer(request.query["offer"]).name if request.query.get("offer") else ""
        )
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    except MarketingError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    people = [{**m, "offer": offer} for m in await aud.members(db, audience_id, _contacts(request))]
    text = audience_csv(people, _contacts(request))
    return web.Response(body=text.encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="audience-{audience_id}.csv"'})  # fmt: skip


@routes.post("/api/v1/audiences/{id}/push")
@requires(W)
async def api_push(request: web.Request) -> web.Response:
    """Push the audience to a CRM webhook: signed (HMAC-SHA256), retried, idempotent (one key per content)."""
    body = await _json(request)
    db, audience_id = _db(request), _id(request)
    # only the operator's configured endpoints: a role that may push must not make the
    # collector POST personal data to any URL it names
    configured = [u.strip() for u in os.environ.get("HOMESCOPE_CRM_WEBHOOK", "").split(",") if u.strip()]
    url = str(body.get("url") or (configured[0] if configured else ""))
    if url not in configured:
        return web.json_response(
            {"error": "url is not a configured CRM webhook (HOMESCOPE_CRM_WEBHOOK)"}, status=400
        )
    try:
        await aud.audience(db, audience_id)
    except NotFound as exc:
        return web.json_response({"error": str(exc)}, status=404)
    try:
        key_bytes = secret()
    except MarketingError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    payload = {"audience_id": audience_id, "members": await aud.members(db, audience_id, _contacts(request))}
    key = idempotency_key("audience", audience_id, url, body_bytes(payload))
    done = await db.fetch_one("SELECT status, attempts FROM mkt_pushes WHERE key = ?", (key,))
    if done is not None and done["status"] == "delivered":
        return web.json_response({"key": key, "status": "delivered", "attempts": 0, "repeat": True})
    status, attempts = await asyncio.to_thread(post_signed, url, payload, key_bytes, key)
    state = "delivered" if 200 <= status < 300 else f"failed: HTTP {status}"
    await db.execute(Statement(
        "INSERT INTO mkt_pushes (key, audience_id, url, status, attempts, at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, at = excluded.at",
        (key, audience_id, url, state, attempts, time.time())))  # fmt: skip
    return web.json_response({"key": key, "status": state, "attempts": attempts, "repeat": False},
                             status=200 if state == "delivered" else 502)  # fmt: skip


def secret() -> bytes:
    """The HMAC key of webhooks (``HOMESCOPE_WEBHOOK_SECRET``); a signature under a known
    default key would prove nothing, so there is none."""
    key = os.environ.get("HOMESCOPE_WEBHOOK_SECRET", "").encode()
    if not key:
        raise MarketingError("HOMESCOPE_WEBHOOK_SECRET is not set: webhooks are signed with it")
    return key


# -- offers and win-back ----------------------------------------------------------------------
@routes.get("/api/v1/subscribers/{subscriber_id}/offers")
@requires(R)
async def api_offers(request: web.Request) -> web.Response:
    """Ranked next-best offers with talk tracks (``top=`` default 6)."""
    top = request.query.get("top", "")
    return await _answer(aud.next_best_offers)(
        _db(request),
        request.app[CATALOGUE],
        request.match_info["subscriber_id"],
        int(top) if top.isdigit() else None,
    )


@routes.get("/api/v1/winback")
@requires(R)
async def api_winback(request: web.Request) -> web.Response:
    return await _answer(aud.winback)(_db(request))


# -- campaigns --------------------------------------------------------------------------------
@routes.get("/api/v1/campaigns")
@requires(R)
async def api_campaigns(request: web.Request) -> web.Response:
    return await _answer(lambda: _wrap("campaigns", camp.campaigns(_db(request))))()


@routes.post("/api/v1/campaigns")
@requires(W)
async def api_create_campaign(request: web.Request) -> web.Response:
    body = await _json(request)
    return await _answer(camp.create_campaign)(_db(request), request.app[CATALOGUE], body, request[USER])


@routes.get("/api/v1/campaigns/{id}")
@requires(R)
async def api_campaign(request: web.Request) -> web.Response:
    """A campaign with its preview: arm sizes and the first rendered messages."""
    return await _answer(camp.preview)(_db(request), request.app[CATALOGUE], _id(request))


@routes.post("/api/v1/campaigns/{id}/launch")
@requires(W)
async def api_launch(request: web.Request) -> web.Response:
    return await _answer(camp.launch)(_db(request), request.app[CATALOGUE], _id(request))


@routes.post("/api/v1/campaigns/{id}/pause")
@requires(W)
async def api_pause(request: web.Request) -> web.Response:
    return await _answer(camp.set_state)(_db(request), _id(request), "paused")


@routes.post("/api/v1/campaigns/{id}/resume")
@requires(W)
async def api_resume(request: web.Request) -> web.Response:
    return await _answer(camp.set_state)(_db(request), _id(request), "launched")


@routes.get("/api/v1/campaigns/{id}/results")
@requires(R)
async def api_results(request: web.Request) -> web.Response:
    """Per arm: size, contacted, converted; uplift with its 95% CI (Newcombe); verified; opt-outs; series."""
    return await _answer(campaign_results)(_db(request), request.app[CATALOGUE], _id(request))
