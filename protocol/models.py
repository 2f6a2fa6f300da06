"""Pydantic v2 models of the v1 messages: the server side's validation of ``shapes``.

Only the collector, the emulator and tests import this module; the agent builds the
plain dicts of :mod:`protocol.shapes`. Unknown fields are ignored (a newer minor version
may add them); known fields are checked for type, range and length, and NaN/inf are
refused everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from protocol.errors import ProtocolError, Reason

U64 = Annotated[int, Field(ge=0, lt=2**64)]
U32 = Annotated[int, Field(ge=0, lt=2**32)]
Pct = Annotated[float, Field(ge=0, le=100)]
Dbm = Annotated[int, Field(ge=-150, le=50)]
Seconds = Annotated[int, Field(ge=0, lt=2**40)]
EpochS = Annotated[int, Field(ge=0, lt=2**40)]
Short = Annotated[str, Field(max_length=128)]
Mac = Annotated[str, Field(pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")]
GatewayId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


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


class TopologyLink(_Part):
    node: Short
    parent: Short | None = None
    medium: Literal["wifi", "fiber", "ethernet", "plc"] | None = None
    signal_dbm: Dbm | None = None
    tx_rate_kbps: U32 | None = None
    rx_rate_kbps: U32 | None = None


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


Message = Annotated[Report | EventBatch | Status | Ack | Command, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Report | EventBatch | Status | Ack | Command] = TypeAdapter(Message)


def validate(message: dict[str, Any]) -> Report | EventBatch | Status | Ack | Command:
    """Validate a decoded envelope; raise :class:`ProtocolError` (``invalid``) with the first errors."""
    try:
        return _ADAPTER.validate_python(message)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]]
        raise ProtocolError(Reason.INVALID, "; ".join(parts)[:500]) from exc
