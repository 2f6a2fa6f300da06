"""TypedDicts for every v1 message: what the agent builds and the collector receives.

Stdlib only, so the gateway can import it. Names and units follow TR-181 where it has
them (``Device.IP.Interface.{i}.Stats.BytesSent`` becomes ``bytes_sent``; PHY rates in
kbps, signal in dBm, memory in KiB). Counters are cumulative, as read from the device;
the collector turns them into deltas using the window and the agent's uptime. Sections
a gateway cannot fill are left out and explained in ``samplers``.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# --- the envelope -----------------------------------------------------------------------


class SamplerStatus(TypedDict):
    """Whether a sampler ran this window: ``ok``, ``unavailable`` (with why) or ``error``."""

    state: Literal["ok", "unavailable", "error"]
    reason: NotRequired[str]


class Board(TypedDict, total=False):
    """Device identity (``Device.DeviceInfo``)."""

    manufacturer: str
    model: str
    hostname: str
    kernel: str
    release: str  # e.g. "OpenWrt 23.05.3"
    target: str
    serial: str


class AgentHealth(TypedDict, total=False):
    """The agent's own footprint, so an operator sees what it costs the gateway."""

    version: str
    rss_kib: int
    cpu_s: float  # process CPU seconds, cumulative
    outbox_records: int
    outbox_bytes: int
    dropped_records: int  # cumulative, counted in gap events too


class SystemSection(TypedDict, total=False):
    """``Device.DeviceInfo.ProcessStatus`` and ``MemoryStatus``, plus uptime and load."""

    cpu_usage_pct: float  # over the window, from /proc/stat deltas
    cpu_count: int
    memory_total_kib: int
    memory_free_kib: int
    memory_available_kib: int
    load1: float
    load5: float
    load15: float
    uptime_s: int  # Device.DeviceInfo.UpTime
    temperature_c: float
    board: Board
    agent: AgentHealth


class Interface(TypedDict, total=False):
    """One ``Device.IP.Interface``/``Device.Ethernet.Interface`` with cumulative stats."""

    name: str
    role: Literal["wan", "lan", "wifi", "other"]
    up: bool
    speed_mbps: int  # link speed, Device.Ethernet.Interface.{i}.CurrentBitRate
    mac: str
    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int
    errors_sent: int
    errors_received: int
    discard_packets_sent: int
    discard_packets_received: int


class Wan(TypedDict, total=False):
    """The WAN connection: which interface, and how long it has been up."""

    interface: str
    protocol: str  # dhcp, pppoe, static
    ipv4: str
    gateway: str
    dns: list[str]
    connected: bool
    connection_uptime_s: int
    online_s: int  # seconds online within the window
    offline_s: int
    plan_down_kbps: int
    plan_up_kbps: int
    down_utilization_pct: float  # mean use of the plan rate (else the link rate) over the window
    up_utilization_pct: float


class Radio(TypedDict, total=False):
    """One ``Device.WiFi.Radio`` with survey counters as cumulative milliseconds."""

    name: str
    band: Literal["2.4GHz", "5GHz", "6GHz", "60GHz"]
    channel: int
    width_mhz: int
    standard: str  # e.g. "ax"
    tx_power_dbm: int
    noise_dbm: int
    channel_active_ms: int
    channel_busy_ms: int
    channel_rx_ms: int
    channel_tx_ms: int
    utilization_pct: float  # busy / active over the window
    idle_pct: float
    interference_pct: float  # (busy - rx - tx) / active over the window
    bytes_sent: int
    bytes_received: int
    stations: int


class Station(TypedDict, total=False):
    """One terminal: Wi-Fi (``Device.WiFi.AssociatedDevice``) or wired, joined with DHCP/ARP."""

    mac: str
    hostname: str
    ip: str
    interface: str
    medium: Literal["2.4GHz", "5GHz", "6GHz", "wired", "mesh"]
    ap: str  # which AP (mesh node or FTTR unit) it hangs off; the gateway itself if absent
    randomized_mac: bool
    vendor: str
    signal_dbm: int
    noise_dbm: int
    snr_db: int
    tx_rate_kbps: int  # LastDataDownlinkRate
    rx_rate_kbps: int  # LastDataUplinkRate
    standard: str
    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int
    retransmissions: int
    failed: int
    airtime_ms: int
    connected_s: int
    inactive_ms: int
    delay_ms: float
    loss_pct: float
    reachable_kbps: int
    dhcp_vc: str  # DHCP option 60, the client's vendor class ("android-dhcp-14", "MSFT 5.0"); since 1.2
    dhcp_prl: str  # DHCP option 55, the requested options in order ("1,3,6,15,119,252"); since 1.2


class LinkQuality(TypedDict, total=False):
    """Service-bearing capability towards one target (ping or UDP echo)."""

    target: str  # "wan_gateway", "internet" or a station MAC
    address: str
    sent: int
    received: int
    loss_pct: float
    delay_ms: float  # mean RTT
    delay_min_ms: float
    delay_max_ms: float
    jitter_ms: float  # mean absolute difference of consecutive RTTs (RFC 3550 style)
    bandwidth_kbps: int  # from an on-demand capacity test, when one ran


