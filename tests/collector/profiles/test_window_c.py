"""``collector.profiles._window``: the fold's window contribution in C, against ``rollup._window``
(its Python reference, ``window.core``) on recorded, emulated and edited reports."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from collector.profiles import rollup, window
from collector.store.folding import fold_body
from protocol.codec import decode_stored
from tests.collector.store.test_folding import reports
from tests.compiled import needs, require_built

try:
    from collector.profiles import _window as compiled
except ImportError:  # fails below: see test_the_c_extension_is_built
    compiled = None  # type: ignore[assignment]

needs_c = needs(compiled)  # tests/compiled.py: skips only under HOMESCOPE_OPTIONAL_C=1
RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "protocol" / "v1"


def test_the_c_extension_is_built() -> None:
    """Without it every report's window is folded ~3x slower, and the tests below prove nothing."""
    require_built(compiled, "collector.profiles._window")


def _same(body: dict[str, Any], start: int, end: int) -> None:
    want_c, want_v = window.core(copy.deepcopy(body), start, end)
    got_c, got_v = compiled.window(copy.deepcopy(body), start, end)
    # the same JSON text (keys in the same order: stored days are compared as text) and vector
    assert json.dumps(got_c) == json.dumps(want_c)
    assert {i: x for i, x in got_v.items() if x} == {i: x for i, x in want_v.items() if x}


def _recorded() -> list[tuple[dict[str, Any], int, int]]:
    out = []
    for name in ("report.bin", "report-zlib.bin"):
        message = decode_stored((RECORDED / name).read_bytes())
        out.append((message["body"], message["window_start"], message["window_end"]))
    return out


def _emulated() -> list[tuple[dict[str, Any], int, int]]:
    out = []
    for home in ("wc-a", "wc-b", "wc-c"):
        for m in reports(home, 12):
            out.append((m.body, m.window_start, m.window_end))  # the whole body
            out.append((fold_body(m), m.window_start, m.window_end))  # the fold's own decode
    return out


@needs_c
@pytest.mark.parametrize("case", range(2))
def test_recorded_reports_fold_as_the_reference_folds(case: int) -> None:
    _same(*_recorded()[case])


@needs_c
def test_emulated_reports_fold_as_the_reference_folds() -> None:
    for body, start, end in _emulated():
        _same(body, start, end)


