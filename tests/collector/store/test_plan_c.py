"""``collector/store/_plan.c``: what the plan reads of a report, read straight from its msgpack,
against the Python reference (``plan._figures_of`` of ``plan_input.plan_body``) on emulated
reports and hand-made edge cases; where it does not promise the same it raises Unsupported, and
``plan.figures`` then runs the reference, which decides."""

from __future__ import annotations

import copy
import random
from typing import Any

import msgspec
import pytest

from collector.store import plan
from collector.store.plan import Counters, Figures, _figures_of
from collector.store.plan_input import plan_body
from emulator.home import VirtualHome
from tests.compiled import needs, require_built

try:
    from collector.store import _plan as compiled
except ImportError:  # test_the_c_extension_is_built says why
    compiled = None  # type: ignore[assignment]

needs_c = needs(compiled)  # tests/compiled.py: skips only under HOMESCOPE_OPTIONAL_C=1


def test_the_c_extension_is_built() -> None:
    """Without it the store writer process plans each report ~2.5x slower, and the tests below prove nothing."""
    require_built(compiled, "collector.store._plan")
    assert (compiled is not None) == plan.READS_PACKED


def _emulated(homes: int = 12, windows: int = 4) -> list[dict[str, Any]]:
    out = []
    for i in range(homes):
        home = VirtualHome(f"gw-planc-{i}", 7_000 + i)
        for w in range(windows):
            out.append(home.report_body(900, 1_700_000_000 + 900 * (w + 1)))
    return out


