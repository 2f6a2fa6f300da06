"""``_window.window_packed``: a report window's contribution read straight from the report's msgpack
(``collector/profiles/_window_read.c``), against the reference (``rollup.decode_window_body`` then
``window.core``) on emulated reports as stored and on hand-written msgpack; and where it does not
promise the same, ``rollup.packed_window_parts`` falls back to the decode, which decides."""

from __future__ import annotations

import copy
import gc
import json
import random
import time
from typing import Any

import msgspec
import pytest

from agent.publisher.compaction import Compactor
from agent.runner import report_frame
from collector.dpi.recount import recount
from collector.dpi.rules import RuleSnapshot
from collector.dpi.unclassified import seen_in
from collector.ingest.triage import Incoming, triage
from collector.ingest.views import StaticViews
from collector.privacy.scrub import Scrubber
from collector.profiles import rollup, window
from collector.store.base import SpooledMessage
from collector.store.folding import Folds, fold_body
from emulator.home import VirtualHome
from emulator.household import draw_home
from emulator.personas import PERSONAS
from protocol.topics import topic_for
from tests.collector.profiles.test_window_c import _edited, needs_c
from tests.collector.store.test_fold import _declared, _Reads

try:
    from collector.profiles import _window as compiled
except ImportError:  # test_window_c.py's test_the_c_extension_is_built says why
    compiled = None  # type: ignore[assignment]

T0 = 1_700_000_000
START, END = T0, T0 + 900
encode = msgspec.msgpack.encode


def _stored(gid: str, home: VirtualHome, n: int, compact: bool) -> list[SpooledMessage]:
    """A home's reports as ingest stores them: triaged, scrubbed, a compact one's view merged."""
    compactor, views, scrubber = Compactor(), StaticViews(), Scrubber(b"k" * 32)
    out = []
    for k in range(1, n + 1):
        window = (T0 + 900 * (k - 1), T0 + 900 * k)
        body = home.report_body(900, window[1])
        if compact:
            frame = compactor.frame(gid, 1, k, window, home.uptime_s, body, window[1])
        else:
            frame = report_frame(gid, 1, k, window, home.uptime_s, body, T0)
        m = triage(Incoming(topic_for(gid, "report"), frame, k, 1, time.time())).out
        assert isinstance(m, SpooledMessage)
        m = scrubber.message(m, views.complete)
        assert m.packed
        out.append(m)
    return out


def _fleet() -> list[SpooledMessage]:
    """Every persona alone, a few mixes, homes naming unclassified domains; old and compact frames."""
    homes: list[tuple[str, VirtualHome]] = []
    for i, name in enumerate(sorted(PERSONAS)):
        gid = f"wp-{name}"
        homes.append(
            (gid, VirtualHome(gid, 100 + i, draw_home(gid, (name,), 100 + i), unclassified=3 * (i % 3)))
        )
    for i in range(6):
        gid = f"wp-any-{i}"
        homes.append((gid, VirtualHome(gid, 200 + i, unclassified=8 if i % 2 else 0)))
    out = []
    for i, (gid, home) in enumerate(homes):
        out += _stored(gid, home, 96, compact=i % 2 == 0)  # a day each
    return out


FLEET: list[SpooledMessage] = []


def fleet() -> list[SpooledMessage]:
    if not FLEET:
        FLEET.extend(_fleet())
    return FLEET


def _nonzero(v: dict[int, int]) -> dict[int, int]:
    return {i: x for i, x in v.items() if x}


def _same(packed: bytes, start: int = START, end: int = END) -> None:
    """window_packed folds exactly what the reference folds of the decoded body, and what
    window() folds of it (the same C computation, read from the dicts)."""
    body = rollup.decode_window_body(packed)
    want_c, want_v = window.core(copy.deepcopy(body), start, end)
    got_c, got_v, has_rows = compiled.window_packed(packed, start, end)
    # the same JSON text (keys in the same order: stored days are compared as text) and vector
    assert json.dumps(got_c) == json.dumps(want_c)
    assert _nonzero(got_v) == _nonzero(want_v)
    assert has_rows == bool(body.get("unclassified"))
    dict_c, dict_v = compiled.window(body, start, end)
    assert json.dumps(got_c) == json.dumps(dict_c) and list(got_v.items()) == list(dict_v.items())


