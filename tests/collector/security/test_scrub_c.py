"""``collector.privacy._scrub``: a report's privacy rewrite in C, against the Python way
(``Scrubber.rewritten(compiled=False)``, its reference) on emulated, edited, generated and
damaged reports.

The contract: whenever the C pass returns, it returned exactly the bytes the reference writes
(so the same object, keys in the same order); for what it does not promise to reproduce it
raises ``Unsupported`` before writing anything, and ``Scrubber.message`` takes the Python way.
"""

from __future__ import annotations

import copy
import ctypes
import mmap
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgpack
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.runner import report_frame
from collector.ingest.triage import Incoming, triage
from collector.privacy import scrub
from collector.privacy.scrub import Scrubber, terminal_names
from collector.store import SpooledMessage
from emulator.home import VirtualHome
from protocol.codec import decode_stored
from protocol.topics import topic_for
from tests.compiled import needs, require_built

try:
    from collector.privacy import _scrub as compiled
except ImportError:  # fails below: see test_the_c_extension_is_built
    compiled = None  # type: ignore[assignment]

needs_c = needs(compiled)  # tests/compiled.py: skips only under HOMESCOPE_OPTIONAL_C=1
KEY = b"k" * 32


def test_the_c_extension_is_built() -> None:
    """Without it every report's rewrite costs ~4x more on the ingest event loop."""
    require_built(compiled, "collector.privacy._scrub")


# -- the two ways --------------------------------------------------------------------------


def _c(packed: bytes | memoryview, keep: bool = False) -> bytes:
    """The C pass alone, with a fresh scrubber (raises Unsupported)."""
    s = Scrubber(KEY, keep_neighbour_names=keep)
    return compiled.report(packed, s._macs, s.mac, terminal_names, keep)


def _python(packed: bytes, keep: bool = False) -> bytes:
    return Scrubber(KEY, keep_neighbour_names=keep).rewritten(_message(packed), compiled=False)[0]


def _message(packed: bytes) -> SpooledMessage:
    return SpooledMessage("gw-c", 1, 1, "report", 0, 900, 1, 1, 1.0, None, b"", packed)


def _same(packed: bytes, keep: bool = False) -> bytes:
    """The C pass takes ``packed`` and writes what the reference writes."""
    got = _c(packed, keep)
    assert got == _python(packed, keep)  # byte for byte, so the same object (NaN included)
    return got


def _refused(packed: bytes | memoryview, keep: bool = False) -> None:
    """The C pass leaves ``packed`` to Python, and ``Scrubber.message`` still writes the reference."""
    with pytest.raises(compiled.Unsupported):
        _c(packed, keep)
    try:
        want = _python(bytes(packed), keep)
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, AttributeError, TypeError):
        return  # the reference refuses it too: triage never lets such a report through
    assert Scrubber(KEY, keep_neighbour_names=keep).rewritten(_message(bytes(packed)))[0] == want


def _contract(packed: bytes | memoryview, keep: bool = False) -> None:
    """Whatever the input: C returns the reference's bytes, or raises Unsupported."""
    try:
        got = _c(packed, keep)
    except compiled.Unsupported:
        return
    assert got == _python(bytes(packed), keep)


def _emulated(homes: int = 24, windows: int = 6) -> list[bytes]:
    """Triaged emulator reports (unframed msgpack), neighbour scans included (every 4th window)."""
    out = []
    for h in range(homes):
        home = VirtualHome(f"c-{h:03d}", 7000 + 37 * h)
        for w in range(windows):
            span = (1_700_000_000 + 900 * w, 1_700_000_900 + 900 * w)
            frame = report_frame(
                home.gateway_id, 1, w + 1, span, home.uptime_s, home.report_body(900, span[1]), span[0]
            )
            got = triage(Incoming(topic_for(home.gateway_id, "report"), frame, w, 1, time.time())).out
            assert isinstance(got, SpooledMessage)
            out.append(got.packed)
    return out


EMULATED = _emulated()


def _envelope(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "v": "1.2",
        "kind": "report",
        "gateway_id": "gw-c",
        "epoch": 1,
        "seq": 1,
        "window_start": 0,
        "window_end": 900,
        "uptime_s": 1,
        "sent_at": 1,
        **extra,
        "body": body,
    }


# -- emulated reports ------------------------------------------------------------------------


