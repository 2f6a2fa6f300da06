"""Hostile and broken payloads, each with the quarantine reason(s) the collector must give it.

Every generator builds bytes by hand where msgpack would refuse to (lying lengths,
duplicate keys, bad UTF-8), so the collector sees exactly what an attacker could send.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from protocol.codec import encode
from protocol.topics import topic_for
from tests.protocol.messages import event, report

Case = tuple[str, bytes, frozenset[str]]  # topic, payload, acceptable reasons
_HS = b"hs\x00"


def _pack(obj: Any) -> bytes:
    return bytes(msgpack.packb(obj, use_bin_type=True))


def _str(text: bytes) -> bytes:
    return b"\xd9" + bytes([len(text)]) + text  # str8 with raw (possibly invalid UTF-8) bytes


def _map(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"\xde" + struct.pack(">H", len(pairs)) + b"".join(k + v for k, v in pairs)


def _report_pairs(gid: str, seq: int) -> list[tuple[bytes, bytes]]:
    return [(_pack(k), _pack(v)) for k, v in report(gid, seq=seq).items()]


def _truncated(gid: str, rng: random.Random) -> bytes:
    frame = encode(report(gid, seq=rng.randint(1, 999)), compress=False)
    return frame[: rng.randint(4, len(frame) - 1)]


def _deep(gid: str, rng: random.Random) -> bytes:
    depth = rng.choice([20, 100, 5000])
    body = b"\x91" * depth + b"\x01"  # [[[...[1]...]]]
    return _HS + _map([(_pack("v"), _pack("1.0")), (_pack("body"), body)])


def _lying_length(gid: str, rng: random.Random) -> bytes:
    claim = rng.choice(
        [b"\xdb\x7f\xff\xff\xff", b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xc6\x40\0\0\0"]
    )
    return _HS + _map([(_pack("v"), _pack("1.0")), (_pack("body"), claim + b"x" * rng.randint(0, 64))])


def _nan(gid: str, rng: random.Random) -> bytes:
    value = rng.choice([float("nan"), float("inf"), float("-inf")])
    return encode(report(gid, seq=rng.randint(1, 999), system={"cpu_usage_pct": value}))


def _huge_int(gid: str, rng: random.Random) -> bytes:
    field = rng.choice(["epoch", "window_end", "uptime_s", "sent_at"])
    return encode({**report(gid, seq=rng.randint(1, 999)), field: 2**64 - 1})


def _bad_utf8(gid: str, rng: random.Random) -> bytes:
    pairs = _report_pairs(gid, rng.randint(1, 999))
    pairs.append((_pack("note"), _str(b"caf\xc3" + bytes([rng.choice([0xFF, 0xFE, 0x28])]))))
    return _HS + _map(pairs)


def _duplicate_key(gid: str, rng: random.Random) -> bytes:
    pairs = _report_pairs(gid, 1)
    pairs.append((_pack("gateway_id"), _pack(gid)))  # the same key twice
    return _HS + _map(pairs)


def _wrong_version(gid: str, rng: random.Random) -> bytes:
    return encode({**report(gid, seq=rng.randint(1, 999)), "v": rng.choice(["2.0", "9.1", "0.9"])})


def _bad_version(gid: str, rng: random.Random) -> bytes:
    return encode({**report(gid, seq=rng.randint(1, 999)), "v": rng.choice([1, "one", None, "1", "1.0.0"])})


def _impersonation(gid: str, rng: random.Random) -> bytes:
    return encode(report(f"ok-{rng.randint(0, 49):03d}", seq=rng.randint(1, 20)))  # names a real gateway


def _wrong_kind(gid: str, rng: random.Random) -> bytes:
    return encode(event(gid, seq=rng.randint(1, 999)))  # an event on the report topic


def _not_a_map(gid: str, rng: random.Random) -> bytes:
    return _HS + _pack(rng.choice([[1, 2, 3], "report", 42, None]))


def _non_string_key(gid: str, rng: random.Random) -> bytes:
    return _HS + _map([(_pack(1), _pack("x")), (_pack("v"), _pack("1.0"))])


_BOMB = b"hs\x01" + zlib.compress(b"\0" * (8 * 1024 * 1024), 9)  # 8 KiB that inflate to 8 MiB


def _zip_bomb(gid: str, rng: random.Random) -> bytes:
    return _BOMB


def _bad_zlib(gid: str, rng: random.Random) -> bytes:
    return b"hs\x01" + bytes(rng.randrange(256) for _ in range(64))


def _bad_frame(gid: str, rng: random.Random) -> bytes:
    return rng.choice([b"HS\x00\x80", b"hs\x80\x80", b'{"v": "1.0"}', b"hs"])


def _trailing(gid: str, rng: random.Random) -> bytes:
    return encode(report(gid, seq=1), compress=False) + b"\xc0"


def _empty(gid: str, rng: random.Random) -> bytes:
    return b""


def _invalid_body(gid: str, rng: random.Random) -> bytes:
    bad = rng.choice(
        [{"stations": [{"mac": "not-a-mac"}] * 3}, {"interfaces": "wan"}, {"stations": [{}] * 600}]
    )
    return encode(report(gid, seq=rng.randint(1, 999), **bad))


#: name -> (generator, acceptable reasons)
CATEGORIES: dict[str, tuple[Callable[[str, random.Random], bytes], frozenset[str]]] = {
    "truncated": (_truncated, frozenset({"truncated"})),
    "deep_nesting": (_deep, frozenset({"too_deep"})),
    "lying_length": (_lying_length, frozenset({"truncated"})),
    "nan_inf": (_nan, frozenset({"invalid"})),
    "huge_int": (_huge_int, frozenset({"invalid"})),
    "bad_utf8": (_bad_utf8, frozenset({"bad_utf8"})),
    "duplicate_key": (_duplicate_key, frozenset({"duplicate_key"})),
    "wrong_major": (_wrong_version, frozenset({"unknown_major"})),
    "bad_version": (_bad_version, frozenset({"bad_version"})),
    "identity_mismatch": (_impersonation, frozenset({"identity_mismatch"})),
    "kind_mismatch": (_wrong_kind, frozenset({"kind_mismatch"})),
    "not_a_map": (_not_a_map, frozenset({"not_a_map"})),
    "non_string_key": (_non_string_key, frozenset({"non_string_key"})),
    "zip_bomb": (_zip_bomb, frozenset({"oversize"})),
    "bad_compression": (_bad_zlib, frozenset({"bad_compression"})),
    "bad_frame": (_bad_frame, frozenset({"bad_frame"})),
    "trailing_bytes": (_trailing, frozenset({"malformed"})),
    "empty": (_empty, frozenset({"empty"})),
    "invalid_body": (_invalid_body, frozenset({"invalid"})),
}


def hostile_cases(per_category: int, seed: int = 1) -> Iterator[tuple[str, Case]]:
    """``per_category`` cases of each kind, each on a topic of its own (``h-<n>``)."""
    rng = random.Random(seed)
    n = 0
    for name, (make, reasons) in CATEGORIES.items():
        for _ in range(per_category):
            gid = f"h-{n:05d}"
            n += 1
            yield name, (topic_for(gid, "report"), make(gid, rng), reasons)
    for _ in range(per_category // 10 or 1):  # a topic off the layout, on the subscription
        yield "bad_topic", (f"homescope/v1/h {n:05d}!/report", encode(report("x")), frozenset({"bad_topic"}))
        n += 1


def blob_case(index: int, size: int = 10 * 1024 * 1024) -> Case:
    """A payload far past any valid frame (the broker in production refuses it first)."""
    return (
        topic_for(f"blob-{index:03d}", "report"),
        b"hs\x00" + random.randbytes(size),
        frozenset({"oversize"}),
    )