def _edited(body: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """The corners: a MAC listed twice, missing and zero figures, unknown bands and categories,
    probes to terminals and to targets, competitors tied on signal, empty and absent parts."""
    body = copy.deepcopy(body)
    stations = body.setdefault("stations", [])
    if stations:
        twice = dict(
            stations[0],
            signal_dbm=rnd.choice([-40, -90, None, -150, 50]),
            tx_rate_kbps=rnd.choice([None, 10**6, 0]),
        )
        stations.append(twice)
    stations += [
        {"mac": "aa:bb:cc:dd:ee:01", "medium": "6GHz", "signal_dbm": -60, "packets_sent": 10, "retransmissions": 11},
        {"mac": "", "medium": "5GHz", "signal_dbm": -50},
        {"mac": "aa:bb:cc:dd:ee:02", "medium": "wired", "delay_ms": 0.25, "loss_pct": 0, "hostname": None},
        {"mac": "aa:bb:cc:dd:ee:04", "medium": "5GHz", "dhcp_vc": rnd.choice(["android-dhcp-13", "", None]),
         "dhcp_prl": rnd.choice(["1,3,6,15,150", "", None])},
        {"mac": "aa:bb:cc:dd:ee:04", "medium": "5GHz", "dhcp_prl": "1,3,249", "hostname": "x"},
        {"mac": "aa:bb:cc:dd:ee:05", "medium": "2.4GHz", "dhcp_vc": rnd.choice(["MSFT 5.0", "dhcpcd-10"])},
        {"mac": "aa:bb:cc:dd:ee:03", "medium": "5GHz", "signal_dbm": -66, "delay_ms": 2.5, "reachable_kbps": 0,
         "packets_sent": 0, "retransmissions": 3, "hostname": "Living-Room-TV", "vendor": "Samsung"},
    ]  # fmt: skip
    body.setdefault("radios", []).extend(
        [{"band": "6GHz", "utilization_pct": rnd.choice([95, 30, 30.05, 0, None]), "interference_pct": 12.25},
         {"band": "9GHz"}]
    )  # fmt: skip
    for row in body.get("apps") or []:
        row["category"] = rnd.choice(["video", "nonsense", "iot", None, "game", "", "background"])
        row["active_minutes"] = rnd.choice([0, 5, 100, None])
        row["top_apps"] = rnd.choice([[], ["A", "B"], None])
        row["station"] = rnd.choice([row.get("station"), None, "aa:bb:cc:dd:ee:03", "aa:bb:cc:dd:ee:04"])
    body.setdefault("apps", []).append(
        {"station": "aa:bb:cc:dd:ee:03", "category": "video", "bytes_down": 10**9, "bytes_up": 5, "active_minutes": 3,
         "top_apps": ["YouTube"]}
    )  # fmt: skip
    body.setdefault("quality", []).extend(
        [{"target": "internet", "delay_ms": 3.25, "delay_max_ms": 0}, {"target": "wan_gateway"},
         {"target": "aa:bb:cc:dd:ee:02", "delay_ms": 1, "jitter_ms": 0.5, "bandwidth_kbps": 999}]
    )  # fmt: skip
    body["neighbours"] = rnd.choice(
        [None, [], [{"operator": "x", "signal_dbm": -70, "ssid": "b"}, {"operator": "x", "signal_dbm": -70, "ssid": "c"},
                    {"operator": "y", "signal_dbm": -90}, {"operator": "", "signal_dbm": 1}, {"operator": "z"}]]
    )  # fmt: skip
    body["topology"] = rnd.choice([None, [], [{"node": 1}, {"node": 2}]])
    body["wan"] = rnd.choice([None, {}, {"online_s": 100, "offline_s": 800, "plan_down_kbps": 100_000}])
    return body


@needs_c
def test_edited_reports_fold_as_the_reference_folds() -> None:
    rnd = random.Random(22)
    for body, start, end in _recorded() + _emulated():
        for _ in range(3):
            _same(
                _edited(body, rnd), start + rnd.choice([0, 7]), end + rnd.choice([0, 1, -899, 3000, -(10**6)])
            )


@needs_c
@pytest.mark.parametrize(
    "change",
    [
        {
            "stations": [{"mac": "aa:bb:cc:dd:ee:01", "medium": "5GHz", "signal_dbm": -55.5}]
        },  # a float the model refuses
        {
            "apps": [{"station": "x", "category": "video", "bytes_down": 2**60}]
        },  # past 2**53: exact Python ints
        {"stations": [{"mac": 5}]},
        {"wan": {"offline_s": True}},
    ],
)
def test_what_c_does_not_promise_is_folded_by_the_reference(change: dict[str, Any]) -> None:
    body = {**_recorded()[0][0], **change}
    with pytest.raises(compiled.Unsupported):
        compiled.window(body, 1_700_000_000, 1_700_000_900)
    assert rollup.window_parts(body, 1_700_000_000, 1_700_000_900) == rollup._window(
        body, 1_700_000_000, 1_700_000_900
    )


@needs_c
def test_a_figure_added_in_python_is_folded_on_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    # a new figure goes to rollup._extras (docs/architecture.md): the C core does not change
    def extras(body: dict[str, Any], c: dict[str, Any], v: dict[int, int]) -> None:
        v[0] = v.get(0, 0) + 41
        c["new"] = len(body.get("stations") or [])

    monkeypatch.setattr(rollup, "_extras", extras)
    body, start, end = _recorded()[0]
    fast = rollup.window_parts(copy.deepcopy(body), start, end)
    slow = rollup._window(copy.deepcopy(body), start, end)
    assert fast[0]["new"] == slow[0]["new"] == len(body["stations"]) and fast[1][0] == slow[1][0] == 42


def _days(add: Any, windows: list[tuple[dict[str, Any], int, int]], stored: dict[str, Any]) -> str:
    days: dict[int, dict[str, Any]] = {}
    for body, start, end in windows:
        day = days.setdefault(rollup.day_of(start), copy.deepcopy(stored))
        add(day, *rollup._window(copy.deepcopy(body), start, end))
    return json.dumps(days)


#: A stored day of an older, shorter shape, with ties and a category near its application cap.
OLDER = {
    "v": [1, 2, 3],
    "hb": [5] * 20,
    "first": 1_600_000_000,
    "last": 1_600_000_900,
    "slots": "0" * 23 + "1",
    "off": "0" * 24,
    "tm": {
        "a4:83:e7:00:00:01": [1_600_000_900, "iphone", "", "5GHz", 3],
        "aa:bb:cc:dd:ee:04": [1_600_000_900, "", "", "5GHz", 2, "MSFT 5.0", "1,3,249", 1_600_000_900],
        "aa:bb:cc:dd:ee:05": [1_600_000_900, "", "", "2.4GHz", 1],  # no fingerprint yet
    },
    "sx": {"a4:83:e7:00:00:01": {"x": [1, 1, -50, 0, 0, 0, 0, 0, 0, 0], "c": {"video": 4}}},
    "apps": {"video": {f"app{i}": i % 7 + 1 for i in range(64)}},
    "comp": {"rival": [-70, "", [0] * 15]},
    "later": 5,  # a key from a newer rollup: merged as merge.py merges unknown keys
}


@needs_c
@pytest.mark.parametrize("stored", [{}, OLDER], ids=["new day", "older stored day"])
def test_windows_add_to_a_day_as_the_reference_adds(stored: dict[str, Any]) -> None:
    rnd = random.Random(8)
    windows = _recorded() + _emulated()
    windows += [(_edited(b, rnd), s, e) for b, s, e in windows[:12]]
    for body, _, _ in windows:
        body.setdefault("apps", []).append(
            {
                "station": "a4:83:e7:00:00:01",
                "category": "video",
                "bytes_down": 5,
                "top_apps": [f"app{rnd.randrange(99)}"],
            }
        )
    assert _days(compiled.add, windows, stored) == _days(rollup._add, windows, stored)


#: Stored days of shapes add() takes its short ways for only when it can (else merge.py's): counts of
#: another length or not ints, bitmaps not in the form written, a competitor tied on signal, worst
#: delays as floats, a terminal's names as a tuple.
ODD = [
    {"comp": {"rival": [-70, "", [0] * 14 + [1, 2]], "x": [-50, "z", [0.5] * 15]}},
    {"comp": {"x": [-70, "c", [1] * 15], "y": [-90, "", [0] * 15]}, "qmax": {"internet": 1.5, "dns": 3}},
    {"slots": "0" * 23 + "F", "off": "0x" + "0" * 22, "qmax": {}},
    {"slots": "1" * 25, "comp": {}},
    {"tm": {"aa:bb:cc:dd:ee:04": (1_600_000_900, "tv", "", "5GHz", 2)}},
]


@needs_c
@pytest.mark.parametrize("stored", ODD)
def test_windows_add_to_days_of_other_shapes_as_the_reference_adds(stored: dict[str, Any]) -> None:
    rnd = random.Random(3)
    windows = [(_edited(b, rnd), s, e) for b, s, e in (_recorded() + _emulated())[:8]]
    for body, _, _ in windows:
        body["neighbours"] = [
            {"operator": "x", "signal_dbm": -70, "ssid": rnd.choice(["b", "c", "d"])},
            {"operator": "rival", "signal_dbm": rnd.choice([-70, -60, -80])},
        ]
        body["stations"].append({"mac": "aa:bb:cc:dd:ee:04", "medium": "5GHz", "hostname": "tv"})
    try:
        want: Any = _days(rollup._add, windows, stored)
    except Exception as exc:  # a shape merge.py refuses: add() refuses it too
        with pytest.raises(type(exc)):
            _days(compiled.add, windows, stored)
        return
    assert _days(compiled.add, windows, stored) == want