def _envelope(body: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode({"v": "1.3", "kind": "report", "gateway_id": "gw", "body": body})


def _both(packed: bytes, previous: str | None, rebooted: bool) -> tuple[Any, Any]:
    """(C's figures as a tuple, or "unsupported"; the reference's figures, or its exception type)."""
    try:
        got: Any = tuple(compiled.report(packed, previous, rebooted))
    except compiled.Unsupported:
        got = "unsupported"
    try:
        expected: Any = tuple(
            _figures_of(plan_body(packed), Counters(previous) if previous else None, rebooted)[0]
        )
    except Exception as exc:  # the reference's refusal: C must not have answered
        expected = type(exc)
    return got, expected


@needs_c
def test_emulated_reports_read_in_c_as_the_reference_reads_them() -> None:
    bodies = _emulated()
    previous: str | None = None
    for n, body in enumerate(bodies):
        if n % 4 == 0:
            previous = None  # the next home
        packed = _envelope(body)
        for before, rebooted in ((None, False), (previous, False), (previous, True)):
            got, expected = _both(packed, before, rebooted)
            assert got != "unsupported", "an emulated report must not leave the compiled way"
            assert got == expected, n
        previous = compiled.report(packed, None, False).counters
        assert Figures._fields == type(compiled.report(packed, None, False)).__match_args__  # same names


def _cases(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Edits of one body: repeats, nulls, absences, odd types, extremes."""
    st = body["stations"][0]
    edits: list[tuple[str, Any]] = [
        ("a repeated mac", lambda b: b["stations"].append(dict(b["stations"][0], bytes_sent=7))),
        ("a repeated interface", lambda b: b["interfaces"].append(dict(b["interfaces"][0], bytes_sent=9))),
        ("a repeated category", lambda b: b["apps"].append(dict(b["apps"][0], active_minutes=999))),
        (
            "station counters null",
            lambda b: b["stations"][0].update(bytes_received=None, retransmissions=None),
        ),
        (
            "station counters absent",
            lambda b: [b["stations"][0].pop(k, None) for k in ("bytes_sent", "signal_dbm")],
        ),
        ("a float signal", lambda b: b["stations"][0].update(signal_dbm=-75.5)),
        ("a signal of -75", lambda b: b["stations"][0].update(signal_dbm=-75)),
        ("a str signal", lambda b: b["stations"][0].update(signal_dbm="-70")),
        ("an interface counter null", lambda b: b["interfaces"][0].update(bytes_sent=None)),
        ("an interface counter float", lambda b: b["interfaces"][0].update(bytes_sent=1.5)),
        ("an app counter null", lambda b: b["apps"][0].update(bytes_down=None)),
        ("an app counter absent", lambda b: b["apps"][0].pop("bytes_up")),
        ("a category that is an int", lambda b: b["apps"][0].update(category=5)),
        ("a mac that is an int", lambda b: b["stations"][0].update(mac=5)),
        ("no stations", lambda b: b.pop("stations")),
        ("stations null", lambda b: b.update(stations=None)),
        ("stations a map", lambda b: b.update(stations={"a": 1})),
        ("no interfaces", lambda b: b.pop("interfaces")),
        ("no apps", lambda b: b.update(apps=[])),
        ("system absent", lambda b: b.pop("system")),
        ("system null", lambda b: b.update(system=None)),
        ("available absent", lambda b: b["system"].pop("memory_available_kib", None)),
        ("available null", lambda b: b["system"].update(memory_available_kib=None)),
        ("cpu a float", lambda b: b["system"].update(cpu_usage_pct=12.5)),
        ("cpu a list", lambda b: b["system"].update(cpu_usage_pct=[1])),
        ("system a list", lambda b: b.update(system=[1])),
        ("wan absent", lambda b: b.pop("wan", None)),
        ("wan null", lambda b: b.update(wan=None)),
        ("wan names ''", lambda b: b.update(wan={"interface": ""})),
        ("wan names another", lambda b: b.update(wan={"interface": "eth9"})),
        ("a role wan", lambda b: b["interfaces"][-1].update(role="wan")),
        ("a role that is an int", lambda b: b["interfaces"][0].update(role=1)),
        ("counters near int64", lambda b: b["interfaces"][0].update(bytes_received=2**63 - 1)),
        ("counters past int64", lambda b: b["interfaces"][0].update(bytes_received=2**64 - 1)),
        ("app sums past int64", lambda b: [a.update(bytes_down=2**62) for a in b["apps"]]),
        ("a key JSON escapes", lambda b: b["stations"][0].update(mac='a"b\\c')),
        ("a key with a control character", lambda b: b["interfaces"][0].update(name="e\nth")),
        ("a non-ASCII key", lambda b: b["interfaces"][0].update(name="wlan-é")),
        ("an empty name", lambda b: b["interfaces"][0].update(name="")),
        ("a bool counter", lambda b: b["stations"][0].update(bytes_sent=True)),
    ]
    out = []
    for name, edit in edits:
        edited = copy.deepcopy(body)
        edit(edited)
        out.append((name, edited))
    assert st  # the body has stations to edit
    return out


def _previous_texts(body: dict[str, Any]) -> list[str]:
    """Stored counters for the body's gateway: as written, older, odd and damaged."""
    counters = compiled.report(_envelope(body), None, False).counters
    decoded = msgspec.json.decode(counters)
    lower = {p: {k: [max(0, x - 1_000) for x in v] for k, v in part.items()} for p, part in decoded.items()}
    higher = {p: {k: [x + 1 for x in v] for k, v in part.items()} for p, part in decoded.items()}
    shorter = {p: {k: v[:1] for k, v in part.items()} for p, part in decoded.items()}
    return [
        msgspec.json.encode(lower).decode(),  # deltas
        msgspec.json.encode(higher).decode(),  # counters went down: a wrap or a reset
        msgspec.json.encode(shorter).decode(),  # fewer counters per item
        msgspec.json.encode({"if": lower["if"]}).decode(),  # no stations part
        "{}",
        '{"if": {"eth0": [1, 2]}, "st": {}}',  # spaces (json.dumps)
        '{"if":{"eth0":[1,2],"eth0":[3,4]},"st":{}}',  # a repeated key: the last one
        '{"if":{"eth0":[1.5,2]},"st":{}}',  # a float
        '{"if":{"e\\"th0":[1,2]},"st":{}}',  # an escape
        '{"if":{},"st":{},"x":{}}',  # another key
        '{"if":{"eth0":[1,2]}',  # cut short
        '{"if":{"eth0":[99999999999999999999,2]},"st":{}}',  # past int64
    ]


@needs_c
def test_edge_cases_read_in_c_as_the_reference_reads_them_or_left_to_it() -> None:
    body = _emulated(1, 1)[0]
    texts = _previous_texts(body)
    unsupported = 0
    for name, edited in _cases(body):
        packed = _envelope(edited)
        for previous in [None, *texts]:
            for rebooted in (False, True):
                got, expected = _both(packed, previous, rebooted)
                if got == "unsupported":
                    unsupported += 1
                    continue
                assert got == expected, (name, previous, rebooted)
    assert unsupported  # some are left to the reference (and plan.figures then gives its answer)


@needs_c
def test_figures_fall_back_to_the_reference_which_decides() -> None:
    body = _emulated(1, 1)[0]
    body["interfaces"][0]["name"] = 'a"b'  # C leaves a key JSON escapes to the reference
    edited = _envelope(body)
    with pytest.raises(compiled.Unsupported):
        compiled.report(edited, None, False)
    from collector.store.base import SpooledMessage

    m = SpooledMessage("gw", 1, 1, "report", 0, 900, 10, 0, 0.0, None, b"", edited)
    found, counters = plan.figures(m, None, False)
    assert found == _figures_of(plan_body(edited), None, False)[0] and '"a\\"b"' in counters.text


@needs_c
def test_random_damage_never_crashes_and_never_differs() -> None:
    body = _emulated(1, 1)[0]
    packed = _envelope(body)
    previous = compiled.report(packed, None, False).counters
    rng = random.Random(22)
    for _ in range(3000):
        damaged = bytearray(packed)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cut = bytes(damaged[: rng.randint(1, len(damaged))]) if rng.random() < 0.2 else bytes(damaged)
        got, expected = _both(cut, previous, rng.random() < 0.2)
        assert got in ("unsupported", expected)
