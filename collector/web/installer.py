"""The installer's routes: find a home, see its network, measure now, record the visit.

Everything here needs ``Permission.INSTALL``: the installer role reaches one home at a
time through search, never lists of homes or contact exports.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from aiohttp import web

from collector.installer.channel import CommandChannel, Refusal
from collector.installer.records import InstallerRecords, InstallRecord, new_id
from collector.installer.snapshot import Snapshot, snapshot
from collector.profiles.config import ProfilesConfig, load_config
from collector.store import Store, StoreError
from collector.store.base import insights
from collector.web import installer_pages
from collector.web.access import Permission, requires
from collector.web.auth import USER
from protocol.topics import is_valid_gateway_id

routes = web.RouteTableDef()
CHANNEL: web.AppKey[CommandChannel | None] = web.AppKey("commands", object)  # type: ignore[arg-type]
RECORDS: web.AppKey[InstallerRecords] = web.AppKey("installer_records", InstallerRecords)
PROFILES: web.AppKey[ProfilesConfig] = web.AppKey("installer_profiles", ProfilesConfig)
STORE: web.AppKey[Store] = web.AppKey("installer_store", Store)
MAX_QUERY = 100
#: Results of these kinds are what an installer can act on in the home.
OFFER_KINDS = ("flag", "warning")


def setup_installer(app: web.Application, store: Store, channel: CommandChannel | None) -> None:
    app[CHANNEL] = channel
    app[RECORDS] = channel.records if channel is not None else InstallerRecords(store.db)
    app[PROFILES] = load_config()
    app[STORE] = store
    app.add_routes(routes)


def _gateway(request: web.Request) -> str:
    gid = request.match_info["gateway_id"]
    if not is_valid_gateway_id(gid):
        raise web.HTTPBadRequest(text="gateway_id: not a gateway id")
    return gid


def _page(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


async def _current(request: web.Request, gid: str) -> tuple[dict[str, Any] | None, Snapshot | None, str]:
    """The freshest view of the home: the last "measure now" answer or the last report."""
    records, config = request.app[RECORDS], request.app[PROFILES]
    latest = await request.app[STORE].gateway(gid)
    body = (latest or {}).get("latest")
    report_at = int((latest or {}).get("last_window_end") or 0)
    measured = await records.latest_measurement(gid)
    if measured is not None and measured.result and (measured.answered_at or 0) >= report_at:
        at = int(measured.answered_at or time.time())
        return measured.result, snapshot(measured.result, at, config), "measured now"
    if body:
        return body, snapshot(body, report_at, config), "last report"
    return None, None, ""


@routes.get("/installer")
@requires(Permission.INSTALL)
async def search_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:MAX_QUERY]
    hits = await request.app[RECORDS].search(query) if query else []
    return _page(installer_pages.search_page(query, hits, request[USER]))


@routes.get("/api/v1/installer/search")
@requires(Permission.INSTALL)
async def api_search(request: web.Request) -> web.Response:
    """Homes matching ``q`` (subscriber id, gateway id, area, community), at most 20."""
    query = request.query.get("q", "")
    if not query.strip() or len(query) > MAX_QUERY:
        raise web.HTTPBadRequest(text=f"q: between 1 and {MAX_QUERY} characters")
    return web.json_response({"homes": await request.app[RECORDS].search(query)})


@routes.get("/installer/homes/{gateway_id}")
@requires(Permission.INSTALL)
async def home_page(request: web.Request) -> web.Response:
    gid = _gateway(request)
    records = request.app[RECORDS]
    status = await records.gateway_status(gid)
    subscriber = None
    offers: list[dict[str, Any]] = []
    try:
        profiles = insights(request.app[STORE])
        subscriber = (await profiles.subscribers([gid])).get(gid)
        offers = [r for r in await profiles.home_results(gid) if r.get("kind") in OFFER_KINDS]
    except StoreError:
        pass  # a store without home profiles: the network view alone
    if status is None and subscriber is None:
        raise web.HTTPNotFound(text=f"no home {gid}")
    body, snap, source = await _current(request, gid)
    installs = await records.installs(gid)
    page = installer_pages.home_page(
        gid, status, subscriber, body, snap, source, installs, offers, request[USER]
    )
    return _page(page)


@routes.get("/api/v1/installer/homes/{gateway_id}")
@requires(Permission.INSTALL)
async def api_home(request: web.Request) -> web.Response:
    """The home's freshest measurement scored and explained, with its install baseline."""
    gid = _gateway(request)
    records = request.app[RECORDS]
    status = await records.gateway_status(gid)
    if status is None:
        raise web.HTTPNotFound(text=f"no gateway {gid}")
    _, snap, source = await _current(request, gid)
    installs = await records.installs(gid, limit=1)
    return web.json_response(
        {
            "gateway_id": gid,
            "status": status.get("status"),
            "source": source or None,
            "snapshot": snap.as_dict() if snap else None,
            "baseline": installs[0].as_dict() if installs else None,
        }
    )


