"""Frame and unframe envelopes: msgpack, optional zlib, a preset dictionary, and hard limits.

A frame is ``b"hs"`` + one flags byte + [one dictionary id byte] + the msgpack body.
Flag bit 0: the body is zlib-compressed; bit 1 (with bit 0): compressed with the preset
dictionary the next byte names (:mod:`protocol.dictionaries`, append-only); bit 2: the body
is a compact report (:mod:`protocol.compact`), which :func:`unframe` expands, so every
reader after it sees the ordinary form. Every check that can be made before or while
decoding is made here, so that a hostile payload costs at most ``MAX_FRAME`` bytes read and
``MAX_BODY`` bytes inflated (or expanded), and fails with a :class:`ProtocolError` naming
its reason.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import Mapping
from typing import Any, Final

import msgpack

try:  # the collector's fast path; gateways decode the few small frames they get without it
    import msgspec
except ImportError:  # pragma: no cover - exercised on the device
    msgspec = None  # type: ignore[assignment]

from protocol import compact
from protocol.dictionaries import dictionary
from protocol.errors import ProtocolError, Reason
from protocol.topics import Kind, Topic, parse_topic
from protocol.version import PROTOCOL_VERSION, check_version

try:  # the collector's C pass over msgpack (protocol/_keys.c); gateways never expand a report
    from protocol._keys import unique_keys as _unique_keys
except ImportError:  # pragma: no cover - exercised on the device
    _unique_keys = None  # type: ignore[assignment]

_inflater: types.ModuleType = zlib
try:  # ISA-L inflates the same zlib streams ~1.6x faster (the collector inflates every report)
    from isal import isal_zlib

    _inflater = isal_zlib
except ImportError:  # pragma: no cover - exercised on the device
    pass
#: What a corrupt stream raises, whichever library inflates it.
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflater.error)

MAGIC: Final = b"hs"
FLAG_ZLIB: Final = 0x01
#: With FLAG_ZLIB: the byte after the flags names the preset dictionary (protocol 1.2).
FLAG_DICTIONARY: Final = 0x02
#: The body is a compact report (protocol/compact.py; protocol 1.2).
FLAG_COMPACT: Final = 0x04
_KNOWN_FLAGS: Final = FLAG_ZLIB | FLAG_DICTIONARY | FLAG_COMPACT
HEADER_LEN: Final = 3
#: Cap on the payload as it arrives, checked before anything is decoded.
MAX_FRAME: Final = 256 * 1024
#: Cap on the msgpack body after decompression (a zip bomb stops here).
MAX_BODY: Final = 1024 * 1024
#: Deepest nesting any v1 message needs is 5; anything far deeper is hostile.
MAX_DEPTH: Final = 16
#: Bodies above this are compressed by ``encode(compress=None)``.
COMPRESS_ABOVE: Final = 1024


def encode(
    message: Mapping[str, Any],
    *,
    compress: bool | None = None,
    compact: bool = False,
    dictionary_id: int | None = None,
) -> bytes:
    """Serialise one envelope into a frame; compress if asked, or if large when ``None``.

    ``compact``: ``message`` is a report whose body :func:`protocol.compact.compact_body`
    made (the frame says so). ``dictionary_id``: compress (always) with that preset dictionary.
    """
    body = msgpack.packb(message, use_bin_type=True)
    if compress is None:
        compress = len(body) > COMPRESS_ABOVE or dictionary_id is not None
    flags = FLAG_COMPACT if compact else 0
    head = b""
    if dictionary_id is not None:
        # level 9: a report is a few KB, and the gateway compresses one per window
        deflater = zlib.compressobj(
            9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary(dictionary_id)
        )
        body = deflater.compress(body) + deflater.flush()
        flags |= FLAG_ZLIB | FLAG_DICTIONARY
        head = bytes([dictionary_id])
    elif compress:
        body = zlib.compress(body, 6)
        flags |= FLAG_ZLIB
    frame = MAGIC + bytes([flags]) + head + body
    if len(frame) > MAX_FRAME:
        raise ProtocolError(Reason.OVERSIZE, f"frame of {len(frame)} bytes exceeds {MAX_FRAME}")
    return frame


def _pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    # msgpack silently keeps the last of duplicate keys; a lying sender could hide a
    # field from one reader and show it to another, so duplicates are refused.
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ProtocolError(Reason.DUPLICATE_KEY, "a map repeats a key")
    return out


def _check(node: dict[Any, Any] | list[Any], depth: int = 1) -> None:
    # One recursive pass for string keys and depth; recursion stops at MAX_DEPTH, so
    # the Python stack is never at risk. (Measured ~2x faster than a generic walk.)
    if depth > MAX_DEPTH:
        raise ProtocolError(Reason.TOO_DEEP, f"nesting deeper than {MAX_DEPTH}")
    if type(node) is dict:
        for key, value in node.items():
            if type(key) is not str:
                raise ProtocolError(Reason.NON_STRING_KEY, f"map key of type {type(key).__name__}")
            if type(value) is dict or type(value) is list:
                _check(value, depth + 1)
    else:
        for value in node:
            if type(value) is dict or type(value) is list:
                _check(value, depth + 1)


def _inflate(data: bytes, zdict: bytes = b"") -> bytes:
    inflater = _inflater.decompressobj(zdict=zdict) if zdict else _inflater.decompressobj()
    try:
        body: bytes = inflater.decompress(data, MAX_BODY + 1)
    except _INFLATE_ERRORS as exc:
        raise ProtocolError(Reason.BAD_COMPRESSION, str(exc)) from exc
    if len(body) > MAX_BODY or inflater.unconsumed_tail:
        raise ProtocolError(Reason.OVERSIZE, f"inflates past {MAX_BODY} bytes")
    if not inflater.eof:
        raise ProtocolError(Reason.TRUNCATED, "compressed body ends early")
    if inflater.unused_data:
        raise ProtocolError(Reason.MALFORMED, f"{len(inflater.unused_data)} bytes after the compressed body")
    return body


def _refuse_ext(code: int, data: memoryview) -> Any:
    raise ValueError("extension types are not part of the protocol")


if msgspec is not None:
    _fast_decode = msgspec.msgpack.Decoder(ext_hook=_refuse_ext).decode
    _fast_encode = msgspec.msgpack.Encoder().encode


def _fast(body: bytes) -> dict[str, Any] | None:
    """The body when it is canonical msgpack (as every agent writes it), else ``None``.

    Decoding it again to the same bytes proves no map repeated a key (a repeat would
    encode shorter), so the slow decoder's per-map hook is not needed; any other input
    (an error, floats written as float32, ...) is left to the slow path, which names the
    reason. Two to three times faster than the hooked decoder on a 4 KB report.
    """
    if msgspec is None:
        return None
    try:
        obj = _fast_decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    if type(obj) is not dict or _fast_encode(obj) != body:
        return None
    return obj


def unframe(frame: bytes) -> bytes:
    """The msgpack body of a frame: size, header and flags checked, inflated if compressed."""
    if not frame:
        raise ProtocolError(Reason.EMPTY, "empty payload")
    if len(frame) > MAX_FRAME:
        raise ProtocolError(Reason.OVERSIZE, f"payload of {len(frame)} bytes exceeds {MAX_FRAME}")
    if len(frame) < HEADER_LEN or frame[:2] != MAGIC:
        raise ProtocolError(Reason.BAD_FRAME, "payload does not start with the homescope frame header")
    flags = frame[2]
    if flags & ~_KNOWN_FLAGS:
        raise ProtocolError(Reason.BAD_FRAME, f"unknown frame flags 0x{flags:02x}")
    if not flags & FLAG_DICTIONARY:
        body = frame[HEADER_LEN:]
        body = _inflate(body) if flags & FLAG_ZLIB else body
    elif not flags & FLAG_ZLIB:
        raise ProtocolError(Reason.BAD_FRAME, "a preset dictionary flag without the zlib flag")
    elif len(frame) == HEADER_LEN:
        raise ProtocolError(Reason.TRUNCATED, "the frame ends before its dictionary id")
    else:
        body = _inflate(frame[HEADER_LEN + 1 :], dictionary(frame[HEADER_LEN]))
    return _expanded(body) if flags & FLAG_COMPACT else body


def _expanded(body: bytes) -> bytes:
    """A compact report's body in the ordinary form (every check of :func:`decode` made on it)."""
    message: dict[str, Any] | None = None
    if _unique_keys is not None and msgspec is not None and _unique_keys(body, MAX_DEPTH):
        # the C pass proved string keys, no repeats, bounded depth: the codec's walk is not needed
        try:
            found = _fast_decode(body)
        except (msgspec.DecodeError, ValueError):
            found = None  # the full way names the reason
        message = found if type(found) is dict else None
    message = compact.expand(message if message is not None else decode_body(body))
    packed: bytes = (
        _fast_encode(message) if msgspec is not None else msgpack.packb(message, use_bin_type=True)
    )
    if len(packed) > MAX_BODY:
        raise ProtocolError(Reason.OVERSIZE, f"expands past {MAX_BODY} bytes")
    return packed


