"""The agent-side DPI: capture on the LAN bridge, name flows, count their bytes, build the ``apps`` section.

Two ways to count volumes:
- ``conntrack`` (preferred): the kernel filter passes only handshakes, and bytes come from the connection
  table's counters, read every tick. A conntrack entry is named by the DPI flow with the same 5-tuple
  (the capture is on the LAN side, before NAT, like the entry's original direction), or, if the handshake
  was never seen, by the DNS cache, port, address and socket rules.
- ``capture``: where conntrack or its accounting is missing, the filter also passes every other packet
  truncated to its headers, and the flow table counts them. Far more packets reach Python.

Call :meth:`DpiMonitor.poll` in the agent loop and :meth:`DpiMonitor.tick` at least once a minute;
:meth:`DpiMonitor.report` returns the section at the end of each report window.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from agent.dpi import DpiError, conntrack
from agent.dpi.capture import CaptureSocket
from agent.dpi.classifier import Classifier
from agent.dpi.dhcp import DhcpFingerprints
from agent.dpi.discovery import PORT_DHCP_CLIENT, PORT_DHCP_SERVER
from agent.dpi.flows import Flow
from agent.dpi.inspector import PRIVATE_NETWORKS, Inspector, is_lan_address
from agent.dpi.packet import TCP, UDP, Packet, format_endpoint, format_mac
from agent.dpi.usage import UsageWindow, flow_event, station_of, usage_category, usage_method
from agent.logger import Logger
from agent.record import record

if TYPE_CHECKING:  # imported when opted in only (its suffix table costs ~40 KiB of RSS otherwise)
    from agent.dpi.unclassified import UnclassifiedWindow

log = Logger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ARP_PATH = "/proc/net/arp"
MAX_EVENTS = 1000
#: Conntrack entries accounted one by one. The kernel's table follows nf_conntrack_max (16k-64k
#: on routers); past this many the agent's memory would follow it, so newer entries are left
#: out and counted (``untracked``): a known undercount, never an unbounded agent.
MAX_TRACKED = 4096


class PacketSource(Protocol):
    """What the monitor needs from a capture (a :class:`CaptureSocket`, or a fake in tests)."""

    def read(self, timeout: float = 0.0, limit: int = 10_000) -> list[Packet]:
        """Decoded packets waiting."""
        ...

    def close(self) -> None:
        """Release the capture."""
        ...


@record(slots=True)
class _Tracked:
    """A conntrack entry being accounted: its name and the counters already attributed."""

    station: str | None
    app: str | None
    category: str
    up: int
    down: int
    station_is_client: bool
    host: str | None
    remote: tuple[bytes, int]
    method: str = "default"  # how the flow was named (the report's provenance)
    seen: int = 0  # the tick that last found the entry in the table
    domain: str | None = None  # registrable domain of a name no table knows (the ``unclassified`` section)


def parse_arp(text: str) -> dict[bytes, str]:
    """IPv4 address -> MAC from ``/proc/net/arp`` (complete entries only)."""
    table: dict[bytes, str] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[3] != "00:00:00:00:00:00":
            try:
                table[ipaddress.ip_address(fields[0]).packed] = fields[3].lower()
            except ValueError:
                continue
    return table


class DpiMonitor:
    """Capture + inspector + volume accounting for one LAN interface."""

    def __init__(
        self,
        classifier: Classifier,
        *,
        interface: str | None = None,
        source: PacketSource | None = None,
        read: Callable[[str], str] | None = None,
        volumes: str = "auto",
        lan_networks: Sequence[Network] = PRIVATE_NETWORKS,
        debug_events: bool = False,
        max_flows: int = MAX_TRACKED,
        max_bytes: int = 4 * 1024 * 1024,
        max_tracked: int = MAX_TRACKED,
        read_lines: Callable[[str], Iterable[str]] | None = None,
        clock: Callable[[], float] = time.time,
        unclassified_top: int = 0,
    ) -> None:
        if volumes not in ("auto", "conntrack", "capture"):
            raise ValueError(f"volumes must be auto, conntrack or capture, not {volumes!r}")
        self._read = read
        #: Streams the conntrack table line by line where the system can (a busy table is
        #: megabytes of text: read whole, it would set the agent's high-water mark).
        self._read_lines = read_lines
        self._clock = clock
        self.lan_networks = tuple(lan_networks)
        if volumes == "auto":
            volumes = "conntrack" if self._conntrack_usable() else "capture"
        self.volumes = volumes
        self.debug_events = debug_events
        self.inspector = Inspector(
            classifier, max_flows=max_flows, max_bytes=max_bytes, on_flow_end=self._flow_closed
        )
        self.window = UsageWindow()
        #: The unclassified domains of the window (opt-in: ``None`` when ``unclassified_top`` is 0).
        self.unclassified: UnclassifiedWindow | None = None
        self._domain_of: Callable[[Flow], str | None] = _no_domain
        if unclassified_top:
            from agent.dpi.unclassified import UnclassifiedWindow, unclassified_domain

            self.unclassified, self._domain_of = UnclassifiedWindow(unclassified_top), unclassified_domain
        self.events: list[dict[str, Any]] = []
        self._macs: dict[bytes, str] = {}
        self.dhcp = DhcpFingerprints()
        self._tracked: dict[tuple[int, bytes, int, bytes, int, int], _Tracked] = {}
        self.max_tracked = max_tracked
        #: Entries of the last tick left out because ``max_tracked`` were already accounted.
        self.untracked = 0
        self._ticks = 0
        self._baseline = True  # the first conntrack read only sets counters: earlier bytes are not ours
        self.offloaded = 0
        self._arp_read = False
        if source is None:
            if interface is None:
                raise ValueError("an interface or a packet source is needed")
            source = CaptureSocket(interface, count_all=self.volumes == "capture")
        self._source = source
        log.info("DPI on %s, volumes from %s", interface or "test source", self.volumes)

    def _conntrack_usable(self) -> bool:
        if self._read is None:
            return False
        try:
            entries = conntrack.read(self._read)
        except (OSError, DpiError) as exc:
            log.info("conntrack unavailable (%s): counting volumes from the capture", exc)
            return False
        if entries and not any(e.accounted for e in entries):
            log.info("conntrack accounting is off (nf_conntrack_acct=0): counting volumes from the capture")
            return False
        return True

    # -- packets ------------------------------------------------------------------------------------

    def poll(self, timeout: float = 0.0) -> int:
        """Read and inspect the packets waiting; return how many."""
        packets = self._source.read(timeout)
        for packet in packets:
            self._learn(packet)
            self.inspector.feed(packet)
        return len(packets)

    def feed(self, packets: Iterable[Packet]) -> None:
        """Inspect packets obtained elsewhere (offline replay, tests)."""
        for packet in packets:
            self._learn(packet)
            self.inspector.feed(packet)

    def _learn(self, packet: Packet) -> None:
        if packet.src_mac is not None and packet.src_mac[0] & 1 == 0 and self._is_lan(packet.src):
            self._macs[packet.src] = format_mac(packet.src_mac)
        if packet.proto == UDP and packet.sport == PORT_DHCP_CLIENT and packet.dport == PORT_DHCP_SERVER:
            self.dhcp.add(packet.payload)  # the kernel filter passes DHCP whole

    def station_fields(self) -> dict[str, dict[str, str]]:
        """Per station MAC, what its DHCP client said (see :meth:`DhcpFingerprints.station_fields`)."""
        return self.dhcp.station_fields()

    def _is_lan(self, packed: bytes) -> bool:
        return is_lan_address(packed, self.lan_networks)

    def _station_is_client(self, client: bytes, server: bytes) -> bool:
        return self._is_lan(client) or not self._is_lan(server)

    # -- accounting ---------------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Attribute the bytes moved since the last tick; call at least once a minute."""
        now = self._clock() if now is None else now
        if self.volumes == "conntrack":
            self._account_conntrack(now)
        else:
            self.inspector.finalize(self.inspector.table)
            for flow in self.inspector.table:
                self._account_flow(flow, now)
        self.inspector.expire(now)

    def report(self) -> list[dict[str, Any]]:
        """The ``apps`` section of the window that ends now (and start the next window)."""
        self.tick()
        return self.window.report()

    def unclassified_report(self) -> list[dict[str, Any]] | None:
        """The ``unclassified`` section of the window :meth:`report` just ended (``None`` when off)."""
        return None if self.unclassified is None else self.unclassified.report()

    def take_events(self) -> list[dict[str, Any]]:
        """Debug flow events since the last call (empty unless ``debug_events``)."""
        events, self.events = self.events, []
        return events

    def _account_flow(self, flow: Flow, now: float) -> None:
        station_is_client = self._station_is_client(flow.client, flow.server)
        station = station_of(flow, station_is_client)
        if station is None:
            return
        up, down = (flow.bytes_up, flow.bytes_down) if station_is_client else (flow.bytes_down, flow.bytes_up)
        new_flow = flow.reported_up == 0 and flow.reported_down == 0
        d_up, d_down = up - flow.reported_up, down - flow.reported_down
        if d_up or d_down:
            app, category = usage_category(flow)
            self.window.add(station, app, category, d_up, d_down, now, new_flow, usage_method(flow))
            if self.unclassified is not None and (domain := self._domain_of(flow)) is not None:
                self.unclassified.add(domain, category, d_up, d_down, now)
            flow.reported_up, flow.reported_down = up, down

    def _flow_closed(self, flow: Flow, _reason: str) -> None:
        if self.volumes == "capture":
            self._account_flow(flow, flow.last_ts)
            if self.debug_events and len(self.events) < MAX_EVENTS:
                station_is_client = self._station_is_client(flow.client, flow.server)
                station = station_of(flow, station_is_client)
                if station is not None:
                    self.events.append(flow_event(flow, station, station_is_client))

    def _account_conntrack(self, now: float) -> None:
        assert self._read is not None
        try:
            lines: Iterable[str] = (
                self._read_lines(conntrack.PROC_PATH)
                if self._read_lines is not None
                else conntrack.lines(self._read(conntrack.PROC_PATH))
            )
        except (OSError, DpiError) as exc:
            log.warning("cannot read conntrack: %s", exc)
            return
        self._arp_read = False
        self._ticks += 1
        tick = self._ticks
        # After a tick that left entries out, a newly tracked one may be old: its counters hold
        # bytes of earlier windows, so it starts from them (an undercount, never a burst).
        baseline = self._baseline or self.untracked > 0
        try:
            untracked, offloaded = self._account_entries(conntrack.entries(lines), tick, baseline, now)
        except (OSError, DpiError) as exc:
            log.warning("cannot read conntrack: %s", exc)
            return
        for key in [k for k, t in self._tracked.items() if t.seen != tick]:
            gone = self._tracked.pop(key)
            if self.debug_events and gone.station and len(self.events) < MAX_EVENTS:
                self.events.append(_conntrack_event(gone, key))
        if bool(untracked) != bool(self.untracked):
            if untracked:
                log.warning(
                    "conntrack: %d entries past the %d tracked are not accounted", untracked, self.max_tracked
                )
            else:
                log.info("conntrack: every entry accounted again")
        self.untracked = untracked
        self.offloaded = offloaded
        self._baseline = False

    def _account_entries(
        self, entries: Iterable[conntrack.Entry], tick: int, baseline: bool, now: float
    ) -> tuple[int, int]:
        """Account each entry (one at a time: no list of a busy table); return (untracked, offloaded)."""
        offloaded = untracked = 0
        for entry in entries:
            if entry.proto not in (TCP, UDP):
                continue
            offloaded += entry.offloaded
            key = entry.key
            tracked = self._tracked.get(key)
            if tracked is None:
                if len(self._tracked) >= self.max_tracked:
                    untracked += 1
                    continue
                tracked = self._track(entry)
                if tracked is None:
                    continue
                self._tracked[key] = tracked
                tracked.seen = tick
                if baseline:
                    continue
                tracked.up = tracked.down = 0
                new_flow = True
            else:
                new_flow = False
            tracked.seen = tick
            o, r = entry.original.bytes, entry.reply.bytes
            up, down = (o, r) if tracked.station_is_client else (r, o)
            if tracked.station is None:
                tracked.station = self._mac_for(entry)
            if tracked.station is not None:
                self.window.add(
                    tracked.station,
                    tracked.app,
                    tracked.category,
                    up - tracked.up,
                    down - tracked.down,
                    now,
                    new_flow,
                    tracked.method,
                )
                if tracked.domain is not None and self.unclassified is not None:
                    self.unclassified.add(
                        tracked.domain, tracked.category, up - tracked.up, down - tracked.down, now
                    )
            tracked.up, tracked.down = up, down
        return untracked, offloaded

    def _track(self, entry: conntrack.Entry) -> _Tracked | None:
        o = entry.original
        if self._is_lan(o.src):
            station_is_client = True
        elif self._is_lan(entry.reply.src):  # a port-forwarded connection from outside
            station_is_client = False
        else:
            return None  # the gateway's own traffic
        flow = self.inspector.table.find(entry.proto, o.src, o.sport, o.dst, o.dport)
        if flow is None:
            # Handshake never seen (flow older than the agent, or filtered): name it from the tuple alone.
            flow = Flow(entry.proto, o.src, o.sport, o.dst, o.dport, 0.0, self._clock())
            self.inspector.finalize([flow])
        elif flow.category is None:
            self.inspector.finalize([flow])
        app, category = usage_category(flow)
        up, down = (o.bytes, entry.reply.bytes) if station_is_client else (entry.reply.bytes, o.bytes)
        remote = (o.dst, o.dport) if station_is_client else (o.src, o.sport)
        domain = self._domain_of(flow)
        return _Tracked(
            self._mac_for(entry),
            app,
            category,
            up,
            down,
            station_is_client,
            flow.host,
            remote,
            usage_method(flow),
            domain=domain,
        )

    def _mac_for(self, entry: conntrack.Entry) -> str | None:
        ip = entry.original.src if self._is_lan(entry.original.src) else entry.reply.src
        mac = self._macs.get(ip)
        if mac is None and len(ip) == 4 and not self._arp_read:
            self._refresh_arp()
            mac = self._macs.get(ip)
        return mac

    def _refresh_arp(self) -> None:
        """Merge the kernel's ARP table into the MACs learned from packets (once per tick at most)."""
        self._arp_read = True
        if self._read is None:
            return
        try:
            self._macs.update(parse_arp(self._read(ARP_PATH)))
        except OSError as exc:
            log.debug("cannot read %s: %s", ARP_PATH, exc)

    def close(self) -> None:
        """Stop capturing."""
        self._source.close()


def _no_domain(_flow: Flow) -> None:
    """No unclassified domains are counted (the agent did not opt in)."""
    return None


def _conntrack_event(tracked: _Tracked, key: tuple[int, bytes, int, bytes, int, int]) -> dict[str, Any]:
    return {
        "type": "flow",
        "station": tracked.station,
        "app": tracked.app or "unknown",
        "category": tracked.category,
        "host": tracked.host or "",
        "remote": format_endpoint(*tracked.remote),
        "l4": "TCP" if key[0] == TCP else "UDP",
        "bytes_up": tracked.up,
        "bytes_down": tracked.down,
    }
