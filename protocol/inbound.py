"""The server's one way in: what a frame received on a topic is, accepted or refused.

:func:`accept` is the only inbound entry the collector calls. It owns the triage tiers,
cheapest first, and keeps them private:

1. **C + closed** (what every agent of this version sends): one pass of C over the msgpack
   proves no map repeats a key (``protocol/_keys.c``), and one typed decode into the closed
   msgspec mirror of the models proves the rest (valid, known fields only, so string keys
   and bounded depth too). Nothing else is built.
2. **canonical + closed**, where the C extension is not built: decoding and re-encoding to
   the same bytes proves no repeated key, at ~10x the cost of the C pass.
3. **the full way** for anything else (a newer minor's fields, a command, a bad payload):
   the codec's key and depth walk, then the models' checks, which name the reason.

A valid message that leaves tier 1 is logged once per state change (see :class:`_FastPathWatch`):
a field added to :mod:`protocol.shapes` and not :mod:`protocol.models` silently tripled the
cost of every report before this line existed. Server side only (msgspec, pydantic).
"""

from __future__ import annotations

import logging
import time
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from protocol.codec import MAX_DEPTH, MAX_FRAME, check_envelope, decode_body, unframe
from protocol.errors import ProtocolError, Reason
from protocol.models import Ack, Command, EventBatch, Report, Status, check, closed_message
from protocol.topics import SPOOLED_KINDS, Topic, parse_topic

try:  # built by setup.py; `make test` fails without it (tests/protocol/test_keys.py)
    from protocol._keys import unique_keys as _unique_keys
except ImportError:  # pragma: no cover - a collector installed without a compiler
    _unique_keys = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: The spool key ``(gateway_id, epoch, seq)``.
Key = tuple[str, int, int]
_SPOOLED: Final = frozenset(k.value for k in SPOOLED_KINDS)


# Made once per message on the event loop: plain slotted dataclasses (read-only by contract;
# a frozen one's __init__ costs ~5x more).
@dataclass(slots=True)
class Accepted:
    """A valid message. Reports and event batches (:attr:`spooled`) carry their key and window."""

    kind: str
    gateway_id: str
    sent_at: int
    #: The unframed (inflated) msgpack of the whole envelope.
    packed: bytes
    #: The envelope's ``body``, when a tier decoded it (``None``: decode ``packed`` if needed).
    body: dict[str, Any] | None = None
    #: The spool position and window of a report or event batch (0 for other kinds).
    epoch: int = 0
    seq: int = 0
    window_start: int = 0
    window_end: int = 0
    uptime_s: int = 0
    #: A status message's ``state`` and ``agent_version`` ("" and None for other kinds).
    state: str = ""
    agent_version: str | None = None

    @property
    def spooled(self) -> bool:
        """A report or event batch: stored under its key and acknowledged."""
        return self.kind in _SPOOLED

    @property
    def key(self) -> Key:
        """The spool key ``(gateway_id, epoch, seq)`` (meaningful when :attr:`spooled`)."""
        return (self.gateway_id, self.epoch, self.seq)


@dataclass(slots=True)
class Refused:
    """A message that breaks the contract, and why (``reason`` is a :class:`Reason` value)."""

    reason: str
    detail: str
    #: The gateway the topic names (``None`` when the topic itself is off the layout).
    gateway_id: str | None
    #: The sender's own spool key, when its envelope was readable on its own topic: the record
    #: is invalid for good, and acknowledging it only tells the sender to stop resending it.
    own_key: Key | None = None


