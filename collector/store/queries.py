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
# The latest report is read from reports by its key; a row from before that (migration 013/014)
# may still hold its own copy.
GATEWAY = (
    "SELECT g.gateway_id, g.first_seen, g.last_seen, g.last_window_end, g.last_uptime_s, g.reports, g.events,"
    " g.status, g.status_at, g.agent_version, coalesce(r.payload, g.latest_payload) AS latest_payload,"
    " g.latest_rates FROM gateways g LEFT JOIN reports r"
    " ON r.gateway_id = g.gateway_id AND r.epoch = g.latest_epoch AND r.seq = g.latest_seq WHERE g.gateway_id = ?"
)
HISTORY = (
    "SELECT gateway_id, window_end, window_s, cpu_pct, mem_used_pct, wan_rx_bytes, wan_tx_bytes, wan_rx_bps,"
    " wan_tx_bps, stations, wifi_stations, weak_stations FROM gateway_facts WHERE gateway_id = ?"
    " ORDER BY window_end DESC LIMIT ?"
)
#: The same over a time range (``window_end`` in ``[start, end)``), the newest ``limit`` of it.
HISTORY_RANGE = HISTORY.replace(
    "WHERE gateway_id = ?", "WHERE gateway_id = ? AND window_end >= ? AND window_end < ?"
)
ROLLUP = (
    "SELECT gateway_id, start, windows, wan_rx_bytes, wan_tx_bytes, cpu_sum, cpu_n, stations_max,"
    " weak_station_windows, wifi_station_windows FROM {table} WHERE gateway_id = ? AND start >= ? ORDER BY start"
)
QUARANTINE = (
    "SELECT id, received_at, topic, gateway_id, reason, detail, size FROM quarantine ORDER BY id DESC LIMIT ?"
)
QUARANTINE_RANGE = QUARANTINE.replace("ORDER BY", "WHERE received_at >= ? AND received_at < ? ORDER BY")
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
#: (table, rows past their time given the cut-off ``?``, which limit). A gateway's latest
#: report stays however old: its page shows it (an inactive gateway's last known state).
RETENTION = (
    (
        "reports",
        "received_at < ? AND NOT EXISTS (SELECT 1 FROM gateways g WHERE g.gateway_id = reports.gateway_id"
        " AND g.latest_epoch = reports.epoch AND g.latest_seq = reports.seq)",
        "raw_days",
    ),
    ("events", "ts < ?", "raw_days"),
    ("gateway_facts", "window_end < ?", "facts_days"),
    ("gateway_hourly", "start < ?", "hourly_days"),
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


def segment_where(
    label: str | None, flag: str | None, warning: str | None, area: str | None, mark: str = "?"
) -> tuple[str, list[Any]]:
    """The homes list's WHERE clause over ``home_profiles p`` and its arguments.

    Every home must carry the given label, flag and warning. An area (or community) is the
    most selective filter, so it drives: a few hundred homes found by index, each checked
    for its results by primary key (at 100,000 homes, 10 ms instead of 100+). Without one,
    each rule's index drives.
    """
    rules = [(kind, rule) for kind, rule in (("label", label), ("flag", flag), ("warning", warning)) if rule]
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
            where.append(
                f"p.gateway_id IN (SELECT gateway_id FROM home_results WHERE rule = {mark} AND kind = {mark})"
            )
            args += [rule, kind]
    return (" WHERE " + " AND ".join(where)) if where else "", args


#: The area view's grouping column per level (``s`` = subscribers).
GROUP_LEVELS = {"area": "s.area", "community": "s.community"}
#: Result counts per group, rule and kind (no parameters: the column comes from GROUP_LEVELS).
AREA_COUNTS = (
    "SELECT {column}, r.rule, r.kind, count(*) FROM home_results r"
    " JOIN subscribers s ON s.gateway_id = r.gateway_id"
    " JOIN home_profiles p ON p.gateway_id = r.gateway_id{active} GROUP BY {column}, r.rule, r.kind"
)
#: Homes that reported on a day from ``?`` to ``?`` (day numbers): the area view over a date range.
ACTIVE_HOMES = "p.gateway_id IN (SELECT gateway_id FROM home_days WHERE day >= ? AND day <= ?)"


def area_view(
    level: str, min_group: int, groups: list[tuple[Any, ...]], count_rows: list[tuple[Any, ...]]
) -> dict[str, Any]:
    """The area view from its two queries' rows; groups under ``min_group`` homes are only counted."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for name, rule, kind, n in count_rows:
        counts.setdefault(str(name), {}).setdefault(f"{kind}s", {})[str(rule)] = int(n)
    shown: list[dict[str, Any]] = []
    hidden_groups = hidden_homes = 0
    for name, homes, wifi, competitor, gb, devices in groups:
        if homes < min_group:
            hidden_groups += 1
            hidden_homes += homes
            continue
        c = counts.get(str(name), {})
        shown.append(
            {
                "name": name,
                "homes": homes,
                "wifi_score": round(wifi, 1) if wifi is not None else None,
                "competitor_density": round(competitor, 3),
                "gb_per_day": round(gb, 2),
                "devices": round(devices, 1),
                "labels": c.get("labels", {}),
                "flags": c.get("flags", {}),
                "warnings": c.get("warnings", {}),
            }
        )
    return {
        "level": level,
        "min_group": min_group,
        "groups": shown,
        "suppressed": {"groups": hidden_groups, "homes": hidden_homes},
    }
