"""Pydantic v2 models of the v1 messages: the server side's validation of ``shapes``.

Only the collector, the emulator and tests import this module; the agent builds the
plain dicts of :mod:`protocol.shapes`. Unknown fields are ignored (a newer minor version
may add them); known fields are checked for type (strictly: no "5" or true for an int),
range and length, and NaN/inf are refused everywhere.

:func:`check` validates the same rules without building models, through a msgspec mirror
generated from these classes (about four times faster; the collector's hot path). The
models stay the one definition: the mirror is derived, and tests hold the two to the same
verdicts.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from typing import Annotated, Any, Literal

import annotated_types as at
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

try:  # the fast mirror of these models (collector hot path); pydantic alone works too
    import msgspec
except ImportError:  # pragma: no cover
    msgspec = None  # type: ignore[assignment]

from protocol.errors import ProtocolError, Reason

U64 = Annotated[int, Field(ge=0, lt=2**64)]
U32 = Annotated[int, Field(ge=0, lt=2**32)]
Pct = Annotated[float, Field(ge=0, le=100)]
Dbm = Annotated[int, Field(ge=-150, le=50)]
Seconds = Annotated[int, Field(ge=0, lt=2**40)]
EpochS = Annotated[int, Field(ge=0, lt=2**40)]
Short = Annotated[str, Field(max_length=128)]
#: DHCP option 60 as the agent sends it (printable ASCII, at most 64 characters).
VendorClass = Annotated[str, Field(pattern=r"^[ -~]{1,64}$")]
#: DHCP option 55 as decimal option codes, comma-separated, in the client's order (at most 64).
ParameterList = Annotated[
    str,
    Field(pattern=r"^(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(?:,(?:25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){0,63}$"),
]
MAC_PATTERN = r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$"
Mac = Annotated[str, Field(pattern=MAC_PATTERN)]
GatewayId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class _Part(BaseModel):
    # strict: a gateway sends real ints and bools; "5", 5.0 or true are not an int here
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True, strict=True)


class SamplerStatus(_Part):
    state: Literal["ok", "unavailable", "error"]
    reason: Annotated[str, Field(max_length=500)] | None = None


class Board(_Part):
    manufacturer: Short | None = None
    model: Short | None = None
    hostname: Short | None = None
    kernel: Short | None = None
    release: Short | None = None
    target: Short | None = None
    serial: Short | None = None


class AgentHealth(_Part):
    version: Short | None = None
    rss_kib: U32 | None = None
    cpu_s: Annotated[float, Field(ge=0)] | None = None
    outbox_records: U32 | None = None
    outbox_bytes: U64 | None = None
    dropped_records: U64 | None = None


class SystemSection(_Part):
    cpu_usage_pct: Pct | None = None
    cpu_count: Annotated[int, Field(ge=1, le=4096)] | None = None
    memory_total_kib: U64 | None = None
    memory_free_kib: U64 | None = None
    memory_available_kib: U64 | None = None
    load1: Annotated[float, Field(ge=0)] | None = None
    load5: Annotated[float, Field(ge=0)] | None = None
    load15: Annotated[float, Field(ge=0)] | None = None
    uptime_s: Seconds | None = None
    temperature_c: Annotated[float, Field(ge=-60, le=200)] | None = None
    board: Board | None = None
    agent: AgentHealth | None = None


class Interface(_Part):
    name: Short
    role: Literal["wan", "lan", "wifi", "other"] = "other"
    up: bool | None = None
    speed_mbps: Annotated[int, Field(ge=-1, le=10**6)] | None = None
    mac: Short | None = None
    bytes_sent: U64 = 0
    bytes_received: U64 = 0
    packets_sent: U64 = 0
    packets_received: U64 = 0
    errors_sent: U64 = 0
    errors_received: U64 = 0
    discard_packets_sent: U64 = 0
    discard_packets_received: U64 = 0


class Wan(_Part):
    interface: Short | None = None
    protocol: Short | None = None
    ipv4: Short | None = None
    gateway: Short | None = None
    dns: Annotated[list[Short], Field(default_factory=list, max_length=16)]
    connected: bool | None = None
    connection_uptime_s: Seconds | None = None
    online_s: Seconds | None = None
    offline_s: Seconds | None = None
    plan_down_kbps: U32 | None = None
    plan_up_kbps: U32 | None = None
    down_utilization_pct: Pct | None = None
    up_utilization_pct: Pct | None = None


class Radio(_Part):
    name: Short
    band: Literal["2.4GHz", "5GHz", "6GHz", "60GHz"] | None = None
    channel: Annotated[int, Field(ge=0, le=255)] | None = None
    width_mhz: Annotated[int, Field(ge=0, le=640)] | None = None
    standard: Short | None = None
    tx_power_dbm: Annotated[int, Field(ge=-20, le=60)] | None = None
    noise_dbm: Dbm | None = None
    channel_active_ms: U64 | None = None
    channel_busy_ms: U64 | None = None
    channel_rx_ms: U64 | None = None
    channel_tx_ms: U64 | None = None
    utilization_pct: Pct | None = None
    idle_pct: Pct | None = None
    interference_pct: Pct | None = None
    bytes_sent: U64 | None = None
    bytes_received: U64 | None = None
    stations: U32 | None = None


class Station(_Part):
    mac: Mac
    hostname: Short | None = None
    ip: Short | None = None
    interface: Short | None = None
    medium: Literal["2.4GHz", "5GHz", "6GHz", "wired", "mesh"] | None = None
    ap: Short | None = None
    randomized_mac: bool | None = None
    vendor: Short | None = None
    signal_dbm: Dbm | None = None
    noise_dbm: Dbm | None = None
    snr_db: Annotated[int, Field(ge=-50, le=150)] | None = None
    tx_rate_kbps: U32 | None = None
    rx_rate_kbps: U32 | None = None
    standard: Short | None = None
    bytes_sent: U64 | None = None
    bytes_received: U64 | None = None
    packets_sent: U64 | None = None
    packets_received: U64 | None = None
    retransmissions: U64 | None = None
    failed: U64 | None = None
    airtime_ms: U64 | None = None
    connected_s: Seconds | None = None
    inactive_ms: U64 | None = None
    delay_ms: Annotated[float, Field(ge=0)] | None = None
    loss_pct: Pct | None = None
    reachable_kbps: U32 | None = None
    dhcp_vc: VendorClass | None = None
    dhcp_prl: ParameterList | None = None


class LinkQuality(_Part):
    target: Short
    address: Short | None = None
    sent: U32 = 0
    received: U32 = 0
    loss_pct: Pct | None = None
    delay_ms: Annotated[float, Field(ge=0)] | None = None
    delay_min_ms: Annotated[float, Field(ge=0)] | None = None
    delay_max_ms: Annotated[float, Field(ge=0)] | None = None
    jitter_ms: Annotated[float, Field(ge=0)] | None = None
    bandwidth_kbps: U32 | None = None


class Neighbour(_Part):
    ssid: Annotated[str, Field(max_length=64)] | None = None
    bssid: Short | None = None
    channel: Annotated[int, Field(ge=0, le=255)] | None = None
    band: Short | None = None
    signal_dbm: Dbm | None = None
    operator: Short | None = None


class AppUsage(_Part):
    station: Short
    category: Short
    bytes_up: U64 = 0
    bytes_down: U64 = 0
    flows: U32 = 0
    active_minutes: Annotated[int, Field(ge=0, le=60 * 24)] = 0
    top_apps: Annotated[list[Short], Field(default_factory=list, max_length=16)]
    #: Bytes by how the DPI named them (sni, dns, port, payload...): optional, protocol 1.1 agents.
    methods: Annotated[dict[Short, U64], Field(default_factory=dict, max_length=32)]


class UnclassifiedDomain(_Part):
    #: A registrable domain: lower-case labels, no address literal (the agent's suffixes.registrable_domain).
    domain: Annotated[str, Field(max_length=253, pattern=r"^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})+$")]
    category: Short
    bytes_up: U64 = 0
    bytes_down: U64 = 0
    active_minutes: Annotated[int, Field(ge=0, le=60 * 24)] = 0


class TopologyLink(_Part):
    node: Short
    parent: Short | None = None
    medium: Literal["wifi", "fiber", "ethernet", "plc"] | None = None
    signal_dbm: Dbm | None = None
    tx_rate_kbps: U32 | None = None
    rx_rate_kbps: U32 | None = None


class StaticView(_Part):
    """A compact report's static view (protocol 1.2, ``protocol/compact.py``): its id, and its
    content when the report carries it. The collector merges it and stores reports without it."""

    id: U64
    stations: Annotated[list[Station], Field(max_length=1024)] | None = None
    interfaces: Annotated[list[Interface], Field(max_length=256)] | None = None
    radios: Annotated[list[Radio], Field(max_length=16)] | None = None
    board: Board | None = None
    wan: Wan | None = None


class ReportBody(_Part):
    samplers: Annotated[dict[Short, SamplerStatus], Field(default_factory=dict, max_length=64)]
    system: SystemSection | None = None
    interfaces: Annotated[list[Interface], Field(default_factory=list, max_length=256)]
    wan: Wan | None = None
    radios: Annotated[list[Radio], Field(default_factory=list, max_length=16)]
    stations: Annotated[list[Station], Field(default_factory=list, max_length=512)]
    quality: Annotated[list[LinkQuality], Field(default_factory=list, max_length=600)]
    neighbours: Annotated[list[Neighbour], Field(default_factory=list, max_length=512)]
    apps: Annotated[list[AppUsage], Field(default_factory=list, max_length=4096)]
    topology: Annotated[list[TopologyLink], Field(default_factory=list, max_length=64)]
    #: Only in a compact report as received (protocol 1.2); never stored.
    view: StaticView | None = None
    #: Domains the DPI could not name (opt-in agents only): optional, protocol 1.3.
    unclassified: Annotated[list[UnclassifiedDomain], Field(default_factory=list, max_length=100)]


class _Envelope(_Part):
    v: Annotated[str, Field(max_length=11)]
    gateway_id: GatewayId
    sent_at: EpochS


class _Spooled(_Envelope):
    epoch: U32
    seq: U64
    window_start: EpochS
    window_end: EpochS
    uptime_s: Seconds


class Report(_Spooled):
    kind: Literal["report"]
    body: ReportBody


class Event(_Part):
    type: Literal["station_join", "station_leave", "flow", "gap", "clock_jump", "sampler"]
    ts: EpochS
    mac: Short | None = None
    interface: Short | None = None
    hostname: Short | None = None
    dropped: U64 | None = None
    first_seq: U64 | None = None
    last_seq: U64 | None = None
    reason: Annotated[str, Field(max_length=500)] | None = None
    delta_s: Annotated[int, Field(ge=-(2**40), le=2**40)] | None = None


class EventBody(_Part):
    events: Annotated[list[Event], Field(max_length=4096)]


class EventBatch(_Spooled):
    kind: Literal["event"]
    body: EventBody


class Status(_Envelope):
    kind: Literal["status"]
    state: Literal["online", "offline"]
    agent_version: Short | None = None
    epoch: U32 | None = None


class Ack(_Envelope):
    kind: Literal["ack"]
    epoch: U32
    ranges: Annotated[list[Annotated[list[U64], Field(min_length=2, max_length=2)]], Field(max_length=4096)]


class Command(_Envelope):
    kind: Literal["cmd"]
    command: Short
    args: Annotated[dict[Short, Any], Field(default_factory=dict)]
    id: Short | None = None
    expires_at: int | None = None
    sig: Short | None = None


class Reply(_Envelope):
    """A gateway's answer to a command (``protocol/commands.py``), not spooled."""

    kind: Literal["reply"]
    id: Short
    ok: bool
    result: dict[Short, Any] | None = None
    error: Annotated[str, Field(max_length=200)] | None = None


