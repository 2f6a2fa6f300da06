"""Domain table and classifier, flow table bounds, DNS cache, and the inspector naming flows end to end."""

from __future__ import annotations

import os

import pytest

from agent.dpi import DpiError, dns
from agent.dpi.classifier import CATEGORIES, Classifier
from agent.dpi.dnscache import DnsCache
from agent.dpi.flows import FLOW_BYTES, Flow, FlowTable
from agent.dpi.inspector import Inspector
from agent.dpi.packet import Packet, decode
from tests.agent.dpi import dpi_wire as w

REQUIRED = {
    "video",
    "short_video",
    "live_streaming",
    "game",
    "social",
    "messaging",
    "shopping",
    "app_store",
    "operator",
    "reading",
    "music",
    "work",
    "cloud",
    "web",
    "other",
    "iot",
    "background",
}


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(operator_domains=["myisp.example", ".tv.myisp.example"])


# ---------------------------------------------------------------- domain table


def test_taxonomy_has_every_required_category(classifier: Classifier) -> None:
    assert set(CATEGORIES) == REQUIRED
    # Stored by position in the collector: the first fifteen never move, new ones are appended.
    assert CATEGORIES[:15] == (
        "video",
        "short_video",
        "live_streaming",
        "game",
        "social",
        "messaging",
        "shopping",
        "app_store",
        "operator",
        "reading",
        "music",
        "work",
        "cloud",
        "web",
        "other",
    )
    assert CATEGORIES[15:] == ("iot", "background")
    used = set(classifier.categories.values())
    assert used == REQUIRED  # every category has at least one application in the table


@pytest.mark.parametrize(
    ("host", "app", "category"),
    [
        ("r4---sn-vh5ouxa-hjud.googlevideo.com", "youtube", "video"),
        ("music.youtube.com", "youtube_music", "music"),
        ("ipv4-c001-xyz.1.oca.nflxvideo.net", "netflix", "video"),
        ("v16-webapp.tiktok.com", "tiktok", "short_video"),
        ("aweme.snssdk.douyin.com", "douyin", "short_video"),
        ("live.bilibili.com", "bilibili_live", "live_streaming"),
        ("www.bilibili.com", "bilibili", "video"),
        ("video-weaver.fra05.hls.ttvnw.net", "twitch", "live_streaming"),
        ("steamcdn-a.akamaihd.net.steamcontent.com", "steam", "game"),
        ("www.pinterest.co.uk", "pinterest", "social"),
        ("mmg.whatsapp.net", "whatsapp", "messaging"),
        ("web.wechat.com", "wechat", "messaging"),
        ("item.taobao.com", "taobao", "shopping"),
        ("www.amazon.de", "amazon", "shopping"),
        ("p53-buy.itunes.apple.com", "apple_app_store", "app_store"),
        ("android.clients.google.com", "google_play", "app_store"),
        ("en.wikipedia.org", "wikipedia", "reading"),
        ("zoomfrn99mmr.zoom.us", "zoom", "work"),
        ("p26-keyvalueservice.icloud.com", "icloud", "cloud"),
        ("www.google.com.br", "google", "web"),
        ("dns.google", "doh", "other"),
        ("portal.myisp.example", "operator", "operator"),
        ("live.tv.myisp.example", "operator", "operator"),
        # iot heartbeats and background endpoints
        ("a1.tuyaeu.com", "tuya", "iot"),
        ("de.api.io.mi.com", "xiaomi_iot", "iot"),  # more specific than Xiaomi's web
        ("avs-alexa-12-na.amazon.com", "alexa", "iot"),  # a pattern inside amazon.com
        ("www.amazon.com", "amazon", "shopping"),
        ("fw.ring.com", "ring", "iot"),
        ("connectivitycheck.gstatic.com", "connectivity_check", "background"),
        ("www.msftconnecttest.com", "connectivity_check", "background"),
        ("mesu.apple.com", "apple_update", "background"),
        ("7.tlu.dl.delivery.mp.microsoft.com", "windows_update", "background"),
        ("v10.events.data.microsoft.com", "microsoft_telemetry", "background"),
        ("www.microsoft.com", "microsoft", "web"),
        ("0.pool.ntp.org", "ntp", "background"),
    ],
)
def test_known_hosts(classifier: Classifier, host: str, app: str, category: str) -> None:
    verdict = classifier.by_host(host)
    assert verdict is not None and (verdict.app, verdict.category) == (app, category)


def test_unknown_and_lookalike_hosts(classifier: Classifier) -> None:
    assert classifier.by_host("netflix.com.evil.example") is None
    assert classifier.by_host("notnetflix.com") is None
    assert classifier.by_host("google.evil.io") is None


