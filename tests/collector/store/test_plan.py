"""The backend-independent batch plan: deltas, rollups, late and rebooted reports."""

from __future__ import annotations

import dataclasses
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


def test_a_plan_from_plan_body_equals_the_plan_from_the_whole_body() -> None:
    """The writer process plans from ``plan_body`` alone: every field the plan reads must be in it."""
    from agent.runner import report_frame
    from collector.store.plan import plan_body
    from emulator.home import VirtualHome
    from emulator.household import draw_home
    from emulator.personas import PERSONAS

    whole: list[SpooledMessage] = []
    t0 = 1_700_000_100
    for i, persona in enumerate(sorted(PERSONAS)):
        gw = f"gw-plan-{i}"
        home = VirtualHome(gw, 40 + i, draw_home(gw, (persona,), 40 + i))
        for w in range(6):
            if w == 3 and i % 2:
                home.uptime_s = 10  # a reboot between windows: deltas counted since it
            end = t0 + 900 * (w + 1)
            frame = report_frame(
                gw, 1, w + 1, (end - 900, end), home.uptime_s, home.report_body(900, end), t0
            )
            out = classify(Incoming(topic_for(gw, "report"), frame, 1, 1, time.time()))
            assert isinstance(out, SpooledMessage) and out.packed
            whole.append(out)
    slim = [dataclasses.replace(m, decoded=plan_body(m.packed)) for m in whole]
    assert len(json.dumps(slim[0].body)) < len(json.dumps(whole[0].body)) / 2  # it does skip fields
    a, b = plan_batch(whole, {}), plan_batch(slim, {})
    assert a.facts == b.facts and len(a.facts) == len(whole)
    assert any(json.loads(row[13]) for row in a.facts)  # station deltas were computed and compared
    assert (a.hourly, a.daily, a.gateways) == (b.hourly, b.daily, b.gateways)