@needs_c
@pytest.mark.parametrize("keep", [False, True])
def test_emulated_reports_are_rewritten_as_the_reference_rewrites_them(keep: bool) -> None:
    scanned = 0
    for packed in EMULATED:
        got = _same(packed, keep)
        want = Scrubber(KEY, keep_neighbour_names=keep).rewritten(_message(packed), compiled=False)[0]
        assert msgspec.msgpack.decode(got) == msgspec.msgpack.decode(want)
        scanned += "neighbours" in msgspec.msgpack.decode(packed)["body"]
    assert scanned > 10  # neighbour scans (SSIDs dropped, BSSIDs pseudonymised) are among them


@needs_c
def test_the_switch_is_inside_message_and_falls_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = compiled.report

    def counted(*args: Any) -> bytes:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(scrub._compiled, "report", counted)
    msg = _message(EMULATED[0])
    out = Scrubber(KEY).message(msg)
    assert calls == [1] and out.packed == _python(EMULATED[0]) and out.decoded is None
    assert decode_stored(out.payload) == msgspec.msgpack.decode(out.packed)

    def refusing(*args: Any) -> bytes:
        raise compiled.Unsupported("test")

    monkeypatch.setattr(scrub._compiled, "report", refusing)
    assert Scrubber(KEY).message(msg).packed == out.packed


@needs_c
def test_the_pseudonyms_come_from_the_scrubbers_memo_and_mac() -> None:
    packed = EMULATED[0]
    s = Scrubber(KEY)
    got = compiled.report(packed, s._macs, s.mac, terminal_names, False)
    assert s._macs  # mac was asked (and filled its memo)
    s._macs = {mac: "zz:zz:zz:zz:zz:zz" for mac in s._macs}  # a memo hit is used as it is
    again = msgspec.msgpack.decode(compiled.report(packed, s._macs, s.mac, terminal_names, False))
    assert {st["mac"] for st in again["body"]["stations"]} == {"zz:zz:zz:zz:zz:zz"}
    assert got != msgspec.msgpack.encode(again)


# -- edited reports: every corner the rewrite has ------------------------------------------------


STATIONS = [
    {"mac": "a4:83:e7:00:00:01", "hostname": "Annas-Camera", "dhcp_vc": "annas-cam", "dhcp_prl": "1,3,6"},
    {"dhcp_vc": "dhcpcd-9.4.1:Linux:x86_64", "mac": "A4-83-E7-00-00-02", "hostname": "Johns-iPhone"},
    {"mac": "a483e7000003", "dhcp_vc": "MSFT 5.0"},  # no separators: the pseudonym is longer
    {"mac": "wan_gateway", "hostname": "x", "dhcp_vc": ""},  # not MAC-shaped; an empty class goes
    {"hostname": "michael"},
    {"mac": 12, "hostname": None, "dhcp_vc": 7},  # not strings: left as they are
    {"mac": None, "hostname": ["a"], "dhcp_vc": {"x": 1}},
    {"mac": b"\xa4\x83\xe7\x00\x00\x01", "hostname": b"Johns-iPhone"},
    {},
    {"mac": "a4:83:e7:00:00:04", "dhcp_vc": "VENDOR CAM 20240611883 v2", "hostname": 5},
    {"dhcp_vc": "annas-cam", "hostname": "Annas-Camera", "extra": {"nested": {"deeper": [1, 2.5, None]}}},
    {"mac": "a4:83:e7:00:00:05", "hostname": "Kitchen-Echo-ñ", "vendor": "Amazon ✓", "note": "ä" * 300},
    {"mac": "a4:83:e7:00:00:06", "bytes_sent": 2**64 - 1, "failed": -(2**63), "ratio": -0.0, "big": 2**40},
    {"mac": "a4:83:e7:00:00:07", "f": float("inf"), "n": float("nan"), "b": True, "z": False, "e": ""},
    {f"k{i}": i for i in range(40)} | {"mac": "a4:83:e7:00:00:08", "dhcp_vc": "udhcp 1.36.1"},  # > 32 pairs
    {f"key{i}": [i] for i in range(80)} | {"hostname": "Living-Room-TV"},  # > 64 keys: the hash table
    {"mac": "a4:83:e7:00:00:09", "s": "x" * 70_000, "bin": b"y" * 300},  # str 32, bin 16
]
APPS = [
    {"station": "a4:83:e7:00:00:01", "category": "video", "top_apps": ["YouTube"]},
    {"station": 5, "category": "other"},
    {"category": "web"},
    {"station": "not-a-mac", "station_extra": "a4:83:e7:00:00:01"},
]
QUALITY = [
    {"target": "a4:83:e7:00:00:02", "delay_ms": 3.5},
    {"target": "internet", "delay_ms": 20.0},
    {"target": None},
    {"delay_ms": 1.0, "target": "a4:83:e7:00:00:03", "x": {"target": "a4:83:e7:00:00:03"}},
]
NEIGHBOURS = [
    {"bssid": "00:11:22:33:44:55", "ssid": "Smith family", "signal_dbm": -70, "band": "2.4GHz"},
    {"ssid": "first", "bssid": "00:11:22:33:44:56"},
    {"channel": 6, "ssid": None},
    {"bssid": 3, "operator": "isp"},
    {"ssid": "only"},
]