def accept(frame: bytes, topic: str, wire_size: int = -1) -> Accepted | Refused:
    """Decode and validate one frame received on ``topic``; never raises.

    ``wire_size`` is the size on the wire when ``frame`` is only the head of a larger payload.
    The gateway id comes from the topic (which the broker ties to the sender's credentials):
    a payload naming another is refused as ``identity_mismatch``.
    """
    where: Topic | None = None
    try:
        where = parse_topic(topic)
        if wire_size > MAX_FRAME:
            raise ProtocolError(Reason.OVERSIZE, f"payload of {wire_size} bytes exceeds {MAX_FRAME}")
        body = unframe(frame)
        if _unique_keys is not None:
            if _unique_keys(body, MAX_DEPTH):
                found = closed_message(body)
                if found is not None:  # tier 1
                    if _FAST_PATH.off:
                        _FAST_PATH.fast()
                    return _from_struct(found, body, where)
        elif _canonical(body):
            found = closed_message(body)
            if found is not None:  # tier 2
                accepted = _from_struct(found, body, where)
                _FAST_PATH.left(where.gateway_id, accepted.kind, None)
                return accepted
        raw = decode_body(body)  # tier 3: names the reason
        check_envelope(raw, where)
    except ProtocolError as exc:
        return Refused(exc.reason.value, exc.detail, where.gateway_id if where else None)
    except Exception as exc:  # a decoder bug must cost one message, not the collector
        return Refused(Reason.INTERNAL.value, _bug(exc), where.gateway_id if where else None)
    try:
        kind = check(raw)
    except ProtocolError as exc:
        return Refused(exc.reason.value, exc.detail, where.gateway_id, _own_key(where, raw))
    except Exception as exc:
        return Refused(Reason.INTERNAL.value, _bug(exc), where.gateway_id, _own_key(where, raw))
    _FAST_PATH.left(where.gateway_id, kind, raw)
    # validated: the dict is what the models describe (and keeps fields a newer minor adds)
    return _from_dict(raw, kind, body)


