"""``protocol._keys``: the C check that no msgpack map repeats a key, against a Python reference."""

from __future__ import annotations

import struct
import time
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ingest.triage import Incoming, Triage, triage
from protocol import inbound
from protocol.codec import MAX_DEPTH, encode
from protocol.topics import topic_for
from tests.compiled import needs, require_built
from tests.protocol.messages import report
from tests.protocol.test_mirror import NASTY_KEYS, draw_change

try:
    from protocol import _keys as keys
except ImportError:  # fails below: see test_the_c_extension_is_built
    keys = None  # type: ignore[assignment]

needs_c = needs(keys)  # tests/compiled.py: skips only under HOMESCOPE_OPTIONAL_C=1


def test_the_c_extension_is_built() -> None:
    """Without it the collector silently runs the duplicate-key proof ~10x slower (and the
    tests below would prove nothing), so a failed build fails here instead of skipping."""
    require_built(keys, "protocol._keys")


class _Refused(Exception):
    pass


def _pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    seen = {k for k, _ in pairs}
    if len(seen) != len(pairs) or not all(type(k) is str for k in seen):
        raise _Refused
    return dict(pairs)


def _ext(code: int, data: bytes) -> Any:
    raise _Refused


def _depth(node: Any) -> int:
    if isinstance(node, msgpack.Timestamp):
        raise _Refused  # ext type -1, which msgpack decodes without asking ext_hook
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    if isinstance(node, list):
        return 1 + max((_depth(v) for v in node), default=0)
    return 0


def reference(body: bytes) -> bool:
    """What unique_keys promises, the slow way: one object, str keys never repeated, no ext, depth."""
    try:
        value = msgpack.unpackb(
            body,
            raw=False,
            unicode_errors="surrogateescape",  # UTF-8 is the typed decode's business, not this check's
            strict_map_key=False,
            object_pairs_hook=_pairs,
            ext_hook=_ext,
        )
        return _depth(value) <= MAX_DEPTH
    except Exception:
        return False


def _header(count: int, fix: int, fix_max: int, codes: tuple[int, int], form: int) -> bytes:
    if form == 0 and count <= fix_max:
        return bytes([fix | count])
    if form <= 1 and count < 2**16:
        return bytes([codes[0]]) + struct.pack(">H", count)
    return bytes([codes[1]]) + struct.pack(">I", count)


LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False).map(lambda f: ("d", f)),
    st.floats(width=32, allow_nan=False).map(lambda f: ("f", f)),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.sampled_from([b"\xd4\x01\x00", b"\xd6\xff\x00\x00\x00\x01", b"\xc1"]).map(lambda raw: ("raw", raw)),
)


def _leaf(value: Any) -> bytes:
    if isinstance(value, tuple):
        form, inner = value
        if form == "raw":
            return bytes(inner)
        return msgpack.packb(inner, use_single_float=form == "f")
    return msgpack.packb(value, use_bin_type=True)


KEY = st.one_of(
    st.sampled_from(["a", "b", "mac", "x" * 40, "é", ""]).map(msgpack.packb),  # repeats often
    st.text(max_size=300).map(msgpack.packb),  # str8/16 headers too
    st.sampled_from([msgpack.packb(1), msgpack.packb(b"k", use_bin_type=True), b"\xa2\xff\xfe"]),
)


def _containers(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    form = st.integers(0, 2)
    arrays = st.tuples(st.lists(children, max_size=6), form).map(
        lambda t: _header(len(t[0]), 0x90, 15, (0xDC, 0xDD), t[1]) + b"".join(t[0])
    )
    maps = st.tuples(st.lists(st.tuples(KEY, children), max_size=6), form).map(
        lambda t: _header(len(t[0]), 0x80, 15, (0xDE, 0xDF), t[1]) + b"".join(k + v for k, v in t[0])
    )
    return arrays | maps


MSGPACK = st.recursive(LEAVES.map(_leaf), _containers, max_leaves=40)


@needs_c
@settings(max_examples=800, deadline=None)
@given(MSGPACK)
def test_unique_keys_agrees_with_the_reference(body: bytes) -> None:
    assert keys.unique_keys(body, MAX_DEPTH) == reference(body)


@needs_c
@settings(max_examples=800, deadline=None)
@given(MSGPACK, st.data())
def test_damaged_bytes_never_pass_what_the_reference_refuses(body: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(body)))
    damaged = [body[:cut], body + data.draw(st.binary(min_size=1, max_size=3))]
    if body:
        i = data.draw(st.integers(0, len(body) - 1))
        damaged.append(body[:i] + bytes([data.draw(st.integers(0, 255))]) + body[i + 1 :])
    for candidate in damaged:
        assert keys.unique_keys(candidate, MAX_DEPTH) == reference(candidate)