def decode(frame: bytes) -> dict[str, Any]:
    """Unframe and decode one payload into a plain dict with string keys.

    Checks, in order: size, frame header, decompression, msgpack well-formedness,
    string keys without duplicates, nesting depth, and that the top is a map.
    """
    return decode_body(unframe(frame))


def decode_body(body: bytes) -> dict[str, Any]:
    """Decode an unframed msgpack body with every check :func:`decode` names."""
    fast = _fast(body)
    if fast is not None:
        _check(fast)
        return fast
    try:
        obj = msgpack.unpackb(
            body,
            raw=False,
            strict_map_key=True,
            object_pairs_hook=_pairs,
            max_ext_len=0,
        )
    except ProtocolError:
        raise
    except UnicodeDecodeError as exc:
        raise ProtocolError(Reason.BAD_UTF8, str(exc)[:200]) from exc
    except msgpack.ExtraData as exc:
        raise ProtocolError(Reason.MALFORMED, "trailing bytes after the message") from exc
    except msgpack.StackError as exc:
        raise ProtocolError(Reason.TOO_DEEP, "nesting deeper than the decoder's stack") from exc
    except ValueError as exc:
        text = str(exc)
        # "exceeds max_*_len": a length prefix claims more than the payload can hold
        if "incomplete" in text or "exceeds max_" in text:
            raise ProtocolError(Reason.TRUNCATED, text[:200]) from exc
        if "key" in text:
            raise ProtocolError(Reason.NON_STRING_KEY, text[:200]) from exc
        raise ProtocolError(Reason.MALFORMED, text[:200]) from exc
    except (msgpack.FormatError, TypeError, OverflowError) as exc:
        raise ProtocolError(Reason.MALFORMED, str(exc)[:200] or type(exc).__name__) from exc
    if not isinstance(obj, dict):
        raise ProtocolError(Reason.NOT_A_MAP, f"top level is {type(obj).__name__}, not a map")
    _check(obj)
    return obj


