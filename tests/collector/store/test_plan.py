"""The backend-independent batch plan: deltas, rollups, late and rebooted reports."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

from msgspec.msgpack import encode as msgpack

from collector.facts import counter_delta
from collector.ingest import Incoming, classify
from collector.store import SpooledMessage
from collector.store.plan import GatewayState, KnownStates, plan_batch
from collector.store.plan_input import plan_body
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


def _emulated() -> list[SpooledMessage]:
    """Six windows of a home of every persona, one of two rebooting halfway, as triage keeps them."""
    from agent.runner import report_frame
    from emulator.home import VirtualHome
    from emulator.household import draw_home
    from emulator.personas import PERSONAS

    out: list[SpooledMessage] = []
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
            got = classify(Incoming(topic_for(gw, "report"), frame, 1, 1, time.time()))
            assert isinstance(got, SpooledMessage) and got.packed
            out.append(got)
    return out


def _edited(messages: list[SpooledMessage]) -> list[SpooledMessage]:
    """The same homes' bodies edited into the shapes a body may take that the emulator never
    sends (fields absent or null), each as a message with only msgpack and one with only dicts."""
    edits: list[Callable[[dict[str, Any]], None]] = [
        lambda b: b["system"].pop("memory_available_kib", None),  # falls back to memory_free_kib
        lambda b: b["system"].update(memory_available_kib=None),  # a null does not fall back
        lambda b: b.pop("system", None),
        lambda b: b.update(system={}),
        lambda b: b.pop("wan", None),  # the WAN interface found by its role
        lambda b: b.update(wan={"protocol": "dhcp"}),
        lambda b: b.update(wan=None),
        lambda b: [s.pop(k, None) for s in b.get("stations", []) for k in ("signal_dbm", "bytes_sent")],
        lambda b: [s.update(bytes_received=None, retransmissions=None) for s in b.get("stations", [])],
        lambda b: b.update(apps=[*b.get("apps", []), *b.get("apps", [])]),  # a category twice
        lambda b: [i.pop("role", None) for i in b.get("interfaces", [])],
    ]
    out: list[SpooledMessage] = []
    for n, edit in enumerate(edits):
        for m in messages:
            body = copy.deepcopy(m.body)
            edit(body)
            gw = f"{m.gateway_id}-{n}"
            out.append(dataclasses.replace(m, gateway_id=gw, decoded=None, packed=msgpack({"body": body})))
            out.append(dataclasses.replace(m, gateway_id=gw + "-d", decoded=body, packed=b""))
    return out


def _reference(messages: list[SpooledMessage]) -> list[tuple[Any, ...]]:
    """Each report's facts row and counters as the plan computed them from dicts (before its
    input was ``plan_input.PlanBody``), one report after the other: what the plan must still give."""
    out: list[tuple[Any, ...]] = []
    states: dict[str, tuple[int, int, dict[str, Any]]] = {}
    for m in sorted(messages, key=lambda x: (x.gateway_id, x.window_end, x.seq)):
        body = m.body
        stations = {
            s["mac"]: [
                s.get("bytes_received", 0) or 0,
                s.get("bytes_sent", 0) or 0,
                s.get("retransmissions", 0) or 0,
            ]
            for s in body.get("stations", [])
        }
        signals = [s["signal_dbm"] for s in body.get("stations", []) if s.get("signal_dbm") is not None]
        counters = {
            "if": {
                i["name"]: [i.get("bytes_received", 0), i.get("bytes_sent", 0)]
                for i in body.get("interfaces", [])
            },
            "st": stations,
        }
        deltas: dict[str, dict[str, list[int]]] = {"if": {}, "st": {}}
        elapsed = 0
        if m.gateway_id in states:
            end, uptime, before = states[m.gateway_id]
            elapsed = m.window_end - end
            if 0 < elapsed <= 2 * 86400:
                for part in ("if", "st"):
                    for key, values in counters[part].items():
                        if key in before[part]:
                            old = before[part][key]
                            deltas[part][key] = [
                                counter_delta(o, v, m.uptime_s < uptime)
                                for o, v in zip(old, values, strict=False)
                            ]
        system = body.get("system") or {}
        total = system.get("memory_total_kib") or 0
        available = system.get("memory_available_kib", system.get("memory_free_kib"))
        named = (body.get("wan") or {}).get("interface")
        by_role = next((i["name"] for i in body.get("interfaces", []) if i.get("role") == "wan"), None)
        wan = named or by_role or ""
        apps: dict[str, list[int]] = {}
        for usage in body.get("apps", []):
            app = apps.setdefault(usage["category"], [0, 0, 0])
            app[0] += usage.get("bytes_down", 0)
            app[1] += usage.get("bytes_up", 0)
            app[2] = max(app[2], usage.get("active_minutes", 0))
        wan_delta = deltas["if"].get(wan)
        out.append(
            (
                m.gateway_id, m.window_end, m.window_end - m.window_start, system.get("cpu_usage_pct"),
                round(100.0 * (total - available) / total, 1) if total and available is not None else None,
                *(wan_delta or [None, None]),
                *([round(8 * d / elapsed, 1) for d in wan_delta] if wan_delta else [None, None]),
                len(body.get("stations", [])), len(signals), sum(s < -75 for s in signals),
                deltas["if"], deltas["st"], apps, counters,
            )
        )  # fmt: skip
        if m.gateway_id not in states or m.window_end > states[m.gateway_id][0]:
            states[m.gateway_id] = (m.window_end, m.uptime_s, counters)
    return out


def test_the_plan_gives_what_it_gave_from_dicts_whichever_way_its_input_comes() -> None:
    """Decoded in advance (the writer process), from msgpack, or from dicts: the same facts and
    counters as the reference, for the emulator's bodies and for edited ones."""
    whole = _emulated()
    messages = [dataclasses.replace(m, planned=plan_body(m.packed)) for m in whole] + _edited(whole)
    states: dict[str, GatewayState | None] = {}
    plan = plan_batch(messages, states)
    got = [
        (*f[:12], json.loads(f.interfaces), json.loads(f.station_deltas), json.loads(f.apps))
        for f in sorted(plan.facts)
    ]
    expected = _reference(messages)
    assert got == [e[:15] for e in expected]
    assert any(e[13] for e in expected) and any(e[4] is None for e in expected)  # deltas; no memory figure
    latest = {e[0]: e[15] for e in expected}  # each gateway's newest counters
    assert {g: json.loads(c.latest.counters) for g, c in plan.gateways.items() if c.latest} == latest
    # the same plan from msgpack as from dicts (the edited pairs differ only in their ids)
    pairs = {f[:2]: f[2:] for f in plan.facts if not f.gateway_id.endswith("-d")}
    dicts = [f for f in plan.facts if f.gateway_id.endswith("-d")]
    assert len(dicts) == 6 * 11 * len({m.gateway_id for m in whole})
    assert all(pairs[(f.gateway_id[:-2], f.window_end)] == f[2:] for f in dicts)