def _edited(rnd: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(base)
    body["stations"] = rnd.sample(STATIONS, rnd.randint(0, len(STATIONS))) + body.get("stations", [])
    body["apps"] = rnd.sample(APPS, rnd.randint(0, len(APPS)))
    body["quality"] = rnd.sample(QUALITY, rnd.randint(0, len(QUALITY)))
    body["neighbours"] = rnd.sample(NEIGHBOURS, rnd.randint(0, len(NEIGHBOURS)))
    for part in ("stations", "apps", "quality", "neighbours"):
        if rnd.random() < 0.15:
            body[part] = rnd.choice([None, []])
        elif rnd.random() < 0.1:
            del body[part]
    body["unknown_part"] = {"mac": "a4:83:e7:00:00:01", "ssid": "kept: not a rewritten part"}
    keys = list(body)
    rnd.shuffle(keys)
    return {k: body[k] for k in keys}


@needs_c
@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_edited_reports_are_rewritten_as_the_reference_rewrites_them(seed: int, keep: bool) -> None:
    rnd = random.Random(seed)
    base = msgspec.msgpack.decode(EMULATED[seed % len(EMULATED)])
    envelope = {**base, "body": _edited(rnd, base["body"]), "future_field": {"a": [1, 2]}}
    _same(msgspec.msgpack.encode(envelope), keep)


@needs_c
def test_the_rules_are_the_references() -> None:
    out = msgspec.msgpack.decode(_same(msgspec.msgpack.encode(_envelope({"stations": STATIONS[:4]}))))
    first, second, third, fourth = out["body"]["stations"]
    assert list(first) == ["mac", "hostname", "dhcp_prl"] and first["hostname"] == "camera"  # dhcp_vc dropped
    assert second["dhcp_vc"] == "dhcpcd-9.4.1" and second["hostname"] == "iphone"
    assert len(third["mac"]) == 17 and third["mac"].startswith("a4:83:e7:")
    assert fourth == {"mac": "wan_gateway", "hostname": ""}


@needs_c
@pytest.mark.parametrize(
    "body",
    [
        {"stations": [], "view": {"id": 3}},  # a compact report's static view: decoded whole
        {"stations": [{"mac": "a4:83:e7:00:00:01"}, "not a map"]},
        {"stations": [None]},
        {"apps": "a4:83:e7:00:00:01"},
        {"quality": 5},
        {"neighbours": {"ssid": "x"}},
        {"stations": [{1: "a4:83:e7:00:00:01"}]},  # a key that is not a string
        {"stations": [{"mac": "a4:83:e7:00:00:01", "x": {2: 3}}]},
        {"stations": [{"mac": msgspec.msgpack.Ext(1, b"x")}]},
        {"system": msgspec.msgpack.Ext(5, b"\x00")},  # anywhere: ext types are never reproduced
    ],
)
def test_what_it_does_not_promise_to_reproduce_is_left_to_python(body: dict[str, Any]) -> None:
    _refused(msgspec.msgpack.encode(_envelope(body)))


@needs_c
def test_neighbours_kept_whole_are_copied_as_they_came() -> None:
    # with neighbour names kept the reference does not decode them: neither does the C pass
    odd = _envelope({"neighbours": [{"ssid": "x", "bssid": "00:11:22:33:44:55", "f": 1.5}]})
    packed = msgpack.packb(odd, use_single_float=True)  # a float32 the reference would re-encode
    assert _same(packed, keep=True) == packed
    _refused(packed, keep=False)


def _repeat_key(packed: bytes, old: bytes, new: bytes) -> bytes:
    assert packed.count(old) >= 1
    return packed.replace(old, new, 1)


@needs_c
def test_repeated_keys_and_non_canonical_forms_are_left_to_python() -> None:
    plain = msgspec.msgpack.encode(
        _envelope({"stations": [{"mac": "a4:83:e7:00:00:01", "hostnamf": "anna"}]})
    )
    for damaged in (
        _repeat_key(plain, b"\xa8hostnamf", b"\xa3mac"),  # a station repeats "mac"
        _repeat_key(plain, b"\xa3seq", b"\xa1v"),  # the envelope repeats "v"
        msgspec.msgpack.encode(_envelope({"stations": []}, body2=1)).replace(b"\xa5body2", b"\xa4body"),
        msgpack.packb(_envelope({"quality": [{"delay_ms": 1.5}]}), use_single_float=True),  # float32
        plain.replace(b"\xa3mac", b"\xd9\x03mac", 1),  # a long header for a short string
        msgspec.msgpack.encode(_envelope({"stations": [{"mac": "a", "n": 1}]})).replace(
            b"\xa1n\x01", b"\xa1n\xcc\x01"
        ),
        plain.replace(b"\xa4anna", b"\xa4\xed\xa0\x80a", 1),  # a surrogate: not UTF-8
        plain.replace(b"\xa4anna", b"\xa4\xc0\x80aa", 1),  # an overlong form
    ):
        assert damaged != plain
        _refused(damaged)
    # the parts copied as they came may hold any of it: the reference copies them too
    copied = msgpack.packb(_envelope({"system": {"load": 0.5, "n": 1}}), use_single_float=True)
    assert _same(copied) == copied


@needs_c
def test_headers_are_rewritten_in_their_shortest_form() -> None:
    # a station of 16 pairs loses dhcp_vc (map 16 -> fixmap 15); an ssid goes from a map of 16
    station = {f"k{i:02d}": i for i in range(14)} | {"hostname": "Annas-Camera", "dhcp_vc": "annas-cam"}
    neighbour = {f"k{i:02d}": i for i in range(15)} | {"ssid": "Smith"}
    out = _same(msgspec.msgpack.encode(_envelope({"stations": [station], "neighbours": [neighbour]})))
    body = msgspec.msgpack.decode(out)["body"]
    assert len(body["stations"][0]) == 15 and "dhcp_vc" not in body["stations"][0]
    assert len(body["neighbours"][0]) == 15 and "ssid" not in body["neighbours"][0]


# -- damaged input: raise, never crash, never read past the buffer ---------------------------


_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.mmap.restype = ctypes.c_void_p
_LIBC.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_LIBC.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_LIBC.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


@contextmanager
def _guarded(data: bytes) -> Iterator[memoryview]:
    """``data`` at the very end of a readable page followed by one that is not: a read past it
    is a segmentation fault here, not a silent read of a bytes object's padding."""
    page = mmap.PAGESIZE
    size = (len(data) // page + 2) * page
    base = _LIBC.mmap(
        None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0
    )
    assert base not in (None, ctypes.c_void_p(-1).value)
    try:
        assert _LIBC.mprotect(base + size - page, page, 0) == 0  # PROT_NONE
        start = base + size - page - len(data)
        ctypes.memmove(start, data, len(data))
        buffer = (ctypes.c_char * len(data)).from_address(start)
        with memoryview(buffer).cast("B") as view:
            yield view
    finally:
        _LIBC.munmap(base, size)


@needs_c
def test_a_buffer_is_read_as_given() -> None:
    with _guarded(EMULATED[0]) as view:
        assert bytes(view) == EMULATED[0] and _c(view) == _c(EMULATED[0])


@needs_c
@pytest.mark.parametrize("index", [0, 3, 7])  # 3 and 7: with neighbour scans
def test_every_truncation_raises_and_reads_nothing_past_the_buffer(index: int) -> None:
    packed = EMULATED[index]
    for n in range(len(packed)):
        with _guarded(packed[:n]) as view, pytest.raises(compiled.Unsupported):
            _c(view)


@needs_c
def test_damaged_bytes_raise_or_are_rewritten_as_the_reference_rewrites_them() -> None:
    rnd = random.Random(22)
    for i in range(3000):
        packed = bytearray(EMULATED[i % len(EMULATED)])
        for _ in range(rnd.randint(1, 4)):
            packed[rnd.randrange(len(packed))] = rnd.choice(
                [0x00, 0xC1, 0xDF, 0xDB, 0xFF, rnd.randrange(256)]
            )
        with _guarded(bytes(packed)) as view:
            _contract(view, keep=bool(i % 2))


# -- generated reports ---------------------------------------------------------------------

_TEXT = st.text(max_size=40) | st.sampled_from(["a4:83:e7:00:00:01", "A4-83-E7-00-00-02", "Johns-iPhone", ""])
_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | _TEXT
    | st.binary(max_size=20)
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)
_NAMES = st.sampled_from(
    ["mac", "hostname", "dhcp_vc", "station", "target", "bssid", "ssid", "medium", "signal_dbm", "x"]
)
_ITEM = st.dictionaries(_NAMES | _TEXT, _VALUE, max_size=8)
_PART = st.none() | st.lists(_ITEM, max_size=5)
_BODY = st.dictionaries(
    st.sampled_from(["stations", "apps", "quality", "neighbours", "system", "extra"]) | _TEXT,
    _PART | _VALUE,
    max_size=8,
).filter(lambda b: "view" not in b)


def _plain(body: dict[str, Any], keep: bool) -> bool:
    """Every part the rewrite decodes is absent, nil or a list of maps (the keys are strings)."""
    parts = ("stations", "apps", "quality") + (() if keep else ("neighbours",))
    return all(
        body.get(p) is None or (isinstance(body[p], list) and all(isinstance(i, dict) for i in body[p]))
        for p in parts
    )


@needs_c
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_BODY, keep=st.booleans())
def test_generated_reports_are_rewritten_as_the_reference_rewrites_them(
    body: dict[str, Any], keep: bool
) -> None:
    packed = msgspec.msgpack.encode(_envelope(body))
    if _plain(body, keep):
        _same(packed, keep)  # canonical msgpack of string keys: the C pass must take it
    else:
        _refused(packed, keep)


