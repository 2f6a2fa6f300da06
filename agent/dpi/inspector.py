"""The DPI engine: packets in, named flows out.

Each packet finds its flow; payload is parsed only until the flow is named or :attr:`max_inspect` payload
packets have been seen, after which the flow costs a dict lookup and two additions per packet (and nothing
at all in the agent, where the kernel filter keeps those packets away). Flows that no parser named get a
name at :meth:`Inspector.finalize` from, in order: the DNS cache, a port documented for an application,
published address ranges, the UDP socket they share with a named flow, then a default.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Callable, Iterable

from agent.dpi import dns
from agent.dpi.classifier import Classifier
from agent.dpi.discovery import lan_name
from agent.dpi.dnscache import DnsCache
from agent.dpi.flows import Flow, FlowTable
from agent.dpi.http import parse_request, strip_port
from agent.dpi.packet import TCP, TCP_ACK, TCP_SYN, UDP, Packet
from agent.dpi.quic import QuicReassembler, is_gquic_client
from agent.dpi.signatures import (
    Hello,
    Match,
    confirm,
    http_agent_app,
    tcp_signature,
    udp_hello,
    udp_signature,
)
from agent.dpi.tls import TlsReassembler, looks_like_client_hello

LAN_PORTS = frozenset({67, 68, 137, 138, 1900, 5353, 5355})
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
)
_SOCKETS_MAX = 4096
# How a flow's app was found (``Flow.app_source``, the report's provenance), from where its hostname came.
HOST_METHODS = {
    "sni": "sni",
    "quic": "sni",
    "http": "http_host",
    "dns": "dns",
    "dns_query": "dns",
    "stun": "stun_realm",
}


class Inspector:
    """Feeds decoded packets through the flow table, the parsers and the classifier."""

    def __init__(
        self,
        classifier: Classifier,
        *,
        max_flows: int = 8192,
        max_bytes: int = 8 * 1024 * 1024,
        dns_cache: DnsCache | None = None,
        max_inspect: int = 12,
        on_flow_end: Callable[[Flow, str], None] | None = None,
    ) -> None:
        self.classifier = classifier
        self.dns_cache = dns_cache if dns_cache is not None else DnsCache()
        self.max_inspect = max_inspect
        self._on_flow_end = on_flow_end
        self.table = FlowTable(max_flows, max_bytes, on_close=self._closed)
        # (station address, UDP port) -> app of a named flow from that socket: ICE candidates, game peers
        # and relays of one call or match share the socket, so they share the name.
        self._sockets: OrderedDict[tuple[bytes, int], str] = OrderedDict()
        self.packets = 0

    def feed(self, pkt: Packet) -> Flow | None:
        """Account one packet and inspect its payload if its flow is still unnamed."""
        if pkt.proto not in (TCP, UDP):
            return None
        self.packets += 1
        flow, up = self.table.lookup(pkt)
        if up:
            flow.pkts_up += 1
            flow.bytes_up += pkt.ip_len
            if flow.client_mac is None:
                flow.client_mac = pkt.src_mac
            if pkt.proto == TCP and pkt.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN:
                flow.isn = pkt.seq
        else:
            flow.pkts_down += 1
            flow.bytes_down += pkt.ip_len
            if flow.server_mac is None:
                flow.server_mac = pkt.src_mac
        if flow.pkts_up + flow.pkts_down == 1 and flow.host is None:
            self._from_dns_cache(flow, pkt.ts)
        if not flow.done and pkt.payload:
            self._inspect(flow, pkt, up)
        return flow

    def expire(self, now: float) -> int:
        """Close idle flows (see :meth:`FlowTable.expire`)."""
        return self.table.expire(now)

    def finish(self) -> None:
        """Name and close every flow (end of a capture)."""
        self.finalize(self.table)
        self.table.close_all()

    def finalize(self, flows: Iterable[Flow]) -> None:
        """Give every unnamed flow an app and category.

        Evidence is tried from the most to the least specific: what the flow itself carried, a server port
        documented for one application, the published address ranges of a service, then the UDP socket
        shared with a named flow (ICE candidates, game peers). Each stage runs over all pending flows
        before the next, so a flow named by its server's address can lend the name to its socket siblings.
        """
        pending = [flow for flow in flows if flow.category is None and not self._own_evidence(flow)]
        pending = [flow for flow in pending if not self._by_port(flow)]
        pending = [flow for flow in pending if not self._by_address(flow)]
        pending = [flow for flow in pending if not self._by_socket(flow)]
        for flow in pending:
            web = flow.l7 in ("tls", "quic", "http")
            l4 = "udp" if flow.proto == UDP else "tcp"
            flow.category, flow.app_source = self.classifier.default(l4, flow.sport, web).category, "default"

    # -- payload inspection -------------------------------------------------------------------------

    def _inspect(self, flow: Flow, pkt: Packet, up: bool) -> None:
        flow.inspected += 1
        payload = pkt.payload
        if pkt.proto == UDP:
            self._inspect_udp(flow, pkt, up, payload)
        elif up or flow.l7 == "stun":
            self._inspect_tcp(flow, pkt, payload)  # a TURN server's answer names its realm
        # DNS flows stay open: a station may reuse one socket for many lookups, and every answer feeds the
        # DNS cache (they are small, and few).
        if flow.inspected >= self.max_inspect and not flow.done and flow.l7 != "dns":
            self._stop(flow)

    def _inspect_udp(self, flow: Flow, pkt: Packet, up: bool, payload: bytes) -> None:
        if flow.sport == 53:
            self._dns(flow, payload, pkt.ts)
            return
        if flow.sport in LAN_PORTS or flow.cport in LAN_PORTS:
            self._lan(flow, pkt, payload)
            return
        if isinstance(flow.state, QuicReassembler) or (
            up and (payload[0] & 0x80 or is_gquic_client(payload))
        ):
            if up:
                self._quic(flow, payload)
            if flow.done or flow.l7 == "quic":
                return
        if isinstance(flow.state, Hello):
            # A two-packet exchange: the next datagram from the other side confirms it or ends the wait.
            pending, flow.state = flow.state, None
            confirmed = confirm(pending, payload, up)
            if confirmed is not None:
                self._signature(flow, confirmed)
                return
        elif flow.inspected == 1 and flow.app is None and (hello := udp_hello(payload, up)) is not None:
            flow.state = hello
            return
        if flow.app is None:
            # Signatures are tried on every inspected packet until one names the app: a call's first packets
            # may be plain RTP or a STUN binding, and the relay's realm or a vendor attribute comes later.
            found = udp_signature(payload, flow.l7)
            if found is not None:
                self._signature(flow, found)

    def _inspect_tcp(self, flow: Flow, pkt: Packet, payload: bytes) -> None:
        state = flow.state
        if state is None:
            if not looks_like_client_hello(payload):
                request = parse_request(payload)
                if request is not None:
                    flow.l7 = "http"
                    self._set_host(flow, request.host, "http")
                    agent_app = http_agent_app(request.user_agent)
                    if agent_app is not None and flow.app is None:
                        self._set_app(flow, agent_app, "http_agent")
                    self._stop(flow)
                    return
                found = tcp_signature(payload)
                if found is not None:
                    self._signature(flow, found)
                    if found.protocol != "stun":
                        self._stop(flow)
                    return
                if flow.l7 == "stun":
                    return  # STUN/TURN over TCP: later messages may still carry the realm
            # Keep the segment even when it starts nothing: it may be the second half of a ClientHello
            # whose first half arrives next (reordering), and the reassembler bounds what it holds.
            state = flow.state = TlsReassembler(flow.isn)
        if not isinstance(state, TlsReassembler):
            return
        if looks_like_client_hello(payload):
            flow.l7 = "tls"
        hello = state.add(pkt.seq, payload)
        self.table.set_buffered(flow, state.buffered)
        if hello is not None:
            flow.l7 = "tls"
            self._set_host(flow, hello.sni, "sni")
            self._stop(flow)
        elif state.failed:
            self._stop(flow)

    def _dns(self, flow: Flow, payload: bytes, ts: float) -> None:
        message = dns.try_parse(payload)
        if message is None:
            return
        flow.l7 = "dns"
        # A socket may carry several lookups: as nDPI does, the flow is named by the last query sent before
        # the first answer arrived.
        if message.questions and (flow.host is None or flow.host_source == "dns_query"):
            if message.is_response:
                if flow.host is None:
                    self._set_host(flow, message.questions[0][0], "dns")
                else:
                    flow.host_source = "dns"
            else:
                self._set_host(flow, message.questions[0][0], "dns_query")
        if message.is_response:
            self.dns_cache.learn(flow.client, message, ts)

    def _lan(self, flow: Flow, pkt: Packet, payload: bytes) -> None:
        found = lan_name(pkt.sport, pkt.dport, payload)
        if found is None:
            return
        name, source, final = found
        flow.l7 = source
        flow.host, flow.host_source = name, source
        if final:
            self._stop(flow)

    def _quic(self, flow: Flow, payload: bytes) -> None:
        state = flow.state if isinstance(flow.state, QuicReassembler) else QuicReassembler()
        name = state.add(payload)
        if not state.recognised:
            return  # high bit set but no QUIC version we know: leave the flow to the signatures
        flow.state, flow.l7 = state, "quic"
        self.table.set_buffered(flow, state.buffered)
        if name is not None:
            self._set_host(flow, name or None, "quic")
            self._stop(flow)
        elif state.failed:
            self._stop(flow)

    # -- naming -------------------------------------------------------------------------------------

    def _stop(self, flow: Flow) -> None:
        flow.done = True
        flow.state = None
        self.table.set_buffered(flow, 0)

    def _signature(self, flow: Flow, found: Match) -> None:
        if flow.l7 is None or found.app is not None or found.host is not None:
            flow.l7 = found.protocol
        if found.host is not None and flow.host is None:
            self._set_host(flow, found.host, "stun")
        if found.app is not None and flow.app is None:
            self._set_app(flow, found.app, "payload")
        if flow.app is not None:
            self._stop(flow)

    def _set_host(self, flow: Flow, host: str | None, source: str) -> None:
        if not host:
            return
        flow.host, flow.host_source = host, source
        verdict = self.classifier.by_host(strip_port(host) if source == "http" else host)
        if verdict is not None and verdict.app is not None:
            self._set_app(
                flow, verdict.app, "cdn_pattern" if verdict.pattern else HOST_METHODS.get(source, source)
            )
        else:
            flow.app = flow.category = flow.app_source = None

    def _set_app(self, flow: Flow, app: str, source: str) -> None:
        flow.app, flow.app_source = app, source
        flow.category = self.classifier.app_category(app)
        if flow.proto == UDP and source != "socket":
            # Remember the initiator's socket (the station's, for the relay and STUN flows that name a call);
            # :meth:`_by_socket` looks it up on both sides, since a peer may speak first.
            key = (flow.client, flow.cport)
            self._sockets[key] = app
            self._sockets.move_to_end(key)
            while len(self._sockets) > _SOCKETS_MAX:
                self._sockets.popitem(last=False)

    def _from_dns_cache(self, flow: Flow, now: float) -> bool:
        name = self.dns_cache.lookup(flow.client, flow.server, now)
        if name is None:
            return False
        flow.host, flow.host_source = name, "dnscache"
        verdict = self.classifier.by_host(name)
        if verdict is not None and verdict.app is not None:
            self._set_app(flow, verdict.app, "cdn_pattern" if verdict.pattern else "dns_cache")
        return True

    def _own_evidence(self, flow: Flow) -> bool:
        """Name a flow from what it carries itself; True if that gave it an app."""
        if flow.app is not None:
            return True
        if flow.host is None and self._from_dns_cache(flow, flow.last_ts):
            return flow.app is not None
        return False

    def _by_address(self, flow: Flow) -> bool:
        l4 = "udp" if flow.proto == UDP else "tcp"
        verdict = self.classifier.by_address(flow.server, l4, flow.sport)
        if verdict is None and _inverted(flow):
            verdict = self.classifier.by_address(flow.client, l4, flow.cport)
        if verdict is None or verdict.app is None:
            return False
        self._set_app(flow, verdict.app, "address_range")
        return True

    def _by_socket(self, flow: Flow) -> bool:
        if flow.proto != UDP:
            return False
        app = self._sockets.get((flow.client, flow.cport)) or self._sockets.get((flow.server, flow.sport))
        if app is None:
            return False
        self._set_app(flow, app, "socket")
        return True

    def _by_port(self, flow: Flow) -> bool:
        l4 = "udp" if flow.proto == UDP else "tcp"
        verdict = self.classifier.by_port(l4, flow.sport)
        if verdict is None and _inverted(flow):
            verdict = self.classifier.by_port(l4, flow.cport)
        if verdict is None or verdict.app is None:
            return False
        self._set_app(flow, verdict.app, "port")
        return True

    def _closed(self, flow: Flow, reason: str) -> None:
        if flow.category is None:
            self.finalize([flow])
        if self._on_flow_end is not None:
            self._on_flow_end(flow, reason)


def _inverted(flow: Flow) -> bool:
    """A flow whose "client" is a public address and "server" a private one: the remote side spoke first
    (a game server's datagram to a station, a capture begun mid-flow), so the remote port and address are
    the client's."""
    return is_lan_address(flow.server, PRIVATE_NETWORKS) and not is_lan_address(flow.client, PRIVATE_NETWORKS)


def is_lan_address(packed: bytes, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether an address is inside one of the LAN networks."""
    address = ipaddress.ip_address(packed)
    return any(address.version == n.version and address in n for n in networks)
