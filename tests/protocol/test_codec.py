from __future__ import annotations

import contextlib
import zlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import MAX_BODY, MAX_DEPTH, MAX_FRAME, decode, encode, open_envelope
from protocol.errors import ProtocolError, Reason
from protocol.topics import topic_for
from tests.protocol.messages import GW, report


def frame(body: bytes, flags: int = 0) -> bytes:
    return b"hs" + bytes([flags]) + body


def reason_of(payload: bytes) -> Reason:
    with pytest.raises(ProtocolError) as info:
        decode(payload)
    return info.value.reason


def test_round_trip_small_is_uncompressed_and_large_is_compressed() -> None:
    small = {"a": 1}
    assert encode(small)[2] == 0
    big = report(stations=[{"mac": f"a4:83:e7:00:00:{i:02x}", "hostname": "x" * 40} for i in range(40)])
    encoded = encode(big)
    assert encoded[2] & 1
    assert decode(encoded) == big
    assert len(encoded) < len(encode(big, compress=False))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", Reason.EMPTY),
        (b"xx\x00\x80", Reason.BAD_FRAME),
        (b"hs", Reason.BAD_FRAME),
        (frame(b"\x80", flags=0x80), Reason.BAD_FRAME),
        (frame(msgpack.packb({"a": [1, 2, 3]})[:-1]), Reason.TRUNCATED),
        (frame(msgpack.packb([1, 2])), Reason.NOT_A_MAP),
        (frame(msgpack.packb({1: 2})), Reason.NON_STRING_KEY),
        (frame(msgpack.packb({b"k": 2})), Reason.NON_STRING_KEY),
        (frame(b"\x82\xa1a\x01\xa1a\x02"), Reason.DUPLICATE_KEY),
        (frame(b"\x81\xa1a\xa2\xff\xfe"), Reason.BAD_UTF8),
        (frame(msgpack.packb({"a": 1}) + b"\x01"), Reason.MALFORMED),
        (frame(b"\xc1"), Reason.MALFORMED),
        (frame(b"not zlib", flags=1), Reason.BAD_COMPRESSION),
        (frame(zlib.compress(msgpack.packb({"a": "b" * 100}))[:-4], flags=1), Reason.TRUNCATED),
        (b"hs\x00" + b"\x00" * MAX_FRAME, Reason.OVERSIZE),
    ],
)
def test_malformed_payloads_fail_with_their_reason(payload: bytes, reason: Reason) -> None:
    assert reason_of(payload) == reason


def test_zip_bomb_stops_at_the_body_cap() -> None:
    bomb = zlib.compress(msgpack.packb({"a": b"\0" * (MAX_BODY * 4)}), 9)
    assert len(bomb) < MAX_FRAME
    assert reason_of(frame(bomb, flags=1)) == Reason.OVERSIZE


@pytest.mark.parametrize("library", ["zlib", "isal"])
def test_either_inflater_names_the_same_reasons(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector inflates with ISA-L, a gateway with zlib: hostile streams fail alike."""
    from protocol import codec

    inflater = zlib if library == "zlib" else pytest.importorskip("isal.isal_zlib")
    monkeypatch.setattr(codec, "_inflater", inflater)
    monkeypatch.setattr(codec, "_INFLATE_ERRORS", (zlib.error, inflater.error))
    good = msgpack.packb({"a": "b" * 100})
    assert codec.decode(frame(zlib.compress(good), flags=1)) == {"a": "b" * 100}
    assert reason_of(frame(b"not zlib", flags=1)) == Reason.BAD_COMPRESSION
    assert reason_of(frame(zlib.compress(good)[:-4], flags=1)) == Reason.TRUNCATED
    assert reason_of(frame(zlib.compress(good) + b"junk", flags=1)) == Reason.MALFORMED
    bomb = zlib.compress(msgpack.packb({"a": b"\0" * (MAX_BODY * 4)}), 9)
    assert reason_of(frame(bomb, flags=1)) == Reason.OVERSIZE


def test_deep_nesting_is_refused() -> None:
    nested: object = {"x": 1}
    for _ in range(MAX_DEPTH + 2):
        nested = {"n": nested}
    assert reason_of(frame(msgpack.packb(nested))) == Reason.TOO_DEEP
    assert reason_of(frame(b"\x91" * 5000 + b"\x01")) in (Reason.TOO_DEEP, Reason.NOT_A_MAP)


def test_open_envelope_checks_topic_identity_kind_and_version() -> None:
    good = encode(report())
    assert open_envelope(good, topic_for(GW, "report"))["seq"] == 1
    with pytest.raises(ProtocolError) as info:
        open_envelope(good, topic_for("gw-other", "report"))
    assert info.value.reason == Reason.IDENTITY_MISMATCH
    with pytest.raises(ProtocolError) as info:
        open_envelope(good, topic_for(GW, "event"))
    assert info.value.reason == Reason.KIND_MISMATCH
    with pytest.raises(ProtocolError) as info:
        open_envelope(encode({**report(), "v": "2.0"}), topic_for(GW, "report"))
    assert info.value.reason == Reason.UNKNOWN_MAJOR
    assert open_envelope(encode({**report(), "v": "1.7"}), topic_for(GW, "report"))["v"] == "1.7"
    with pytest.raises(ProtocolError) as info:
        open_envelope(encode({**report(), "v": 1}), topic_for(GW, "report"))
    assert info.value.reason == Reason.BAD_VERSION


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=8), st.booleans())
def test_any_plain_map_round_trips(message: dict[str, object], compress: bool) -> None:
    assert decode(encode(message, compress=compress)) == message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_protocol_error(data: bytes) -> None:
    for payload in (data, frame(data), frame(data, flags=1)):
        with contextlib.suppress(ProtocolError):
            decode(payload)