@needs_c
@settings(max_examples=200, deadline=None)
@given(
    body=_BODY,
    cut=st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(0), st.integers(0, 255)), max_size=3),
)
def test_generated_damage_raises_or_is_rewritten_as_the_reference_rewrites_it(
    body: dict[str, Any], cut: int, flips: list[tuple[int, int]]
) -> None:
    packed = bytearray(msgspec.msgpack.encode(_envelope(body)))
    for at, value in flips:
        packed[at % len(packed)] = value
    if cut % 8:
        del packed[len(packed) - cut % 8 :]
    with _guarded(bytes(packed)) as view:
        _contract(view)


def _str_msgpack(data: bytes) -> bytes:
    """``data`` as a msgpack string in its shortest header, whether or not it is UTF-8."""
    n = len(data)
    head = (
        bytes([0xA0 | n]) if n < 32 else b"\xd9" + bytes([n]) if n < 256 else b"\xda" + n.to_bytes(2, "big")
    )
    return head + data


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=40)
    | st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.lists(
        st.sampled_from(
            [
                b"a",
                b"\xc3\xa9",
                b"\xe2\x9c\x93",
                b"\xf0\x9f\x98\x80",
                b"\xed\xa0\x80",
                b"\xc0\xaf",
                b"\xf4\x90\x80\x80",
                b"\xe0\x80\xaf",
                b"\xf8",
                b"\x80",
            ]
        ),
        max_size=12,
    ).map(b"".join),
    key=st.booleans(),
)
def test_strings_are_taken_exactly_when_they_are_utf8(data: bytes, key: bool) -> None:
    placeholder = msgspec.msgpack.encode("@placeholder@")
    station = {"@placeholder@": 1} if key else {"mac": "a4:83:e7:00:00:01", "note": "@placeholder@"}
    packed = msgspec.msgpack.encode(_envelope({"stations": [station]})).replace(
        placeholder, _str_msgpack(data)
    )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        _refused(packed)
    else:
        _same(packed)
