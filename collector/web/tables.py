"""The rows of the pages' tables, read once for the page and its CSV/JSON export.

Each reader takes the request (its path and query, checked here: a 400 names the bad
parameter, a 404 the unknown gateway or home) and returns the rows the page draws, so a
download never differs from the table on screen. :mod:`collector.web.exports` lists them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from collector.web.homes import home_data, home_days
from collector.web.pages import interfaces_of, samplers_of
from collector.web.ranges import DateRange, date_range
from collector.web.reports import listing
from collector.web.routes import STORE, gateway_with_history
from collector.web.security_pages import recent_events

GATEWAY_HISTORY_COLUMNS = (
    ("window_end", "Window end (UTC)"), ("window_s", "Window s"), ("cpu_pct", "CPU %"),
    ("mem_used_pct", "Memory %"), ("wan_rx_bps", "WAN rx bit/s"), ("wan_tx_bps", "WAN tx bit/s"),
    ("stations", "Stations"), ("wifi_stations", "Wi-Fi stations"), ("weak_stations", "Weak stations"),
)  # fmt: skip
INTERFACE_COLUMNS = (
    ("name", "Interface"), ("role", "Role"), ("link", "Link"), ("rx_bps", "rx bit/s"), ("tx_bps", "tx bit/s"),
)  # fmt: skip
SAMPLER_COLUMNS = (("name", "Sampler"), ("state", "State"), ("reason", "Reason"))
TERMINAL_COLUMNS = (
    ("mac", "Terminal (pseudonym)"), ("hostname", "Hostname"), ("type", "Type"), ("medium", "Band"),
    ("signal_dbm", "Signal dBm"), ("phy_mbps", "PHY Mbit/s"), ("reachable_mbps", "Reachable Mbit/s"),
    ("delay_ms", "Delay ms"), ("apps", "Applications"), ("problems", "Problems"),
)  # fmt: skip
RESULT_HISTORY_COLUMNS = (
    ("at", "When (UTC)"), ("change", "Change"), ("rule", "Rule"), ("version", "Version"), ("state", "State"),
    ("sentence", "Evidence then"),
)  # fmt: skip
HOME_DAY_COLUMNS = (("day", "Day (UTC)"), ("gb", "GB"), ("down_gb", "Down GB"), ("up_gb", "Up GB"))


async def report_rows(request: web.Request) -> list[dict[str, Any]]:
    """The archive list as the page shows it, headline figures as columns."""
    return [
        {**r, **{k: r["headline"].get(k) for k in ("gateways", "availability_pct", "wifi_score")},
         "files": [f["name"] for f in r.get("files", [])]}
        for r in await listing(request, date_range(request.query))
    ]  # fmt: skip


async def event_rows(request: web.Request) -> list[dict[str, Any]]:
    return await recent_events(request)


async def gateway_history_rows(request: web.Request) -> list[dict[str, Any]]:
    return (await gateway_with_history(request))[1]


async def _gateway(request: web.Request) -> dict[str, Any]:
    gid = request.match_info["gateway_id"]
    gw = await request.app[STORE].gateway(gid)
    if gw is None:
        raise web.HTTPNotFound(text=f"no gateway {gid}")
    return gw


async def interface_rows(request: web.Request) -> list[dict[str, Any]]:
    return interfaces_of(await _gateway(request))


async def sampler_rows(request: web.Request) -> list[dict[str, Any]]:
    return samplers_of(await _gateway(request))


async def _home(request: web.Request) -> dict[str, Any]:
    gid = request.match_info["gateway_id"]
    home = await home_data(request, gid)
    if home is None:
        raise web.HTTPNotFound(text=f"no home {gid}")
    return home


async def terminal_rows(request: web.Request) -> list[dict[str, Any]]:
    """The terminals of the home's profile in ``window`` (default 7d), as its page lists them."""
    window = request.query.get("window", "7d")
    home = await _home(request)
    if window not in home["profile"]:
        raise web.HTTPBadRequest(text=f"window must be one of {', '.join(home['profile'])}")
    items: list[dict[str, Any]] = ((home["profile"][window].get("terminals") or {}).get("items")) or []
    return items


async def result_history_rows(request: web.Request) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = (await _home(request))["history"]
    return history


def default_days(as_of: int | None = None) -> DateRange:
    """The 30 complete days before ``as_of``'s day (the home page's traffic chart without a range)."""
    today = datetime.fromtimestamp(as_of if as_of is not None else datetime.now(UTC).timestamp(), UTC).date()
    return DateRange(today - timedelta(days=30), today - timedelta(days=1))


async def home_day_rows(request: web.Request) -> list[dict[str, Any]]:
    """The home's days in the range (``from``/``to``; default the last 30 complete days)."""
    await _home(request)
    return await home_days(request, date_range(request.query) or default_days())
