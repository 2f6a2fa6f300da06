"""The backend-independent batch plan: deltas, rollups, late and rebooted reports."""

from __future__ import annotations

import json
import time

from collector.ingest import Incoming, classify
from collector.store import SpooledMessage
from collector.store.plan import GatewayState, plan_batch
from protocol.codec import encode
from protocol.topics import topic_for
from tests.protocol.messages import report


def msg(seq: int, window_end: int, rx: int, uptime: int, gw: str = "gw-p") -> SpooledMessage:
    body = report(gw, seq=seq, window_end=window_end)
    body["uptime_s"] = uptime
    body["body"]["interfaces"][0]["bytes_received"] = rx
    body["body"]["apps"] = [
        {
            "station": "a4:83:e7:00:00:01",
            "category": "video",
            "bytes_down": 1000,
            "bytes_up": 10,
            "flows": 2,
            "active_minutes": 12,
            "top_apps": ["netflix"],
        },
    ]
    out = classify(Incoming(topic_for(gw, "report"), encode(body), 1, 1, time.time()))
    assert isinstance(out, SpooledMessage)
    return out


def test_deltas_rates_and_rollups_across_windows_and_a_reboot() -> None:
    states: dict[str, GatewayState | None] = {}
    plan = plan_batch(
        [
            msg(1, 1_700_000_100, 1_000, 5_000),
            msg(2, 1_700_001_000, 91_000, 5_900),
            msg(3, 1_700_001_900, 500, 60),
        ],
        states,
    )
    facts = {row[1]: row for row in plan.facts}
    assert facts[1_700_000_100][5] is None  # first window: no baseline, no delta invented
    assert facts[1_700_001_000][5] == 90_000 and facts[1_700_001_000][7] == 800.0
    assert facts[1_700_001_900][5] == 500  # rebooted (uptime went down): counted since the reboot
    assert json.loads(facts[1_700_001_000][14]) == {"video": [1000, 10, 12]}
    hours = {start: r for (gw, start), r in plan.hourly.items()}
    assert sum(r.windows for r in hours.values()) == 3
    assert sum(r.wan_rx_bytes for r in hours.values()) == 90_500
    day = next(iter(plan.daily.values()))
    assert (day.windows, day.cpu_n, day.stations_max) == (3, 3, 1)
    change = plan.gateways["gw-p"]
    assert change.reports == 3 and change.latest is not None and change.latest[0] == 1_700_001_900


def test_a_late_report_does_not_move_the_latest_state() -> None:
    states: dict[str, GatewayState | None] = {
        "gw-p": GatewayState(1_700_001_900, 6_000, {"if": {"wan": [9, 9]}})
    }
    plan = plan_batch([msg(2, 1_700_001_000, 91_000, 5_900)], states)
    assert plan.gateways["gw-p"].latest is None
    assert plan.facts[0][5] is None
    state = states["gw-p"]
    assert state is not None and state.window_end == 1_700_001_900