class Neighbour(TypedDict, total=False):
    """A Wi-Fi network seen by a scan, for the competitor dimension."""

    ssid: str
    bssid: str
    channel: int
    band: str
    signal_dbm: int
    operator: str  # competitor operator hint from SSID pattern or OUI, when known


class AppUsage(TypedDict):
    """Per station and category within the window, from the DPI module."""

    station: str
    category: str
    bytes_up: int
    bytes_down: int
    flows: int
    active_minutes: int
    top_apps: list[str]
    methods: NotRequired[dict[str, int]]  # bytes by how the DPI named them; since protocol 1.1


class UnclassifiedDomain(TypedDict):
    """A registrable domain (eTLD+1) the DPI saw but could not name, within the window; since 1.3.

    Only the name and what was counted under it: no station, no address. ``category`` is where
    those bytes were counted in ``apps`` (``web`` or ``other``)."""

    domain: str
    category: str
    bytes_up: int
    bytes_down: int
    active_minutes: int


class TopologyLink(TypedDict, total=False):
    """A mesh/FTTR node and the backhaul that links it to its parent."""

    node: str  # MAC of the AP
    parent: str  # MAC of the parent AP (the gateway for the first hop)
    medium: Literal["wifi", "fiber", "ethernet", "plc"]
    signal_dbm: int
    tx_rate_kbps: int
    rx_rate_kbps: int


class StaticView(TypedDict, total=False):
    """A compact report's static view (protocol 1.2, ``protocol/compact.py``): the id always,
    the sections only when the report carries them. Rows hold their key and static fields."""

    id: int
    stations: list[Station]
    interfaces: list[Interface]
    radios: list[Radio]
    board: Board
    wan: Wan


class ReportBody(TypedDict, total=False):
    """The 15-minute report. Sections are optional; ``samplers`` says why one is absent."""

    samplers: dict[str, SamplerStatus]
    system: SystemSection
    interfaces: list[Interface]
    wan: Wan
    radios: list[Radio]
    stations: list[Station]
    quality: list[LinkQuality]
    neighbours: list[Neighbour]
    apps: list[AppUsage]
    topology: list[TopologyLink]
    view: StaticView  # compact reports only (protocol 1.2); the collector merges and drops it
    unclassified: list[UnclassifiedDomain]  # opt-in (the agent's dpi_unclassified_domains); since 1.3


class Report(TypedDict):
    """Envelope of kind ``report``. (epoch, seq) is the idempotency key per gateway."""

    v: str
    kind: Literal["report"]
    gateway_id: str
    epoch: int  # spool epoch: changes when the agent's outbox is recreated
    seq: int  # strictly increasing within an epoch, shared by reports and events
    window_start: int  # UTC epoch seconds, aligned to the interval
    window_end: int
    uptime_s: int  # agent host uptime at window end; a decrease means a reboot
    sent_at: int  # wall clock when framed; the collector compares it with its own
    body: ReportBody


class Event(TypedDict, total=False):
    """One thing that happened; ``type`` says which fields are present."""

    type: Literal["station_join", "station_leave", "flow", "gap", "clock_jump", "sampler"]
    ts: int
    mac: str
    interface: str
    hostname: str
    # gap: records the agent could not keep (outbox full or disk error)
    dropped: int
    first_seq: int
    last_seq: int
    reason: str
    # clock_jump: seconds the wall clock moved against the monotonic clock
    delta_s: int


class EventBatch(TypedDict):
    """Envelope of kind ``event``: spooled and acknowledged like reports."""

    v: str
    kind: Literal["event"]
    gateway_id: str
    epoch: int
    seq: int
    window_start: int
    window_end: int
    uptime_s: int
    sent_at: int
    body: dict[Literal["events"], list[Event]]


class Status(TypedDict):
    """Envelope of kind ``status``, retained; the MQTT last will says ``offline``."""

    v: str
    kind: Literal["status"]
    gateway_id: str
    state: Literal["online", "offline"]
    sent_at: int
    agent_version: NotRequired[str]
    epoch: NotRequired[int]


class Ack(TypedDict):
    """Envelope of kind ``ack``: ``ranges`` of seqs (inclusive) durably handled.

    "Handled" means committed, or quarantined for good: either way the agent must not
    send it again.
    """

    v: str
    kind: Literal["ack"]
    gateway_id: str
    epoch: int
    ranges: list[list[int]]
    sent_at: int


class Command(TypedDict):
    """Envelope of kind ``cmd`` (``protocol/commands.py``: id, expiry, optional signature)."""

    v: str
    kind: Literal["cmd"]
    gateway_id: str
    command: str
    args: dict[str, object]
    sent_at: int
    id: NotRequired[str]
    expires_at: NotRequired[int]
    sig: NotRequired[str]


class Reply(TypedDict):
    """Envelope of kind ``reply``: a command's answer, ``result`` when ``ok``, else ``error``."""

    v: str
    kind: Literal["reply"]
    gateway_id: str
    sent_at: int
    id: str
    ok: bool
    result: NotRequired[dict[str, object]]
    error: NotRequired[str]