def test_ports_addresses_and_defaults(classifier: Classifier) -> None:
    assert classifier.by_port("udp", 8801).app == "zoom"  # type: ignore[union-attr]
    assert classifier.by_port("tcp", 5223).app == "apple_push"  # type: ignore[union-attr]
    assert classifier.by_port("udp", 443) is None
    assert classifier.by_address(bytes([157, 240, 1, 1]), "udp").app == "whatsapp"  # type: ignore[union-attr]
    assert classifier.by_address(bytes([157, 240, 1, 1]), "tcp").app == "facebook"  # type: ignore[union-attr]
    assert classifier.default("tcp", 443, False).category == "web"
    assert classifier.default("udp", 40000, False).category == "other"


@pytest.mark.parametrize(
    "line",
    [
        "Bad-Id\tvideo\tx.example",
        "app\tnot_a_category\tx.example",
        "app\tvideo\tbad domain!",
        "@port\tnobody\tudp\t1",
        "@port\tyoutube\tsctp\t1",
        "@net\tyoutube\tnot-a-network",
    ],
)
def test_malformed_table_lines_are_rejected(line: str) -> None:
    with pytest.raises(DpiError, match="line"):
        Classifier("youtube\tvideo\tyoutube.com\n" + line + "\n")


def test_conflicting_entries_are_rejected() -> None:
    with pytest.raises(DpiError):
        Classifier("a\tvideo\tx.example\nb\tmusic\tx.example\n")
    with pytest.raises(DpiError):
        Classifier("a\tvideo\tx.example\na\tmusic\ty.example\n")


# ---------------------------------------------------------------- flow table


def _packet(sport: int, dport: int = 443, flags: int = 0x02, src: str = "192.168.1.2") -> Packet:
    packet = decode(1, w.tcp4(src, sport, "203.0.113.9", dport, flags=flags))
    assert packet is not None
    return packet


def test_orientation_from_syn_synack_and_ports() -> None:
    table = FlowTable()
    flow, up = table.lookup(_packet(40000, flags=0x12))  # SYN-ACK from 192.168.1.2: it is the server
    assert not up and flow.client == bytes([203, 0, 113, 9])
    flow, up = table.lookup(decode(1, w.tcp4("203.0.113.9", 443, "192.168.1.2", 40001, b"x")))  # type: ignore[arg-type]
    assert not up and flow.cport == 40001  # mid-flow, from port 443: the receiver is the client


def test_lru_eviction_by_count_and_memory() -> None:
    closed: list[tuple[Flow, str]] = []
    table = FlowTable(max_flows=3, on_close=lambda f, r: closed.append((f, r)))
    for port in range(40000, 40005):
        table.lookup(_packet(port))
    assert len(table) == 3 and [f.cport for f, _ in closed] == [40000, 40001]
    assert {r for _, r in closed} == {"evicted"}
    small = FlowTable(max_flows=100, max_bytes=FLOW_BYTES * 4)
    for port in range(40000, 40010):
        small.lookup(_packet(port))
    assert len(small) == 4 and small.memory_estimate <= FLOW_BYTES * 4
    flow, _ = small.lookup(_packet(40009))
    small.set_buffered(flow, FLOW_BYTES * 2)  # a reassembly buffer counts against the cap too
    assert len(small) == 2


def test_expiry_by_protocol_and_close() -> None:
    closed: list[str] = []
    table = FlowTable(on_close=lambda f, r: closed.append(f"{f.cport}:{r}"))
    table.lookup(_packet(40000))
    fin = _packet(40001, flags=0x11)
    fin.ts = 50.0
    table.lookup(fin)
    udp = decode(1, w.udp4("192.168.1.2", 5000, "198.51.100.1", 9999, b"x"))
    assert udp is not None
    udp.ts = 50.0
    table.lookup(udp)
    assert table.expire(100.0) == 1 and closed == ["40001:idle"]  # FIN seen: 10 s
    assert table.expire(200.0) == 1 and closed[-1] == "5000:idle"  # UDP: 60 s
    assert table.expire(301.0) == 1 and closed[-1] == "40000:idle"  # TCP: 300 s


# ---------------------------------------------------------------- DNS cache and the inspector


def test_dns_cache_keeps_the_asked_name_through_cnames() -> None:
    cache = DnsCache(max_entries=2)
    station = bytes([192, 168, 1, 2])
    answer = dns.parse(w.dns_response("www.netflix.com", [bytes([198, 51, 100, 7])], cname="x.cdn.example"))
    assert cache.learn(station, answer, now=0.0) == 1
    assert cache.lookup(station, bytes([198, 51, 100, 7]), now=10.0) == "www.netflix.com"
    assert cache.lookup(bytes([192, 168, 1, 3]), bytes([198, 51, 100, 7]), now=10.0) == "www.netflix.com"
    assert cache.lookup(station, bytes([198, 51, 100, 7]), now=10_000.0) is None  # expired
    for i in range(3):
        cache.learn(station, dns.parse(w.dns_response(f"h{i}.example", [bytes([10, 0, 0, i])])), now=0.0)
    assert len(cache) == 2


