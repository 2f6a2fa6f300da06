"""Read queries shared by every SQL backend, written with ``?`` placeholders.

Backends whose driver uses another placeholder style convert with :func:`for_format`.
"""

from __future__ import annotations

from typing import Any

LIST_GATEWAYS = (
    "SELECT g.gateway_id, g.first_seen, g.last_seen, g.last_window_end, g.reports, g.events, g.status,"
    " g.agent_version, f.cpu_pct, f.mem_used_pct, f.wan_rx_bps, f.wan_tx_bps, f.stations"
    " FROM gateways g LEFT JOIN gateway_facts f"
    " ON f.gateway_id = g.gateway_id AND f.window_end = g.last_window_end"
    " ORDER BY g.last_seen DESC, g.gateway_id LIMIT ? OFFSET ?"
)
GATEWAY = (
    "SELECT gateway_id, first_seen, last_seen, last_window_end, last_uptime_s, reports, events, status, status_at,"
    " agent_version, latest_payload, latest_rates FROM gateways WHERE gateway_id = ?"
)
HISTORY = (
    "SELECT gateway_id, window_end, window_s, cpu_pct, mem_used_pct, wan_rx_bytes, wan_tx_bytes, wan_rx_bps,"
    " wan_tx_bps, stations, wifi_stations, weak_stations FROM gateway_facts WHERE gateway_id = ?"
    " ORDER BY window_end DESC LIMIT ?"
)
ROLLUP = (
    "SELECT gateway_id, start, windows, wan_rx_bytes, wan_tx_bytes, cpu_sum, cpu_n, stations_max,"
    " weak_station_windows, wifi_station_windows FROM {table} WHERE gateway_id = ? AND start >= ? ORDER BY start"
)
QUARANTINE = (
    "SELECT id, received_at, topic, gateway_id, reason, detail, size FROM quarantine ORDER BY id DESC LIMIT ?"
)
COUNTS = (
    "SELECT (SELECT count(*) FROM gateways) AS gateways, (SELECT count(*) FROM reports WHERE kind = 'report') AS reports,"
    " (SELECT count(*) FROM reports WHERE kind = 'event') AS event_batches, (SELECT count(*) FROM quarantine) AS quarantined"
)
STORED_KEYS = "SELECT gateway_id, epoch, seq FROM reports"
ROLLUP_SET = (
    " windows = {t}.windows + excluded.windows, wan_rx_bytes = {t}.wan_rx_bytes + excluded.wan_rx_bytes,"
    " wan_tx_bytes = {t}.wan_tx_bytes + excluded.wan_tx_bytes, cpu_sum = {t}.cpu_sum + excluded.cpu_sum,"
    " cpu_n = {t}.cpu_n + excluded.cpu_n, stations_max = {greatest}({t}.stations_max, excluded.stations_max),"
    " weak_station_windows = {t}.weak_station_windows + excluded.weak_station_windows,"
    " wifi_station_windows = {t}.wifi_station_windows + excluded.wifi_station_windows"
)
RETENTION = (
    ("reports", "received_at", "raw_days"),
    ("events", "ts", "raw_days"),
    ("gateway_facts", "window_end", "facts_days"),
    ("gateway_hourly", "start", "hourly_days"),
)


def for_format(sql: str) -> str:
    """``?`` placeholders as ``%s`` (psycopg's format style)."""
    return sql.replace("%", "%%").replace("?", "%s")


def counts_dict(row: tuple[int, int, int, int]) -> dict[str, int]:
    """The COUNTS row as the Store's dict."""
    return {
        "gateways": int(row[0]),
        "reports": int(row[1]),
        "event_batches": int(row[2]),
        "quarantined": int(row[3]),
    }


def segment_where(rules: list[tuple[str, str]], area: str | None, mark: str = "?") -> tuple[str, list[Any]]:
    """The homes list's WHERE clause over ``home_profiles p`` and its arguments.

    ``rules`` are (kind, rule) pairs every home must carry. An area (or community) is the
    most selective filter, so it drives: a few hundred homes found by index, each checked
    for its results by primary key (at 100,000 homes, 10 ms instead of 100+). Without one,
    each rule's index drives.
    """
    where: list[str] = []
    args: list[Any] = []
    if area:
        where.append(
            f"p.gateway_id IN (SELECT gateway_id FROM subscribers WHERE area = {mark}"
            f" UNION SELECT gateway_id FROM subscribers WHERE community = {mark})"
        )
        args += [area, area]
        for kind, rule in rules:
            where.append(
                "EXISTS (SELECT 1 FROM home_results r WHERE r.gateway_id = p.gateway_id"
                f" AND r.rule = {mark} AND r.kind = {mark})"
            )
            args += [rule, kind]
    else:
        for kind, rule in rules:
            where.append(f"p.gateway_id IN (SELECT gateway_id FROM home_results WHERE rule = {mark} AND kind = {mark})")
            args += [rule, kind]
    return (" WHERE " + " AND ".join(where)) if where else "", args
