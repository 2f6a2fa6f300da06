"""Station join/leave events between reports."""

from __future__ import annotations

import json
from collections.abc import Callable

from agent.stationwatch import LEAVE_AFTER_POLLS, StationWatch, diff_stations
from tests.agent.conftest import Line
from tests.agent.samplers.conftest import ARCHER, MESH
from tests.agent.samplers.recorded import MISSING, RecordedSystem, recorded

NOW = 1_795_437_060


def test_diff_is_deterministic() -> None:
    before = {"aa:00:00:00:00:02": "wlan0", "aa:00:00:00:00:01": "wlan0", "aa:00:00:00:00:03": "wlan0"}
    after = {"aa:00:00:00:00:03": "wlan1", "aa:00:00:00:00:02": "wlan0", "aa:00:00:00:00:04": "wlan1"}
    assert diff_stations(before, after, NOW, {"aa:00:00:00:00:04": "tv", "aa:00:00:00:00:01": None}) == [
        {"type": "station_leave", "ts": NOW, "mac": "aa:00:00:00:00:01", "interface": "wlan0"},
        {"type": "station_leave", "ts": NOW, "mac": "aa:00:00:00:00:03", "interface": "wlan0"},
        {"type": "station_join", "ts": NOW, "mac": "aa:00:00:00:00:03", "interface": "wlan1"},
        {
            "type": "station_join",
            "ts": NOW,
            "mac": "aa:00:00:00:00:04",
            "interface": "wlan1",
            "hostname": "tv",
        },
    ]


def test_join_at_once_leave_after_two_polls() -> None:
    watch = StationWatch()
    assert watch.poll(recorded(ARCHER), NOW) == []  # baseline
    step1 = recorded(ARCHER, "step1")
    assert watch.poll(step1, NOW + 60) == [
        {
            "type": "station_join",
            "ts": NOW + 60,
            "mac": "f2:11:22:33:44:55",
            "interface": "phy1-ap0",
            "hostname": "Pixel-7",
        }
    ]  # the ESP plug is missing once: not gone yet
    assert LEAVE_AFTER_POLLS == 2
    assert watch.poll(step1, NOW + 120) == [
        {
            "type": "station_leave",
            "ts": NOW + 120,
            "mac": "24:0a:c4:12:34:56",
            "interface": "phy0-ap0",
            "hostname": "ESP_123456",
        }
    ]
    assert watch.poll(step1, NOW + 180) == []


def test_a_brief_absence_is_not_a_leave() -> None:
    watch = StationWatch()
    watch.poll(recorded(ARCHER), NOW)
    assert [e["type"] for e in watch.poll(recorded(ARCHER, "step1"), NOW + 60)] == ["station_join"]
    # The ESP plug is back after one missed poll (no event); now the Pixel misses one (no event yet).
    assert watch.poll(recorded(ARCHER), NOW + 120) == []
    assert watch.poll(recorded(ARCHER), NOW + 180) == [
        {
            "type": "station_leave",
            "ts": NOW + 180,
            "mac": "f2:11:22:33:44:55",
            "interface": "phy1-ap0",
            "hostname": "Pixel-7",
        }
    ]


def test_roaming_between_bands() -> None:
    watch = StationWatch()
    watch.poll(recorded(ARCHER), NOW)
    moved = recorded(ARCHER)
    two_g = json.loads(moved.recording(["ubus", "call", "iwinfo", "assoclist", '{"device":"phy0-ap0"}']))
    five_g = json.loads(moved.recording(["ubus", "call", "iwinfo", "assoclist", '{"device":"phy1-ap0"}']))
    roamer = next(s for s in two_g["results"] if s["mac"] == "84:3A:4B:CB:77:30")
    two_g["results"].remove(roamer)
    five_g["results"].append(roamer)
    moved.add_command(["ubus", "call", "iwinfo", "assoclist", '{"device":"phy0-ap0"}'], json.dumps(two_g))
    moved.add_command(["ubus", "call", "iwinfo", "assoclist", '{"device":"phy1-ap0"}'], json.dumps(five_g))
    events = watch.poll(moved, NOW + 60)
    assert [(e["type"], e["interface"]) for e in events] == [
        ("station_leave", "phy0-ap0"),
        ("station_join", "phy1-ap0"),
    ]


def test_iw_fallback_ignores_mesh_peers() -> None:
    watch = StationWatch()
    watch.poll(recorded(MESH), NOW)
    assert watch.poll(recorded(MESH, "step1"), NOW + 60) == []


def test_unreadable_lists_log_once(agent_log: Callable[[], list[Line]]) -> None:
    broken = RecordedSystem()
    for tool in ("ubus", "iw"):
        for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            broken.add_file(f"{folder}/{tool}", "" if (tool, folder) == ("iw", "/usr/sbin") else MISSING)
    broken.add_failure(["iw", "dev"], 1)
    watch = StationWatch()
    assert watch.poll(broken, NOW) == []
    assert watch.poll(broken, NOW + 60) == []
    warnings = [r.message for r in agent_log() if r.level == "WARNING"]
    assert warnings == ["station watch: cannot read association lists: iw dev exited 1: (recorded failure)"]
    watch.poll(recorded(ARCHER), NOW + 120)
    assert agent_log()[-1][:3] == (
        "INFO",
        "agent.stationwatch",
        "station watch: association lists readable again",
    )


def test_events_are_valid_event_batches() -> None:
    from protocol.codec import decode, encode, envelope
    from protocol.models import validate
    from protocol.topics import Kind

    watch = StationWatch()
    watch.poll(recorded(ARCHER), NOW)
    events = watch.poll(recorded(ARCHER, "step1"), NOW + 60) + watch.poll(
        recorded(ARCHER, "step1"), NOW + 120
    )
    message = envelope(
        Kind.EVENT,
        "gw-test",
        epoch=1,
        seq=7,
        window_start=NOW - 60,
        window_end=NOW + 840,
        uptime_s=15_000,
        sent_at=NOW + 120,
        body={"events": events},
    )
    validate(decode(encode(message)))
