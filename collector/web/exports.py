"""Every list in the UI as CSV (UTF-8 with BOM, formula-safe) and JSON, streamed.

``/homes.csv`` and ``/homes.json`` take the /homes page's filters and date range and
return every matching home (not one page); ``/gateways.*`` the gateways list with its
filters; ``/areas.*`` the area view (small groups suppressed as on the page);
``/quarantine.*`` the quarantine list. Rows are written as they are read: homes in chunks
by key, so an export of 100,000 homes holds one chunk in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from collector.reports.export import BOM, csv_row, json_lines
from collector.web import home_list
from collector.web.access import Permission, requires
from collector.web.fleet import GatewayFilters, gateway_rows
from collector.web.homes import areas_data, home_query
from collector.web.routes import STORE

routes = web.RouteTableDef()
#: (key, heading) of each export's columns; lists of rule names are joined with ", ".
HOME_COLUMNS = (
    ("gateway_id", "Gateway"), ("subscriber_id", "Subscriber"), ("area", "Area"), ("community", "Community"),
    ("wifi_score", "Wi-Fi score"), ("devices", "Devices"), ("gb_per_day", "GB/day"),
    ("online_hours", "Engaged h/day"), ("evaluated_at", "Evaluated (UTC)"), ("label", "Labels"), ("flag", "Flags"),
    ("warning", "Warnings"),
)  # fmt: skip
GATEWAY_COLUMNS = (
    ("gateway_id", "Gateway"), ("status", "Status"), ("last_seen", "Last seen (UTC)"), ("agent_version", "Agent"),
    ("reports", "Reports"), ("cpu_pct", "CPU %"), ("mem_used_pct", "Memory %"), ("wan_rx_bps", "WAN rx bit/s"),
    ("wan_tx_bps", "WAN tx bit/s"), ("stations", "Stations"), ("failing", "Samplers failing"),
)  # fmt: skip
AREA_COLUMNS = (
    ("name", "Area"), ("homes", "Homes"), ("wifi_score", "Wi-Fi score"), ("competitor_density", "Competitor density"),
    ("gb_per_day", "GB/day"), ("devices", "Devices"),
)  # fmt: skip
QUARANTINE_COLUMNS = (
    ("id", "Id"), ("received_at", "Received (UTC)"), ("topic", "Topic"), ("gateway_id", "Gateway"),
    ("reason", "Reason"), ("detail", "Detail"), ("size", "Bytes"),
)  # fmt: skip
TIMES = {"evaluated_at", "last_seen", "received_at"}


def _cell(key: str, value: Any) -> Any:
    if key in TIMES and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


async def _stream(
    request: web.Request, name: str, fmt: str, columns: Sequence[tuple[str, str]],
    rows: Callable[[], AsyncIterator[dict[str, Any]]],
) -> web.StreamResponse:  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    kind = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = web.StreamResponse(headers={
        "Content-Type": kind, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="homescope-{name}-{stamp}.{fmt}"',
    })  # fmt: skip
    await response.prepare(request)
    if fmt == "csv":
        await response.write((BOM + csv_row([h for _, h in columns])).encode("utf-8"))
        async for row in rows():
            await response.write(csv_row([_cell(k, row.get(k)) for k, _ in columns]).encode("utf-8"))
    else:
        keys = [k for k, _ in columns]

        async def picked() -> AsyncIterator[dict[str, Any]]:
            async for row in rows():
                yield {k: row.get(k) for k in keys}

        async for piece in json_lines(name, picked()):
            await response.write(piece.encode("utf-8"))
    await response.write_eof()
    return response


async def _homes(request: web.Request, fmt: str) -> web.StreamResponse:
    query = home_query(request)
    db = request.app[STORE].db
    return await _stream(request, "homes", fmt, HOME_COLUMNS, lambda: home_list.every(db, query))


async def _gateways(request: web.Request, fmt: str) -> web.StreamResponse:
    filters = GatewayFilters.of(request.query)
    store = request.app[STORE]

    async def rows() -> AsyncIterator[dict[str, Any]]:
        for row in await gateway_rows(store, filters):
            yield row

    return await _stream(request, "gateways", fmt, GATEWAY_COLUMNS, rows)


async def _areas(request: web.Request, fmt: str) -> web.StreamResponse:
    view = await areas_data(request)

    async def rows() -> AsyncIterator[dict[str, Any]]:
        for group in view["groups"]:
            yield group

    return await _stream(request, "areas", fmt, AREA_COLUMNS, rows)


async def _quarantine(request: web.Request, fmt: str) -> web.StreamResponse:
    raw = request.query.get("limit", "1000")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19) or not 0 <= int(raw) <= 100_000:
        raise web.HTTPBadRequest(text="limit must be an integer from 0 to 100000")
    items = await request.app[STORE].quarantine(int(raw))

    async def rows() -> AsyncIterator[dict[str, Any]]:
        for item in items:
            yield item

    return await _stream(request, "quarantine", fmt, QUARANTINE_COLUMNS, rows)


@routes.get("/homes.csv")
@requires(Permission.HOMES_READ)
async def homes_csv(request: web.Request) -> web.StreamResponse:
    """Every home matching the /homes filters and date range, as CSV."""
    return await _homes(request, "csv")


@routes.get("/homes.json")
@requires(Permission.HOMES_READ)
async def homes_json(request: web.Request) -> web.StreamResponse:
    """Every home matching the /homes filters and date range, as JSON."""
    return await _homes(request, "json")


@routes.get("/gateways.csv")
@requires(Permission.FLEET_READ)
async def gateways_csv(request: web.Request) -> web.StreamResponse:
    """The gateways list (with its filters) as CSV."""
    return await _gateways(request, "csv")


@routes.get("/gateways.json")
@requires(Permission.FLEET_READ)
async def gateways_json(request: web.Request) -> web.StreamResponse:
    """The gateways list (with its filters) as JSON."""
    return await _gateways(request, "json")


@routes.get("/areas.csv")
@requires(Permission.FLEET_READ)
async def areas_csv(request: web.Request) -> web.StreamResponse:
    """The area view as CSV (groups under the minimum size are left out, as on the page)."""
    return await _areas(request, "csv")


@routes.get("/areas.json")
@requires(Permission.FLEET_READ)
async def areas_json(request: web.Request) -> web.StreamResponse:
    """The area view as JSON."""
    return await _areas(request, "json")


@routes.get("/quarantine.csv")
@requires(Permission.QUARANTINE_READ)
async def quarantine_csv(request: web.Request) -> web.StreamResponse:
    """The quarantine list as CSV (``limit``, default 1000)."""
    return await _quarantine(request, "csv")


@routes.get("/quarantine.json")
@requires(Permission.QUARANTINE_READ)
async def quarantine_json(request: web.Request) -> web.StreamResponse:
    """The quarantine list as JSON."""
    return await _quarantine(request, "json")
