"""The flow table: one entry per 5-tuple, oriented client -> server, bounded by count and by memory.

Entries are kept in least-recently-used order (an ``OrderedDict`` moved to the end on every packet), so
both idle expiry and eviction under pressure take the oldest flows first, in time proportional to what
they remove. Every flow that leaves the table is handed to ``on_close`` so its bytes are never lost.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from agent.dpi.packet import TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Packet

FlowKey = tuple[int, bytes, int, bytes, int]

# Ports on which the lower side is a server even when its packet is the first one seen (mid-flow capture).
SERVER_PORTS = frozenset(
    {
        20,
        21,
        22,
        25,
        53,
        67,
        80,
        110,
        123,
        137,
        138,
        143,
        443,
        465,
        587,
        853,
        993,
        995,
        1900,
        3478,
        3479,
        5222,
        5223,
        5228,
        5353,
        5355,
        8080,
        8443,
    }
)
TCP_IDLE = 300.0
UDP_IDLE = 60.0
CLOSED_IDLE = 10.0


@dataclass(slots=True, eq=False)
class Flow:
    """One bidirectional flow, with the client (initiator) on the ``client`` side."""

    proto: int
    client: bytes
    cport: int
    server: bytes
    sport: int
    first_ts: float
    last_ts: float
    client_mac: bytes | None = None
    server_mac: bytes | None = None
    pkts_up: int = 0
    pkts_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    l7: str | None = None  # tls, quic, http, dns, dhcp, mdns, llmnr, netbios, ssdp, stun, or a signature
    host: str | None = None
    host_source: str | None = None  # sni, quic, http, dns, dhcp, mdns, llmnr, netbios, ssdp, dnscache
    app: str | None = None
    category: str | None = None
    app_source: str | None = None  # how: sni, http_host, dns, dns_cache, stun_realm, cdn_pattern, payload,
    # port, address_range, socket, default (inspector.HOST_METHODS; the report's provenance)
    inspected: int = 0  # payload packets looked at
    done: bool = False  # inspection finished: no more payload parsing for this flow
    closing: bool = False  # FIN or RST seen
    isn: int | None = None  # client's initial sequence number, when the SYN was seen
    state: object | None = field(default=None, repr=False)  # the parser's reassembly state
    buffered: int = 0  # bytes held by ``state``, for the memory estimate
    reported_up: int = 0  # counters already attributed to a report window
    reported_down: int = 0


def flow_key(pkt: Packet) -> FlowKey:
    """Direction-independent key: the lower endpoint first."""
    a = (pkt.src, pkt.sport)
    b = (pkt.dst, pkt.dport)
    if a <= b:
        return (pkt.proto, pkt.src, pkt.sport, pkt.dst, pkt.dport)
    return (pkt.proto, pkt.dst, pkt.dport, pkt.src, pkt.sport)


def sender_is_client(pkt: Packet) -> bool:
    """Decide, from a flow's first packet, whether its sender initiated the flow."""
    if pkt.proto == TCP:
        if pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN:
            return True
        if pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK:
            return False
    # Mid-flow (no SYN seen) or UDP: a well-known service port on the sending side marks it the server.
    return not (pkt.sport in SERVER_PORTS and pkt.dport not in SERVER_PORTS and pkt.dport >= 1024)


def _estimate_flow_bytes() -> int:
    # A Flow instance plus its key tuple and two dict slots (table and index), measured once at import.
    probe = Flow(TCP, b"\x00" * 4, 1, b"\x00" * 4, 2, 0.0, 0.0)
    key = (TCP, b"\x00" * 4, 1, b"\x00" * 4, 2)
    return sys.getsizeof(probe) + sys.getsizeof(key) + 2 * 33 + 2 * 100  # bytes objects + dict overhead


FLOW_BYTES = _estimate_flow_bytes()


