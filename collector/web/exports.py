"""Every table in the UI as CSV (UTF-8 with BOM, formula-safe) and JSON, streamed.

One table, :data:`EXPORTS`, says for each table its path, permission, columns and where its
rows come from; one handler serves them all (``{path}.csv`` and ``{path}.json``). The lists:
``/homes`` (the /homes page's filters and date range, every matching home, not one page),
``/gateways`` (its filters), ``/areas`` (small groups suppressed as on the page),
``/quarantine``, ``/reports`` (the archive list), ``/security/events``. One gateway's tables
(``/gateways/{id}/history``, ``interfaces``, ``samplers``) and one home's
(``/homes/{id}/terminals``, ``history``, ``days``). Rows are written as they are read:
homes in chunks by key, so an export of 100,000 homes holds one chunk in memory.

A source reads and checks the request's parameters before the response starts, so a bad
parameter is a 400 naming it, never a half-written file.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from collector.reports.export import BOM, csv_row, json_lines
from collector.web import home_list, tables
from collector.web.access import Permission, requires
from collector.web.fleet import GatewayFilters, gateway_rows
from collector.web.homes import areas_data, home_query
from collector.web.routes import STORE, quarantine_rows

Rows = AsyncIterable[dict[str, Any]] | Iterable[dict[str, Any]]
Columns = Sequence[tuple[str, str]]
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
REPORT_COLUMNS = (
    ("name", "Report"), ("period", "Period"), ("first_day", "First day"), ("last_day", "Last day"),
    ("created_at", "Made (UTC)"), ("gateways", "Gateways"), ("availability_pct", "Availability %"),
    ("wifi_score", "Wi-Fi score"), ("mailed_at", "Mailed (UTC)"), ("files", "Files"),
)  # fmt: skip
EVENT_COLUMNS = (
    ("id", "Id"), ("at", "At (UTC)"), ("event", "Event"), ("username", "User"), ("source", "Source"),
    ("detail", "Detail"),
)  # fmt: skip
TIMES = {"evaluated_at", "last_seen", "received_at", "created_at", "mailed_at", "at", "window_end", "day_start"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Export:
    """One table's export: ``{path}.csv`` and ``{path}.json``."""

    path: str
    name: str  # the file name's stem ("gateway-interfaces"); a gateway id is appended where the path has one
    summary: str
    permission: Permission
    columns: Columns
    source: Callable[[web.Request], Awaitable[Rows]]


def _cell(key: str, value: Any) -> Any:
    if key in TIMES and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


async def _rows(found: Rows) -> AsyncIterator[dict[str, Any]]:
    if isinstance(found, AsyncIterable):
        async for row in found:
            yield row
    else:
        for row in found:
            yield row


async def stream(request: web.Request, export: Export, fmt: str) -> web.StreamResponse:
    """The table as CSV or JSON; the source runs (and may answer 400 or 404) before anything is sent."""
    found = await export.source(request)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    suffix = "".join(f"-{v}" for v in request.match_info.values() if v.replace("-", "").isalnum())
    kind = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = web.StreamResponse(headers={
        "Content-Type": kind, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="homescope-{export.name}{suffix}-{stamp}.{fmt}"',
    })  # fmt: skip
    await response.prepare(request)
    if fmt == "csv":
        await response.write((BOM + csv_row([h for _, h in export.columns])).encode("utf-8"))
        async for row in _rows(found):
            await response.write(csv_row([_cell(k, row.get(k)) for k, _ in export.columns]).encode("utf-8"))
    else:
        keys = [k for k, _ in export.columns]

        async def picked() -> AsyncIterator[dict[str, Any]]:
            async for row in _rows(found):
                yield {k: row.get(k) for k in keys}

        async for piece in json_lines(export.name, picked()):
            await response.write(piece.encode("utf-8"))
    await response.write_eof()
    return response


# -- the lists' sources --------------------------------------------------------------------------
async def _homes(request: web.Request) -> Rows:
    return home_list.every(request.app[STORE].db, home_query(request))


async def _gateways(request: web.Request) -> Rows:
    return await gateway_rows(request.app[STORE], GatewayFilters.of(request.query))


async def _areas(request: web.Request) -> Rows:
    return list((await areas_data(request))["groups"])


async def _quarantine(request: web.Request) -> Rows:
    return await quarantine_rows(request, default_limit=1000, top=100_000)


EXPORTS: tuple[Export, ...] = (
    Export("/homes", "homes", "Every home matching the /homes filters and date range", Permission.HOMES_READ,
           HOME_COLUMNS, _homes),
    Export("/gateways", "gateways", "The gateways list (with its filters)", Permission.FLEET_READ,
           GATEWAY_COLUMNS, _gateways),
    Export("/areas", "areas", "The area view (groups under the minimum size are left out, as on the page)",
           Permission.FLEET_READ, AREA_COLUMNS, _areas),
    Export("/quarantine", "quarantine", "The quarantine list", Permission.QUARANTINE_READ, QUARANTINE_COLUMNS,
           _quarantine),
    Export("/reports", "reports", "The report archive list", Permission.REPORTS_READ, REPORT_COLUMNS,
           tables.report_rows),
    Export("/security/events", "security-events", "Security events, newest first", Permission.SECURITY_READ,
           EVENT_COLUMNS, tables.event_rows),
    Export("/gateways/{gateway_id}/history", "gateway-history", "A gateway's windows (its charts' figures)",
           Permission.FLEET_READ, tables.GATEWAY_HISTORY_COLUMNS, tables.gateway_history_rows),
    Export("/gateways/{gateway_id}/interfaces", "gateway-interfaces", "A gateway's interfaces and their rates",
           Permission.FLEET_READ, tables.INTERFACE_COLUMNS, tables.interface_rows),
    Export("/gateways/{gateway_id}/samplers", "gateway-samplers", "A gateway's samplers and their states",
           Permission.FLEET_READ, tables.SAMPLER_COLUMNS, tables.sampler_rows),
    Export("/homes/{gateway_id}/terminals", "home-terminals", "A home's terminals in a profile window",
           Permission.HOMES_READ, tables.TERMINAL_COLUMNS, tables.terminal_rows),
    Export("/homes/{gateway_id}/history", "home-history", "A home's label, flag and warning changes",
           Permission.HOMES_READ, tables.RESULT_HISTORY_COLUMNS, tables.result_history_rows),
    Export("/homes/{gateway_id}/days", "home-days", "A home's traffic per day (its chart's figures)",
           Permission.HOMES_READ, tables.HOME_DAY_COLUMNS, tables.home_day_rows),
)  # fmt: skip


def _handler(export: Export, fmt: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await stream(request, export, fmt)

    handler.__doc__ = f"{export.summary}, as {fmt.upper()}."
    return requires(export.permission)(handler)


for _export in EXPORTS:
    for _fmt in ("csv", "json"):
        routes.get(f"{_export.path}.{_fmt}")(_handler(_export, _fmt))