@needs_c
def test_depth_counts_containers_as_the_codec_does() -> None:
    def nested(depth: int) -> bytes:
        return b"\x81\xa1n" * (depth - 1) + b"\x80"

    assert keys.unique_keys(nested(MAX_DEPTH), MAX_DEPTH)
    assert not keys.unique_keys(nested(MAX_DEPTH + 1), MAX_DEPTH)
    assert not keys.unique_keys(b"\x91" * 100_000 + b"\x01", MAX_DEPTH)  # no C stack at risk


@needs_c
def test_counts_that_lie_are_refused_without_allocating() -> None:
    assert not keys.unique_keys(b"\xdf\xff\xff\xff\xff", MAX_DEPTH)  # 4 billion pairs claimed
    assert not keys.unique_keys(b"\xdd\xff\xff\xff\xff\x01", MAX_DEPTH)
    big = {f"k{i}": i for i in range(5000)}  # a map past the stack table
    assert keys.unique_keys(msgpack.packb(big), MAX_DEPTH)
    pairs = b"".join(msgpack.packb(f"k{i}") + msgpack.packb(i) for i in range(5000))
    assert not keys.unique_keys(
        b"\xde" + struct.pack(">H", 5001) + pairs + msgpack.packb("k4999") + b"\x00", MAX_DEPTH
    )


# -- triage: the C way and the way without it give the same outcome ---------------------------
def outcome(t: Triage) -> tuple[Any, ...]:
    out = t.out
    shape: tuple[Any, ...] = (type(out).__name__,)
    if out is not None and hasattr(out, "reason"):
        shape += (out.reason,)
    if out is not None and hasattr(out, "epoch"):
        shape += (out.gateway_id, out.epoch, out.seq, out.kind, out.window_start, out.window_end,
                  out.uptime_s, out.sent_at, msgpack.packb(out.body))  # packed: NaN equals NaN  # fmt: skip
    if out is not None and hasattr(out, "state"):
        shape += (out.gateway_id, out.state, out.agent_version)
    return (*shape, t.ack, t.sent_at)


def both_ways(message: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    gateway = str(message.get("gateway_id", "gw-x"))
    kind = str(message.get("kind", "report"))
    try:
        topic = topic_for(gateway, kind)
    except Exception:
        topic = topic_for("gw-x", "report")
    item = Incoming(topic, encode(message), 1, 1, time.time())
    fast = outcome(triage(item))
    with monkeypatch.context() as m:
        m.setattr(inbound, "_unique_keys", None)
        slow = outcome(triage(item))
    return fast, slow


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_triage_with_and_without_the_c_check_agree(data: st.DataObject) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        message, node, key = draw_change(data)
        action = data.draw(st.sampled_from(["delete", "set", "add", "none"]))
        if action == "delete" and isinstance(node, dict):
            del node[key]
        elif action == "add" and isinstance(node, dict):
            node[data.draw(st.sampled_from(["extra", 1, b"k", "mac"]))] = data.draw(
                st.sampled_from(NASTY_KEYS)
            )
        elif action == "set":
            node[key] = data.draw(st.sampled_from(NASTY_KEYS))
        fast, slow = both_ways(message, monkeypatch)
        assert fast == slow


def test_a_repeated_key_is_refused_by_name_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    packed = msgpack.packb(report("gw-dup"))
    assert packed[0] == 0x8A  # a fixmap of ten: add an eleventh pair repeating "v"
    body = b"\x8b" + packed[1:] + msgpack.packb("v") + msgpack.packb("1.1")
    frame = b"hs\x00" + body
    item = Incoming(topic_for("gw-dup", "report"), frame, 1, 1, time.time())
    assert outcome(triage(item))[:2] == ("QuarantinedMessage", "duplicate_key")
    monkeypatch.setattr(inbound, "_unique_keys", None)
    assert outcome(triage(item))[:2] == ("QuarantinedMessage", "duplicate_key")