class FlowTable:
    """5-tuple flows bounded by ``max_flows`` and by ``max_bytes`` of estimated memory (LRU eviction)."""

    def __init__(
        self,
        max_flows: int = 8192,
        max_bytes: int = 8 * 1024 * 1024,
        on_close: Callable[[Flow, str], None] | None = None,
    ) -> None:
        self.max_flows = max_flows
        self.max_bytes = max_bytes
        self._flows: OrderedDict[FlowKey, Flow] = OrderedDict()
        self._buffered = 0
        self._on_close = on_close
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._flows)

    def __iter__(self) -> Iterator[Flow]:
        return iter(list(self._flows.values()))

    @property
    def memory_estimate(self) -> int:
        """Estimated bytes held: flows times :data:`FLOW_BYTES` plus reassembly buffers."""
        return len(self._flows) * FLOW_BYTES + self._buffered

    def lookup(self, pkt: Packet) -> tuple[Flow, bool]:
        """The packet's flow (created if new) and whether the packet goes client -> server."""
        key = flow_key(pkt)
        flow = self._flows.get(key)
        if flow is None:
            if sender_is_client(pkt):
                flow = Flow(pkt.proto, pkt.src, pkt.sport, pkt.dst, pkt.dport, pkt.ts, pkt.ts)
            else:
                flow = Flow(pkt.proto, pkt.dst, pkt.dport, pkt.src, pkt.sport, pkt.ts, pkt.ts)
            self._flows[key] = flow
            self._shrink()
        else:
            self._flows.move_to_end(key)
        upstream = pkt.src == flow.client and pkt.sport == flow.cport
        flow.last_ts = max(flow.last_ts, pkt.ts)
        if pkt.proto == TCP and pkt.tcp_flags & (TCP_FIN | TCP_RST):
            flow.closing = True
        return flow, upstream

    def find(self, proto: int, src: bytes, sport: int, dst: bytes, dport: int) -> Flow | None:
        """The flow with these endpoints (either direction), without touching its LRU position."""
        a, b = (src, sport), (dst, dport)
        key = (proto, src, sport, dst, dport) if a <= b else (proto, dst, dport, src, sport)
        return self._flows.get(key)

    def set_buffered(self, flow: Flow, size: int) -> None:
        """Record how many bytes a flow's reassembly state holds, and evict if over the memory cap."""
        self._buffered += size - flow.buffered
        flow.buffered = size
        if self._buffered + len(self._flows) * FLOW_BYTES > self.max_bytes:
            self._shrink()

    def expire(self, now: float) -> int:
        """Close flows idle past their timeout; return how many were closed.

        The table is ordered by last packet, so the scan stops at the first flow younger than the shortest
        timeout; flows older than that but under their own (longer) timeout are stepped over.
        """
        stale: list[FlowKey] = []
        for key, flow in self._flows.items():
            idle = now - flow.last_ts
            if idle < CLOSED_IDLE:
                break
            if idle >= _idle_limit(flow):
                stale.append(key)
        for key in stale:
            self._remove(key, "idle")
        return len(stale)

    def close_all(self, reason: str = "flush") -> None:
        """Close every flow (end of a capture file, agent shutdown)."""
        for key in list(self._flows):
            self._remove(key, reason)

    def _shrink(self) -> None:
        while len(self._flows) > self.max_flows or (
            len(self._flows) > 1 and len(self._flows) * FLOW_BYTES + self._buffered > self.max_bytes
        ):
            self._remove(next(iter(self._flows)), "evicted")
            self.evicted += 1

    def _remove(self, key: FlowKey, reason: str) -> None:
        flow = self._flows.pop(key)
        self._buffered -= flow.buffered
        flow.buffered = 0
        flow.state = None
        if self._on_close is not None:
            self._on_close(flow, reason)


def _idle_limit(flow: Flow) -> float:
    if flow.closing:
        return CLOSED_IDLE
    return TCP_IDLE if flow.proto == TCP else UDP_IDLE