def test_known_states_decode_a_gateways_counters_once_and_follow_any_other_text() -> None:
    known = KnownStates(limit=2)
    first = known.load("gw-a", 1_700_000_100, 60, '{"if":{"wan":[1,2]}}')
    again = known.load("gw-a", 1_700_000_100, 60, '{"if":{"wan":[1,2]}}')
    assert first is not None and again is not None and again.counters is first.counters  # decoded once
    # another text (another collector's write, or a batch that never committed): decoded, and it wins
    other = known.load("gw-a", 1_700_001_000, 60, '{"if":{"wan":[5,6]}}')
    assert other is not None and other.counters == {"if": {"wan": [5, 6]}}
    assert known.load("gw-a", 0, 0, None) is None  # no report yet
    empty = known.load("gw-b", 5, 0, "")
    assert empty is not None and (empty.window_end, empty.uptime_s, empty.counters) == (5, 0, {})
    # a plan's counters are remembered with the text it writes: read back, they are not decoded again
    states: dict[str, GatewayState | None] = {"gw-p": other}
    plan = plan_batch([msg(2, 1_700_001_900, 91_000, 5_900)], states)
    known.planned(plan, states)
    change = plan.gateways["gw-p"]
    assert change.latest is not None
    state = states["gw-p"]
    back = known.load("gw-p", 1_700_001_900, 5_900, change.latest.counters)
    assert state is not None and back is not None and back.counters is state.counters
    # bounded: the gateway remembered first is forgotten first
    known.load("gw-c", 1, 0, '{"st":{}}')
    assert set(known._known) == {"gw-p", "gw-c"}