def _bug(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _canonical(body: bytes) -> bool:
    # Decoding again to the same bytes proves no map repeated a key (a repeat encodes
    # shorter); anything else (an error, float32 floats, ...) is left to the full way.
    try:
        obj = _DECODE(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return False
    return type(obj) is dict and _ENCODE(obj) == body


def _refuse_ext(code: int, data: memoryview) -> Any:
    raise ValueError("extension types are not part of the protocol")


_DECODE = msgspec.msgpack.Decoder(ext_hook=_refuse_ext).decode
_ENCODE = msgspec.msgpack.Encoder().encode


def _from_struct(found: Any, packed: bytes, where: Topic) -> Accepted:
    kind = str(type(found).__struct_config__.tag)
    check_envelope({"v": found.v, "kind": kind, "gateway_id": found.gateway_id}, where)
    if kind in _SPOOLED:
        return Accepted(
            kind,
            found.gateway_id,
            found.sent_at,
            packed,
            None,  # not built: decoded from packed only if someone reads it
            found.epoch,
            found.seq,
            found.window_start,
            found.window_end,
            found.uptime_s,
        )
    if kind == "status":
        return Accepted(kind, found.gateway_id, found.sent_at, packed, state=found.state,
                        agent_version=found.agent_version)  # fmt: skip
    return Accepted(kind, found.gateway_id, found.sent_at, packed)


def _from_dict(raw: dict[str, Any], kind: str, packed: bytes) -> Accepted:
    if kind in _SPOOLED:
        return Accepted(
            kind,
            raw["gateway_id"],
            raw["sent_at"],
            packed,
            raw["body"],
            raw["epoch"],
            raw["seq"],
            raw["window_start"],
            raw["window_end"],
            raw["uptime_s"],
        )
    return Accepted(kind, raw["gateway_id"], raw["sent_at"], packed,
                    state=str(raw.get("state", "")), agent_version=raw.get("agent_version"))  # fmt: skip


def _int(value: object, below: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < below:
        return None
    return value


def _own_key(where: Topic, raw: dict[str, Any]) -> Key | None:
    # check_envelope has checked that the payload names the topic's gateway and kind, and the
    # broker's ACL ties the topic to the sender: acknowledging this key can only tell the
    # sender itself to stop resending its own record.
    epoch, seq = _int(raw.get("epoch"), 2**32), _int(raw.get("seq"), 2**64)
    if where.kind not in SPOOLED_KINDS or epoch is None or seq is None:
        return None
    return (where.gateway_id, epoch, seq)


class _FastPathWatch:
    """Logs when valid messages start, and stop, leaving tier 1: state changes, rate-limited.

    A valid message off tier 1 costs ~3x (a field the agent sends that the closed models do
    not name, e.g. one added to ``shapes`` and not ``models``; or the C extension missing).
    One warning when it starts, naming the gateway, kind and the fields the models do not
    know; then at most one line per ``every_s`` with the count while it goes on; one line
    when the fast path holds again for ``every_s``.
    """

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.off = False
        self.count = 0
        self._since = 0.0
        self._last_off = 0.0
        self._logged = 0.0

    def left(self, gateway_id: str, kind: str, raw: dict[str, Any] | None) -> None:
        now = time.monotonic()
        self.count += 1
        self._last_off = now
        if not self.off:
            self.off, self._since, self._logged = True, now, now
            log.warning(
                "valid %s from %s left the fast path (%s): ~3x the triage cost per message",
                kind,
                gateway_id,
                _why_slow(raw),
            )
        elif now - self._logged >= self.every_s:
            self._logged = now
            log.warning("%d valid messages off the fast path so far (latest: %s from %s)", self.count, kind,
                        gateway_id)  # fmt: skip

    def fast(self) -> None:
        """Called by a tier-1 acceptance: is the slow spell over?"""
        if self.off and time.monotonic() - self._last_off >= self.every_s:
            self.off = False
            log.info("valid messages are back on the fast path (%d left it)", self.count)


def _why_slow(raw: dict[str, Any] | None) -> str:
    if _unique_keys is None or raw is None:
        return "the C extension protocol._keys is not built"
    unknown = _unknown_fields(raw)
    return f"fields the models do not declare: {', '.join(unknown[:8])}" if unknown else "no closed decode"


#: Field trees of the models: name -> subtree (``None``: a leaf; ``{"*": t}``: free keys).
_Tree = dict[str, Any]
_TREES: dict[str, _Tree] = {}


def _tree_of(tp: Any) -> _Tree | None:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        return _tree_of(args[0])
    if isinstance(tp, type) and hasattr(tp, "model_fields"):  # a wire model (no pydantic import here)
        return {name: _tree_of(info.annotation) for name, info in tp.model_fields.items()}
    if origin in (typing.Union, types.UnionType, list):
        return next((t for t in map(_tree_of, args) if t is not None), None)
    if origin is dict:
        return {"*": _tree_of(args[1])}
    return None


def _known_fields(kind: str) -> _Tree | None:
    if not _TREES:
        for model in (Report, EventBatch, Status, Ack, Command):
            tree = _tree_of(model)
            assert tree is not None
            _TREES[typing.get_args(model.model_fields["kind"].annotation)[0]] = tree
    return _TREES.get(kind)


def _unknown_fields(raw: dict[str, Any]) -> list[str]:
    """Paths of the fields in ``raw`` that the models do not declare (at most the first 64
    items of each list are looked at: this runs once per slow spell, not per message)."""
    out: list[str] = []

    def walk(node: Any, known: dict[str, Any] | None, path: str) -> None:
        if known is None:
            return
        if isinstance(node, list):
            for item in node[:64]:
                walk(item, known, path)
            return
        if not isinstance(node, dict):
            return
        for name, value in node.items():
            where = f"{path}.{name}" if path else str(name)
            if "*" in known:
                walk(value, known["*"], where)
                continue
            if name not in known:
                if where not in out:
                    out.append(where)
                continue
            walk(value, known[name], where)

    walk(raw, _known_fields(str(raw.get("kind"))), "")
    return out


_FAST_PATH = _FastPathWatch()