def _decides(packed: bytes, start: int = START, end: int = END) -> None:
    """packed_window_parts gives the reference's result, or refuses what the decode refuses."""
    try:
        body = rollup.decode_window_body(packed)
        want = rollup._window(copy.deepcopy(body), start, end)
    except Exception as exc:  # the decode refuses it (or the reference trips on what it decodes)
        with pytest.raises(type(exc)):
            rollup.packed_window_parts(packed, start, end)
        return
    got = rollup.packed_window_parts(packed, start, end)
    assert (
        got.parts == want[0]
        and list(got.parts) == list(want[0])
        and _nonzero(got.sparse) == _nonzero(want[1])
    )
    assert got.unclassified == (body.get("unclassified") or None)


@needs_c
def test_stored_reports_fold_from_their_msgpack_as_from_their_body() -> None:
    reports = fleet()
    assert len(reports) > 1000
    with_rows = 0
    for m in reports:
        _same(m.packed, m.window_start, m.window_end)
        with_rows += "unclassified" in rollup.decode_window_body(m.packed)
    assert with_rows > 100  # the corners below are covered by real reports too
    kinds = [rollup.decode_window_body(m.packed) for m in reports[::7]]
    assert any(b.get("topology") for b in kinds) and any(b.get("neighbours") for b in kinds)


@needs_c
def test_packed_window_parts_gives_the_window_and_the_unclassified_rows() -> None:
    for m in fleet()[::5]:
        _decides(m.packed, m.window_start, m.window_end)


@needs_c
def test_prepare_folds_and_recounts_as_it_did_from_the_decoded_body() -> None:
    reports = [m for m in fleet() if b"unclassified" in m.packed][:200]
    assert reports
    folds = Folds()
    domains = {r["domain"] for m in reports for r in fold_body(m).get("unclassified") or []}
    folds.rules = RuleSnapshot({d: random.Random(d).choice(["video", "iot", "web", "game"]) for d in domains})
    for m, p in zip(reports, folds.prepare(reports), strict=True):
        body = fold_body(m)  # the way before: the fields decoded, then window_parts, recount, seen_in
        parts, sparse = rollup.window_parts(body, m.window_start, m.window_end)
        rows = body.get("unclassified")
        if rows:
            recount(sparse, rows, folds.rules.categories, m.window_end - m.window_start)
        assert json.dumps(p.parts) == json.dumps(parts) and p.sparse == sparse
        assert p.seen == seen_in(rows, m.window_start)


def _message(body: Any) -> bytes:
    return encode({"v": "1.3", "kind": "report", "gateway_id": "gw", "body": body, "sent_at": END})


@needs_c
def test_edited_bodies_fold_from_their_msgpack_as_the_reference_folds() -> None:
    rnd = random.Random(5)
    for m in fleet()[::40]:
        body = msgspec.msgpack.decode(m.packed)["body"]
        for _ in range(3):
            _same(_message(_edited(body, rnd)), m.window_start, m.window_end + rnd.choice([0, 1, -899, 3000]))


def _raw_body(*pairs: tuple[bytes, bytes]) -> bytes:
    """An envelope whose body is the given (key, value) msgpack pairs, as written (repeats kept)."""
    body = bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)
    return b"\x82" + encode("kind") + encode("report") + encode("body") + body


def _row(*pairs: tuple[str | bytes, bytes]) -> bytes:
    return bytes([0x80 | len(pairs)]) + b"".join(
        (encode(k) if isinstance(k, str) else k) + v for k, v in pairs
    )


def _list(*items: bytes) -> bytes:
    return bytes([0x90 | len(items)]) + b"".join(items)