def _feed(inspector: Inspector, frames: list[bytes]) -> None:
    for i, frame in enumerate(frames):
        packet = decode(1, frame)
        assert packet is not None
        packet.ts = float(i)
        inspector.feed(packet)


def test_inspector_names_flows_by_sni_quic_http_and_dns_cache(classifier: Classifier) -> None:
    closed: list[Flow] = []
    inspector = Inspector(classifier, on_flow_end=lambda f, _r: closed.append(f))
    st, gw = "192.168.1.2", "192.168.1.1"
    server = bytes([203, 0, 113, 50])
    record = w.tls_record(w.client_hello("www.netflix.com", pq=True))
    quic_datagram = w.quic_initial(
        os.urandom(8), os.urandom(8), w.crypto_frame(0, w.client_hello("www.tiktok.com", quic=True))
    )
    _feed(
        inspector,
        [
            w.tcp4(st, 40000, "203.0.113.10", 443, flags=0x02, seq=999),
            w.tcp4(st, 40000, "203.0.113.10", 443, record[1448:], seq=1000 + 1448),  # out of order
            w.tcp4(st, 40000, "203.0.113.10", 443, record[:1448], seq=1000),
            w.udp4(st, 50000, "203.0.113.11", 443, quic_datagram),
            w.tcp4(st, 40001, "203.0.113.12", 80, b"GET / HTTP/1.1\r\nHost: www.jd.com\r\n\r\n"),
            w.udp4(st, 53000, gw, 53, w.dns_query("ecs.example.steampowered.com")),
            w.udp4(
                gw,
                53,
                st,
                53000,
                w.dns_response("ecs.example.steampowered.com", [server]),
                smac=w.GATEWAY_MAC,
                dmac=w.CLIENT_MAC,
            ),
            w.tcp4(st, 40002, "203.0.113.50", 443, b"\x17\x03\x03\x00\x05hello"),  # ECH-like: no hello seen
            w.udp4(st, 40003, "203.0.113.60", 8801, b"\x05" * 40),  # Zoom media port
        ],
    )
    inspector.finish()
    named = {(f.host, f.app, f.category, f.host_source) for f in closed}
    assert ("www.netflix.com", "netflix", "video", "sni") in named
    assert ("www.tiktok.com", "tiktok", "short_video", "quic") in named
    assert ("www.jd.com", "jd", "shopping", "http") in named
    assert ("ecs.example.steampowered.com", "steam", "game", "dns") in named
    assert ("ecs.example.steampowered.com", "steam", "game", "dnscache") in named
    assert (None, "zoom", "work", None) in named
    # Provenance: how each was named.
    how = {(f.app, f.app_source) for f in closed}
    assert {
        ("netflix", "sni"),
        ("tiktok", "sni"),
        ("jd", "http_host"),
        ("steam", "dns"),
        ("steam", "dns_cache"),
        ("zoom", "port"),
    } <= how
    netflix = next(f for f in closed if f.app == "netflix")
    assert netflix.client_mac == w.CLIENT_MAC and netflix.pkts_up == 3


def test_inspector_socket_siblings_inherit_a_call(classifier: Classifier) -> None:
    closed: list[Flow] = []
    inspector = Inspector(classifier, on_flow_end=lambda f, _r: closed.append(f))
    st = "192.168.1.2"
    stun = bytes.fromhex("000100082112a442") + os.urandom(12) + b"\x80\x22\x00\x04test"
    _feed(
        inspector,
        [
            w.udp4(st, 56328, "157.240.20.1", 3478, stun),  # to a Meta relay: a WhatsApp/Messenger call
            w.udp4("198.51.100.77", 40000, st, 56328, b"\x80" * 60),  # the peer speaks first (P2P media)
            w.udp4(st, 56999, "198.51.100.78", 40001, b"\x80" * 60),  # another socket: not inherited
        ],
    )
    inspector.finish()
    relay = next(f for f in closed if f.sport == 3478)
    assert (relay.app, relay.app_source, relay.l7) == ("whatsapp", "address_range", "stun")
    peer = next(f for f in closed if f.client == bytes([198, 51, 100, 77]))
    assert (peer.app, peer.app_source) == ("whatsapp", "socket")
    other = next(f for f in closed if f.cport == 56999)
    assert other.app is None and other.category == "other"