def decode_stored(frame: bytes) -> dict[str, Any]:
    """Decode a frame that :func:`decode` already accepted once (a stored payload).

    Only :func:`unframe`'s checks, which cost nothing, are repeated; the key, depth and duplicate checks
    were made when it arrived. Folding a backlog decodes every report a second time, and
    this halves that. Anything that does not decode still raises :class:`ProtocolError`.
    """
    return decode_unframed(unframe(frame))


def decode_unframed(body: bytes) -> dict[str, Any]:
    """:func:`decode_stored` of a body already unframed (and inflated) by :func:`unframe`."""
    try:
        obj = _fast_decode(body) if msgspec is not None else msgpack.unpackb(body, raw=False)
    except Exception as exc:
        raise ProtocolError(Reason.MALFORMED, f"{type(exc).__name__}: {exc}"[:200]) from exc
    if type(obj) is not dict:
        raise ProtocolError(Reason.NOT_A_MAP, f"top level is {type(obj).__name__}, not a map")
    return obj


def open_envelope(frame: bytes, topic: str) -> dict[str, Any]:
    """Decode a frame received on ``topic`` and check the envelope against the topic.

    The gateway id and kind come from the topic (which the broker's ACL ties to the
    sender's credentials); a payload claiming anything else is refused.
    """
    return check_envelope(decode(frame), parse_topic(topic))


def check_envelope(message: dict[str, Any], where: Topic) -> dict[str, Any]:
    """Check a decoded envelope's version, kind and gateway against its topic; return it."""
    check_version(message.get("v"))
    if message.get("kind") != where.kind.value:
        raise ProtocolError(
            Reason.KIND_MISMATCH, f"payload kind {str(message.get('kind'))[:20]!r} on a {where.kind} topic"
        )
    if message.get("gateway_id") != where.gateway_id:
        raise ProtocolError(
            Reason.IDENTITY_MISMATCH,
            f"payload names gateway {str(message.get('gateway_id'))[:70]!r} on {where.gateway_id}'s topic",
        )
    return message


def envelope(kind: Kind, gateway_id: str, **fields: Any) -> dict[str, Any]:
    """The common envelope head for ``kind``; the caller adds the kind's own fields."""
    return {"v": PROTOCOL_VERSION, "kind": kind.value, "gateway_id": gateway_id, **fields}
