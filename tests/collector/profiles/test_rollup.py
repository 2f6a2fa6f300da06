"""The ingest-side rollup: what one window contributes, and merges that ignore order."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from collector.profiles import layout
from collector.profiles.merge import fold_into, merge_day, merge_many
from collector.profiles.rollup import day_of, join_day, split_day, window_contribution
from emulator.home import VirtualHome
from emulator.truth import fleet_specs

START = 20241 * 86400 + 20 * 3600  # a Monday, 20:00 UTC


def body() -> dict[str, Any]:
    return {
        "wan": {"online_s": 840, "offline_s": 60},
        "radios": [{"name": "radio0", "band": "2.4GHz", "interference_pct": 40.0, "utilization_pct": 60.0}],
        "stations": [
            {"mac": "02:00:00:00:00:01", "hostname": "ps5", "vendor": "Sony", "medium": "2.4GHz", "signal_dbm": -78,
             "tx_rate_kbps": 72_000, "packets_sent": 1000, "retransmissions": 150, "delay_ms": 4.5, "loss_pct": 1.0,
             "reachable_kbps": 20_000},
            {"mac": "02:00:00:00:00:02", "hostname": "desktop", "medium": "wired"},
        ],
        "apps": [
            {"station": "02:00:00:00:00:01", "category": "game", "bytes_up": 5_000_000, "bytes_down": 60_000_000,
             "flows": 3, "active_minutes": 15, "top_apps": ["Fortnite"]},
            {"station": "02:00:00:00:00:02", "category": "live_streaming", "bytes_up": 450_000_000, "bytes_down": 1_000,
             "flows": 2, "active_minutes": 12, "top_apps": ["Twitch"]},
            {"station": "02:00:00:00:00:02", "category": "app_store", "bytes_up": 0, "bytes_down": 1_000_000,
             "flows": 1, "active_minutes": 20, "top_apps": []},
        ],
        "quality": [{"target": "internet", "delay_ms": 61.5, "jitter_ms": 12.0, "loss_pct": 1.5, "delay_max_ms": 90}],
        "neighbours": [
            {"ssid": "Livebox-3F2A", "signal_dbm": -45, "operator": "Orange"},
            {"ssid": "Livebox-0001", "signal_dbm": -80, "operator": "Orange"},
            {"ssid": "HOME-1", "signal_dbm": -50},
        ],
        "topology": [{"node": "02:ae:5e:00:00:01"}],
    }  # fmt: skip


def test_one_window_contributes_what_its_body_says() -> None:
    c = window_contribution(body(), START, START + 900)
    v = c["v"]
    assert v[layout.N] == 1 and (v[layout.ONLINE_S], v[layout.OFFLINE_S]) == (840, 60)
    game = layout.cat_at("game", 0)
    assert v[game : game + 5] == [15, 60_000_000, 5_000_000, 0, 0]
    live = layout.cat_at("live_streaming", 0)
    assert v[live : live + 5] == [12, 1_000, 450_000_000, 12, 450_000_000]
    assert v[layout.ENGAGED] == 15  # app_store is not engaged time; active minutes are capped at the window
    assert v[layout.BYTES_DOWN] == 61_001_000 and v[layout.BYTES_UP] == 455_000_000
    assert v[layout.SIG + layout.sig_bucket(-78)] == 1
    assert v[layout.WN : layout.WN + 5] == [1, 1, 1, 1, 1]
    # signal -78 -> 23.3 points; PHY 72/144 -> 50; 15% retries -> 50; 60% busy -> 50; 40% interference -> 20
    assert v[layout.WS : layout.WS + 5] == [233, 500, 500, 500, 200]
    assert v[layout.QUALITY : layout.QUALITY + 4] == [1, 615, 120, 150]
    assert c["qmax"] == {"internet": 900}
    assert c["comp"] == {"Orange": [-45, "Livebox-3F2A", [0] * 11 + [1, 0, 0, 0]]}
    assert v[layout.SCANS] == 1 and c["mesh"] == 1
    assert c["tm"]["02:00:00:00:00:01"] == [START + 900, "ps5", "Sony", "2.4GHz", 1]
    assert c["sx"]["02:00:00:00:00:01"] == {
        "x": [1, 1, -78, 72_000, 1, 45, 0, 100, 1, 20_000],
        "c": {"game": 15},
    }
    assert c["apps"] == {"game": {"Fortnite": 15}, "live_streaming": {"Twitch": 12}}
    assert c["slots"] == f"{1 << 80:024x}" and c["off"] == "0" * 24
    # 60 MB in 15 minutes: 533 kbit/s, under 1 Mbit/s, is not in the rate histogram; the upload row's
    # download is tiny; the window as a whole carried 542 kbit/s
    assert sum(v[layout.RATE_BYTES : layout.RATE_BYTES + layout.RATE_BUCKETS]) == 0
    assert sum(v[layout.RATE_WINDOWS : layout.RATE_WINDOWS + layout.RATE_BUCKETS]) == 0
    json.dumps(c)  # JSON-serialisable as it is


def test_an_empty_body_contributes_a_reported_window_and_nothing_else() -> None:
    c = window_contribution({}, START, START + 900)
    assert c["v"][layout.N] == 1 and sum(c["v"]) == 1 and c["tm"] == {} and "comp" not in c


def _windows(n: int) -> list[dict[str, Any]]:
    spec = fleet_specs({"big_poor_wifi+video_family": 1}, 1)[0]
    home = VirtualHome(spec.gateway_id, 3, spec)
    out = []
    for k in range(n):
        start = START + 900 * k
        out.append(window_contribution(home.report_body(900, start + 900), start, start + 900))
    return out


def test_merging_is_associative_and_commutative_and_leaves_inputs_alone() -> None:
    parts = _windows(8)
    before = copy.deepcopy(parts)
    rng = random.Random(7)
    reference = merge_many(parts)
    for _ in range(5):
        shuffled = parts[:]
        rng.shuffle(shuffled)
        left = shuffled[0]
        for p in shuffled[1:]:
            left = merge_day(left, p)
        right = shuffled[-1]
        for p in reversed(shuffled[:-1]):
            right = merge_day(p, right)
        halves = merge_day(merge_many(shuffled[:3]), merge_many(shuffled[3:]))
        assert left == right == halves == reference
    assert parts == before


def test_folding_in_place_equals_merging_and_survives_json() -> None:
    parts = _windows(6)
    day: dict[str, Any] = {}
    for p in parts:
        core, detail = split_day(fold_into(day, p))
        day = join_day(json.loads(json.dumps(core)), json.loads(json.dumps(detail)))
    assert day == json.loads(json.dumps(merge_many(parts)))
    assert set(split_day(day)[1]) == {"sx", "apps", "hb"}


def test_newest_names_win_and_windows_add_up() -> None:
    a = {"tm": {"m": [100, "old-name", "V", "5GHz", 2]}}
    b = {"tm": {"m": [200, "new-name", "V", "2.4GHz", 3]}}
    assert merge_day(a, b)["tm"]["m"] == merge_day(b, a)["tm"]["m"] == [200, "new-name", "V", "2.4GHz", 5]


def test_a_longer_vector_from_a_newer_layout_merges() -> None:
    assert merge_day({"v": [1, 2]}, {"v": [1, 2, 3]})["v"] == [2, 4, 3]
    assert merge_day({"x_new": 2, "label": "a"}, {"x_new": 3, "label": "b"}) == {"x_new": 5, "label": "b"}


def test_day_of_is_the_utc_day_of_the_window_start() -> None:
    assert day_of(START) == 20241 and day_of(20242 * 86400 - 1) == 20241


def test_dhcp_fingerprints_follow_the_terminal_through_merges() -> None:
    """A terminal keeps its newest DHCP fingerprint (protocol 1.2) through windows without one, whatever
    the merge order, folded in place or merged."""
    mac = "3a:1b:2c:3d:4e:5f"

    def window(k: int, **dhcp: str) -> dict[str, Any]:
        body = {
            "stations": [{"mac": mac, "hostname": "", "medium": "5GHz", **dhcp}],
            "apps": [
                {
                    "station": mac,
                    "category": "video",
                    "bytes_up": 1,
                    "bytes_down": 9,
                    "flows": 1,
                    "active_minutes": 3,
                    "top_apps": ["youtube"],
                }
            ],
        }
        return window_contribution(body, START + 900 * k, START + 900 * (k + 1))

    parts = [
        window(0),
        window(1, dhcp_vc="udhcp 1.36.1", dhcp_prl="1,3,6"),
        window(2, dhcp_vc="android-dhcp-14", dhcp_prl="1,3,6,15"),
        window(3),
    ]
    assert parts[0]["tm"][mac] == [START + 900, "", "", "5GHz", 1]  # a 1.1 report: the layout as before
    expected = [START + 3600, "", "", "5GHz", 4, "android-dhcp-14", "1,3,6,15", START + 2700]
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]):
        ordered = [parts[i] for i in order]
        assert merge_many(ordered)["tm"][mac] == expected
        day: dict[str, Any] = {}
        for p in ordered:
            fold_into(day, p)
        assert day["tm"][mac] == expected