STATION_ROW = {
    "mac": "aa:bb:cc:00:00:01",
    "medium": "5GHz",
    "signal_dbm": -60,
    "tx_rate_kbps": 200_000,
    "hostname": "pixel-7",
}
APP_ROW = {
    "station": "aa:bb:cc:00:00:01",
    "category": "video",
    "bytes_down": 10**7,
    "active_minutes": 5,
    "top_apps": ["YouTube"],
}
STATION = [(k, encode(v)) for k, v in STATION_ROW.items()]
APP = [(k, encode(v)) for k, v in APP_ROW.items()]


def _with(pairs: list[tuple[str, bytes]], key: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(k, value if k == key else v) for k, v in pairs] + ([] if key in dict(pairs) else [(key, value)])


FLOAT32_1_5 = b"\xca\x3f\xc0\x00\x00"
#: (name, message[, whether window_packed promises to read it: not unless said])
_EDGES: list[tuple[Any, ...]] = [
    (
        "empty lists",
        _message(
            {
                k: []
                for k in ("stations", "apps", "radios", "quality", "neighbours", "topology", "unclassified")
            }
            | {"wan": {}}
        ),
        True,
    ),
    (
        "nil sections",
        _message(
            dict.fromkeys(
                ("wan", "stations", "apps", "radios", "quality", "neighbours", "topology", "unclassified")
            )
        ),
        True,
    ),
    (
        "nil fields",
        _message(
            {
                "stations": [dict.fromkeys(rollup._Station.__annotations__)],
                "apps": [dict.fromkeys(rollup._App.__annotations__)],
                "radios": [dict.fromkeys(rollup._Radio.__annotations__)],
                "quality": [dict.fromkeys(rollup._Quality.__annotations__)],
                "neighbours": [dict.fromkeys(rollup._Neighbour.__annotations__)],
                "wan": dict.fromkeys(rollup._Wan.__annotations__),
            }
        ),
        True,
    ),
    ("no body keys", _message({}), True),
    (
        "int64 extremes",
        _message({"stations": [{"mac": "m", "medium": "5GHz", "signal_dbm": -(2**63)}]}),
        False,
    ),
    ("bytes past 2**53", _message({"apps": [dict(APP_ROW, bytes_down=2**63 - 1)]}), False),
    (
        "uint64 past int64",
        _raw_body((encode("wan"), _row(("online_s", b"\xcf" + (2**64 - 1).to_bytes(8, "big"))))),
        False,
    ),
    (
        "float32 read",
        _raw_body(
            (encode("radios"), _list(_row(("band", encode("5GHz")), ("utilization_pct", FLOAT32_1_5))))
        ),
    ),
    (
        "float32 unread",
        _raw_body((encode("radios"), _list(_row(("band", encode("5GHz")), ("noise", FLOAT32_1_5))))),
        True,
    ),
    ("a float for an int", _message({"stations": [dict(STATION_ROW, signal_dbm=-60.0)]}), False),
    ("a bool for an int", _message({"wan": {"offline_s": True}}), False),
    ("a list for a str", _message({"stations": [dict(STATION_ROW, hostname=["x"])]}), False),
    (
        "ints in longer forms",
        _raw_body(
            (
                encode("stations"),
                _list(
                    _row(
                        *_with(
                            _with(STATION, "signal_dbm", b"\xd3" + (-60).to_bytes(8, "big", signed=True)),
                            "tx_rate_kbps",
                            b"\xce" + (200_000).to_bytes(4, "big"),
                        )
                    )
                ),
            )
        ),
        True,
    ),
    (
        "strs, lists and maps in longer forms",
        _raw_body(
            (
                b"\xd9\x08stations",
                b"\xdc\x00\x01"
                + b"\xde\x00\x02"
                + b"\xda\x00\x03mac"
                + b"\xdb\x00\x00\x00\x01m"
                + encode("medium")
                + encode("5GHz"),
            )
        ),
        True,
    ),
    (
        "a body key twice",
        _raw_body((encode("wan"), encode({"online_s": 1})), (encode("wan"), encode(None))),
        False,
    ),
    (
        "a row key twice",
        _raw_body((encode("stations"), _list(_row(*STATION, ("mac", encode("other")))))),
        False,
    ),
    (
        "an unread key twice",
        _raw_body(
            (encode("stations"), _list(_row(*STATION, ("ip", encode(1)), ("ip", encode(2))))),
            (encode("x"), encode(1)),
            (encode("x"), encode(2)),
        ),
        True,
    ),
    (
        "body twice",
        b"\x82" + encode("body") + encode({}) + encode("body") + encode({"wan": {"online_s": 5}}),
        False,
    ),
    (
        "an extension type unread",
        _raw_body((encode("samplers"), b"\xd6\x05abcd"), (encode("x"), b"\xc7\x01\x01z")),
        True,
    ),
    (
        "an extension type read",
        _raw_body((encode("stations"), _list(_row(*_with(STATION, "vendor", b"\xd4\x01\x00"))))),
    ),
    (
        "bad UTF-8 unread",
        _raw_body(
            (encode("system"), b"\xa2\xff\xfe"),
            (b"\xa2\xff\xfe", encode(1)),
            (encode("apps"), _list(_row(*APP, ("flows", b"\xa1\xff")))),
        ),
        True,
    ),
    (
        "bad UTF-8 read",
        _raw_body((encode("stations"), _list(_row(*_with(STATION, "hostname", b"\xa2\xc3\x28"))))),
    ),
    (
        "bad UTF-8 in an unread field of a row",
        _raw_body(
            (
                encode("quality"),
                _list(_row(("target", encode("internet")), ("delay_max_ms", _list(b"\xa1\xff")))),
            )
        ),
    ),
    ("a key not a str", _raw_body((encode("stations"), _list(_row(*STATION, (encode(5), encode(1))))))),
    ("a body key not a str", _raw_body((encode(5), encode(1)))),
    (
        "unread values of any type",
        _raw_body(
            (encode("system"), encode({"a": [1, 2.5, None, True, b"\x00", {"b": []}], "c": {}})),
            (encode("stations"), _list(_row(*STATION, ("x", encode({1: 2}))))),
        ),
        True,
    ),
    ("deep nesting unread", _raw_body((encode("system"), b"\x91" * 40 + b"\x90"))),
    ("stations a map", _message({"stations": {"mac": "m"}})),
    ("a station a list", _message({"stations": [["m"]]})),
    ("topology a map", _message({"topology": {"a": 1}})),
    ("unclassified a map", _message({"unclassified": {"a": 1}})),
    (
        "unclassified rows",
        _message({"apps": [dict(APP_ROW)], "unclassified": [{"domain": "x.example", "bytes_down": 5}]}),
        True,
    ),
    ("envelope a list", encode([{"body": {}}])),
    ("no body", encode({"kind": "report"})),
    ("body nil", encode({"body": None})),
    ("trailing bytes", _message({}) + b"\x00"),
    ("an unused byte", _raw_body((encode("x"), b"\xc1"))),
]
EDGES = [(e[0], e[1], len(e) > 2 and e[2]) for e in _EDGES]