Message = Annotated[Report | EventBatch | Status | Ack | Command, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Report | EventBatch | Status | Ack | Command] = TypeAdapter(Message)


def validate(message: dict[str, Any]) -> Report | EventBatch | Status | Ack | Command:
    """Validate a decoded envelope; raise :class:`ProtocolError` (``invalid``) with the first errors."""
    try:
        return _ADAPTER.validate_python(message)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]]
        raise ProtocolError(Reason.INVALID, "; ".join(parts)[:500]) from exc


# -- the msgspec mirror ---------------------------------------------------------------------
_FINITE = sys.float_info.max
_MIRRORS: dict[tuple[type[BaseModel], bool], Any] = {}
_TAGGED = (Report, EventBatch, Status, Ack, Command)
#: MAC fields the closed mirror leaves to :func:`closed_message`: msgspec's pattern check
#: cost ~1 us per string (5.8 of 16.4 us to decode a report with its stations), one
#: ``fullmatch`` per MAC afterwards ~0.3 us.
_MACS_CHECKED_AFTER: set[str] = set()
_MAC = re.compile(MAC_PATTERN[1:-1]).fullmatch


def _meta(constraints: list[Any], base: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in constraints:
        for name, kind in (("ge", at.Ge), ("gt", at.Gt), ("le", at.Le), ("lt", at.Lt)):
            if isinstance(c, kind) and abs(getattr(c, name)) < 2**63:
                # msgspec takes int64 bounds; "< 2**64" holds anyway: msgpack has no larger ints
                out[name] = getattr(c, name)
        if isinstance(c, at.MaxLen):
            out["max_length"] = c.max_length
        if isinstance(c, at.MinLen):
            out["min_length"] = c.min_length
        pattern = getattr(c, "pattern", None)
        if isinstance(pattern, str):
            # pydantic's $ is the end of the text; Python's also matches before a final newline
            out["pattern"] = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if base is float:  # allow_inf_nan=False: bounds refuse NaN, finite bounds refuse inf
        if "gt" not in out:
            out.setdefault("ge", -_FINITE)
        if "lt" not in out:
            out.setdefault("le", _FINITE)
    return out


def _mirror_type(tp: Any, constraints: list[Any] | None = None, closed: bool = False) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        inner = [m for info in args[1:] if isinstance(info, FieldInfo) for m in info.metadata]
        return _mirror_type(args[0], [*(constraints or []), *inner], closed)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        out: Any = _mirror(tp, closed)
    elif origin in (typing.Union, types.UnionType):
        out = typing.Union[tuple(_mirror_type(a, None, closed) for a in args)]  # noqa: UP007 - built at run time
    elif origin is list:
        out = list[_mirror_type(args[0], None, closed)]  # type: ignore[misc]
    elif origin is dict:
        out = dict[_mirror_type(args[0], None, closed), _mirror_type(args[1], None, closed)]  # type: ignore[misc]
    else:
        out = tp  # int, str, bool, Literal[...], Any
    meta = _meta(constraints or [], tp)
    return Annotated[out, msgspec.Meta(**meta)] if meta else out


def _mirror(model: type[BaseModel], closed: bool = False) -> Any:
    """The msgspec Struct of ``model``; ``closed`` ones refuse fields the model does not name."""
    found = _MIRRORS.get((model, closed))
    if found is not None:
        return found
    fields: list[tuple[Any, ...]] = []
    for name, info in model.model_fields.items():
        if model in _TAGGED and name == "kind":
            continue  # the union's tag
        constraints = list(info.metadata)
        if closed and any(getattr(c, "pattern", None) == MAC_PATTERN for c in constraints):
            constraints = [c for c in constraints if getattr(c, "pattern", None) != MAC_PATTERN]
            _MACS_CHECKED_AFTER.add(f"{model.__name__}.{name}")
        tp = _mirror_type(info.annotation, constraints, closed)
        if info.default_factory is not None:
            fields.append((name, tp, msgspec.field(default_factory=info.default_factory)))  # type: ignore[arg-type]
        elif info.is_required():
            fields.append((name, tp))
        else:
            fields.append((name, tp, info.default))
    tag: dict[str, Any] = {}
    if model in _TAGGED:
        tag = {"tag_field": "kind", "tag": typing.get_args(model.model_fields["kind"].annotation)[0]}
    # closed ones are only ever decoded: a tree without cycles, so the cyclic GC need not track it
    found = _MIRRORS[(model, closed)] = msgspec.defstruct(
        model.__name__, fields, kw_only=True, forbid_unknown_fields=closed, gc=not closed, **tag
    )
    return found


if msgspec is not None:
    _MIRROR: Any = typing.Union[tuple(_mirror(m) for m in _TAGGED)]  # noqa: UP007
    # What the collector receives, closed: every key a field name or a typed str, every
    # depth bounded by the schema. (Commands, with their free-form args, are not in it.)
    _CLOSED_DECODE = msgspec.msgpack.Decoder(
        typing.Union[tuple(_mirror(m, closed=True) for m in (Report, EventBatch, Status, Ack))]  # noqa: UP007
    ).decode
    if {"Station.mac"} != _MACS_CHECKED_AFTER:  # a new MAC field needs its check in closed_message
        raise RuntimeError(f"closed_message checks Station.mac only, not {sorted(_MACS_CHECKED_AFTER)}")


def closed_message(body: bytes) -> Any | None:
    """A msgpack body that is a valid message naming only known fields, decoded, else ``None``.

    Decoding straight into the closed mirror validates in one pass of C, and proves what the
    codec's walk checks (string keys, bounded depth) for everything in the body. ``None``
    says nothing about validity: a message with fields from a newer minor version, a
    command, or an invalid one goes the full way (:func:`protocol.codec.decode_body`,
    :func:`check`), which names the reason. Duplicate keys are not caught here: the tiers
    of :mod:`protocol.inbound` prove them absent first.

    The result is a Struct of the closed mirror: its attributes are the envelope's fields
    (``v``, ``gateway_id``, ...); its kind is ``type(found).__struct_config__.tag``.
    """
    if msgspec is None:
        return None
    try:
        found = _CLOSED_DECODE(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    content = getattr(found, "body", None)
    stations = getattr(content, "stations", None)
    if stations and not all(map(_MAC, [s.mac for s in stations])):
        return None
    view = getattr(content, "view", None)
    if view is not None and view.stations and not all(map(_MAC, [s.mac for s in view.stations])):
        return None
    return found


def check(message: dict[str, Any]) -> str:
    """Validate a decoded envelope as :func:`validate` does, without building models; its kind.

    Raises :class:`ProtocolError` (``invalid``) naming the first offending field.
    """
    if msgspec is None:
        return str(validate(message).kind)
    try:
        msgspec.convert(message, _MIRROR, strict=True)
    except msgspec.ValidationError as exc:
        raise ProtocolError(Reason.INVALID, str(exc)[:500]) from exc
    return str(message["kind"])