@routes.post("/api/v1/installer/homes/{gateway_id}/measure")
@requires(Permission.INSTALL)
async def api_measure(request: web.Request) -> web.Response:
    """Ask the gateway for a fresh measurement: 202 with the command, or 409 if it cannot be asked."""
    gid = _gateway(request)
    channel = request.app[CHANNEL]
    if channel is None:
        return web.json_response(
            {"reason": "no_channel", "detail": "this collector sends no commands"}, status=503
        )
    found = await channel.measure_now(gid, request[USER])
    if isinstance(found, Refusal):
        status = 404 if found.reason == "unknown_gateway" else 409
        return web.json_response({"reason": found.reason, "detail": found.detail}, status=status)
    return web.json_response(installer_pages.command_json(found, None), status=202)


@routes.get("/api/v1/installer/commands/{command_id}")
@requires(Permission.INSTALL)
async def api_command(request: web.Request) -> web.Response:
    """A command's state; once answered, the measurement as figures and as the page's HTML."""
    cid = request.match_info["command_id"]
    record = await request.app[RECORDS].command(cid[:64], time.time())
    if record is None:
        raise web.HTTPNotFound(text=f"no command {cid[:64]}")
    html = None
    out_snapshot = None
    if record.state == "done" and record.result is not None:
        snap = snapshot(record.result, int(record.answered_at or time.time()), request.app[PROFILES])
        installs = await request.app[RECORDS].installs(record.gateway_id, limit=1)
        html = installer_pages.snapshot_html(snap, "measured now", installs[0] if installs else None)
        out_snapshot = snap.as_dict()
    payload = installer_pages.command_json(record, html)
    payload["snapshot"] = out_snapshot
    return web.json_response(payload)


@routes.post("/installer/homes/{gateway_id}/install")
@requires(Permission.INSTALL)
async def record_install(request: web.Request) -> web.Response:
    """End of visit: the current measurement becomes the home's baseline."""
    gid = _gateway(request)
    form = await request.post()
    placement = str(form.get("placement", "")).strip()[:200]
    notes = str(form.get("notes", "")).strip()[:2000]
    records = request.app[RECORDS]
    if await records.gateway_status(gid) is None:
        raise web.HTTPNotFound(text=f"no gateway {gid}")
    _, snap, source = await _current(request, gid)
    if snap is None:
        raise web.HTTPBadRequest(text="nothing measured yet: press measure now first")
    command_id = str(form.get("command_id", ""))[:64] or None
    await records.record_install(
        InstallRecord(
            install_id=new_id(),
            gateway_id=gid,
            recorded_by=request[USER],
            recorded_at=time.time(),
            mesh_added=form.get("mesh_added") == "1",
            placement=placement,
            notes=notes,
            command_id=command_id,
            wifi_score=snap.wifi_score,
            baseline={"source": source, **snap.as_dict()},
        )
    )
    raise web.HTTPSeeOther(f"/installer/homes/{gid}")


@routes.get("/static/installer.js")
@requires(Permission.PUBLIC)
async def script(request: web.Request) -> web.Response:
    text = resources.files("collector.web").joinpath("installer.js").read_text(encoding="utf-8")
    return web.Response(
        text=text, content_type="application/javascript", headers={"Cache-Control": "max-age=300"}
    )