@needs_c
@pytest.mark.parametrize(("packed", "promised"), [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_hand_written_msgpack_folds_as_the_reference_or_falls_back(packed: bytes, promised: bool) -> None:
    if promised:
        _same(packed)
    else:
        with pytest.raises(compiled.Unsupported):
            compiled.window_packed(packed, START, END)
    _decides(packed)


@needs_c
def test_truncated_or_damaged_msgpack_is_never_read_wrong() -> None:
    """Every cut of a report, and bytes changed at random: Unsupported (then the decode decides), or
    what the reference folds of what the changed bytes decode to; never anything else, never a crash."""
    rnd = random.Random(7)
    sample = fleet()[::97]
    for m in sample:
        packed = m.packed
        for cut in range(0, len(packed), 7):
            with pytest.raises(compiled.Unsupported):
                compiled.window_packed(packed[:cut], START, END)
        for _ in range(60):
            damaged = bytearray(packed)
            for _ in range(rnd.choice([1, 1, 2, 5])):
                damaged[rnd.randrange(len(damaged))] = rnd.randrange(256)
            try:
                body = rollup.decode_window_body(bytes(damaged))
            except msgspec.DecodeError:
                body = None
            try:
                got = compiled.window_packed(bytes(damaged), START, END)
            except compiled.Unsupported:
                continue
            assert body is not None, "read what the decode refuses"
            try:
                want = window.core(copy.deepcopy(body), START, END)
            except (TypeError, ValueError, AttributeError):  # damage the reference trips on
                pytest.fail("read a body the reference cannot fold")
            assert json.dumps(got[0]) == json.dumps(want[0]) and _nonzero(got[1]) == _nonzero(want[1])


@needs_c
def test_packed_reads_only_declared_fields_and_every_field_the_reference_reads() -> None:
    seen: set[str] = set()
    for m in fleet()[::50]:
        window.core(_Reads(m.body, seen), m.window_start, m.window_end)
    reads = compiled.packed_reads()
    assert reads <= _declared(rollup.WindowBody)
    assert seen <= reads


@needs_c
def test_a_figure_added_in_python_is_folded_on_the_packed_way_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def extras(body: Any, c: dict[str, Any], v: dict[int, int]) -> None:
        v[0] = v.get(0, 0) + 41
        c["new"] = len(body.get("stations") or [])

    monkeypatch.setattr(rollup, "_extras", extras)
    m = fleet()[3]
    fast = rollup.packed_window_parts(m.packed, m.window_start, m.window_end)
    slow = rollup._window(rollup.decode_window_body(m.packed), m.window_start, m.window_end)
    assert (
        fast.parts["new"] == slow[0]["new"] == len(m.body["stations"]) and fast.sparse[0] == slow[1][0] == 42
    )


def _untracked_hold_no_container_that_could_reach_back(value: Any, inside_untracked: bool = False) -> None:
    """An untracked list or dict holds only ints, strs and untracked containers of them: the cyclic
    collector may skip it because no cycle can pass through it (_window.c's list_of)."""
    if isinstance(value, (list, dict)):
        untracked = not gc.is_tracked(value)
        assert not (inside_untracked and gc.is_tracked(value) and isinstance(value, list))
        for item in value.values() if isinstance(value, dict) else value:
            _untracked_hold_no_container_that_could_reach_back(item, inside_untracked or untracked)
    else:
        assert isinstance(value, (int, str)) or not inside_untracked, type(value)


@needs_c
def test_what_the_fold_leaves_untracked_can_never_be_part_of_a_cycle() -> None:
    days: dict[tuple[str, int], dict[str, Any]] = {}
    untracked = 0
    for m in fleet()[::3]:
        c, sparse, _ = compiled.window_packed(m.packed, m.window_start, m.window_end)
        untracked += sum(not gc.is_tracked(x) for x in c.get("tm", {}).values())
        _untracked_hold_no_container_that_could_reach_back(c)
        day = days.setdefault((m.gateway_id, rollup.day_of(m.window_start)), {})
        compiled.add(day, c, sparse)
    assert untracked > 1000
    for day in days.values():
        _untracked_hold_no_container_that_could_reach_back(day)


def test_without_the_extension_the_packed_way_decodes_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    # a collector installed without a compiler: the same parts, by the Python reference
    monkeypatch.setattr(rollup, "_compiled", None)
    for m in fleet()[::60]:
        body = rollup.decode_window_body(m.packed)
        got = rollup.packed_window_parts(m.packed, m.window_start, m.window_end)
        want = rollup._window(body, m.window_start, m.window_end)
        assert got.parts == want[0] and got.sparse == want[1]
        assert got.unclassified == (body.get("unclassified") or None)
