"""Compare classify-pcap's output with nDPI's verdicts on the shared captures (test and bench support).

The shared folder ``testdata/dpi`` holds captures from nDPI's regression suite and nDPI's own per-flow
results (``expected_flows.jsonl``). Two figures are computed:

- hostname agreement, over flows where nDPI found a hostname by DPI (confidence "DPI", a host that is not
  an IP literal): our ``host`` must equal nDPI's, case-insensitively, after mapping nDPI's ``_`` back to
  ``*``;
- category agreement, over flows where nDPI names a specific application: our ``category`` must be the
  category our taxonomy gives that application (:data:`NDPI_APP_CATEGORY`).

The mapping below is a reviewed decision table, not something fitted to the captures: it states which of
our categories each nDPI application belongs to. nDPI's own categories differ (Zoom is "Video", YouTube
"Media", app stores "SoftwareUpdate") and are deliberately not used.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# nDPI applications that name a protocol, not a service: they are excluded from category agreement
# (their flows are still counted for hostname agreement). Network plumbing and LAN discovery protocols,
# generic web transports, and "Unknown".
NDPI_GENERIC = frozenset(
    {
        "Unknown",
        "TLS",
        "HTTP",
        "QUIC",
        "DNS",
        "MDNS",
        "LLMNR",
        "SSDP",
        "DHCP",
        "DHCPV6",
        "NetBIOS",
        "SMBv1",
        "SMBv23",
        "NAT-PMP",
        "ICMP",
        "ICMPV6",
        "IGMP",
        "NTP",
        "STUN",
        "RTP",
        "RTCP",
        "SRTP",
        "HTTP_Proxy",
        "HTTP_Connect",
        "SSH",
        "Ookla",
        "IPsec",
        "GRE",
        "ESP",
        "UPnP",
        "LDAP",
        "Kerberos",
        "RDP",
        "SNMP",
        "Syslog",
        "BitTorrent",
        "DTLS",
    }
)

# nDPI application -> our category. Reviewed: each line is what our taxonomy (docs/dpi.md) says of the
# service, whatever category nDPI files it under.
NDPI_APP_CATEGORY: dict[str, str] = {
    # video
    "NetFlix": "video",
    "YouTube": "video",
    "YouTubeUpload": "video",
    "AmazonVideo": "video",
    "DisneyPlus": "video",
    "Hulu": "video",
    "HBO": "video",
    "Dazn": "video",
    "Zattoo": "video",
    "Vimeo": "video",
    "Dailymotion": "video",
    "AppleTVPlus": "video",
    "Crunchyroll": "video",
    "PlutoTV": "video",
    "IQIYI": "video",
    "Youku": "video",
    "TencentVideo": "video",
    "Bilibili": "video",
    "Paramount": "video",
    "Peacock": "video",
    "Tubi": "video",
    "RakutenViki": "video",
    # short video
    "TikTok": "short_video",
    "Douyin": "short_video",
    "Kuaishou": "short_video",
    "Likee": "short_video",
    # live streaming
    "Twitch": "live_streaming",
    "Huya": "live_streaming",
    "Douyu": "live_streaming",
    # games
    "Nintendo": "game",
    "CoD_Mobile": "game",
    "Roblox": "game",
    "RakNet": "game",
    "Steam": "game",
    "Xbox": "game",
    "Playstation": "game",
    "EpicGames": "game",
    "RiotGames": "game",
    "Blizzard": "game",
    "Activision": "game",
    "EAGames": "game",
    "Ubisoft": "game",
    "Mihoyo": "game",
    "GenshinImpact": "game",
    "Minecraft": "game",
    "Fortnite": "game",
    "PUBG": "game",
    "Supercell": "game",
    "LoL": "game",
    "Valorant": "game",
    "Garena": "game",
    "Rockstar": "game",
    "Among_Us": "game",
    # social
    "Facebook": "social",
    "Instagram": "social",
    "Pinterest": "social",
    "VK": "social",
    "Sina": "social",
    "SinaWeibo": "social",
    "Twitter": "social",
    "Reddit": "social",
    "LinkedIn": "social",
    "Snapchat": "social",
    "Tumblr": "social",
    "Threads": "social",
    "Xiaohongshu": "social",
    # messaging (chat, calls, e-mail)
    "WhatsApp": "messaging",
    "WhatsAppCall": "messaging",
    "WhatsAppFiles": "messaging",
    "WeChat": "messaging",
    "QQ": "messaging",
    "Telegram": "messaging",
    "Signal": "messaging",
    "Messenger": "messaging",
    "Line": "messaging",
    "LineCall": "messaging",
    "Viber": "messaging",
    "Discord": "messaging",
    "Skype": "messaging",
    "GMail": "messaging",
    "IMAPS": "messaging",
    "IMAP": "messaging",
    "POP3": "messaging",
    "POPS": "messaging",
    "SMTP": "messaging",
    "SMTPS": "messaging",
    "YandexMail": "messaging",
    "Outlook": "messaging",
    "KakaoTalk": "messaging",
    # shopping
    "Amazon": "shopping",
    "Alibaba": "shopping",
    "YandexMarket": "shopping",
    "eBay": "shopping",
    "Taobao": "shopping",
    "JD": "shopping",
    "Pinduoduo": "shopping",
    "Temu": "shopping",
    "Shein": "shopping",
    # app stores
    "PlayStore": "app_store",
    "AppleStore": "app_store",
    "HuaweiAppGallery": "app_store",
    # reading
    "Wikipedia": "reading",
    # music
    "Spotify": "music",
    "AppleiTunes": "music",
    "YandexMusic": "music",
    "Deezer": "music",
    "SoundCloud": "music",
    "Tidal": "music",
    "AppleMusic": "music",
    "Pandora": "music",
    # work
    "Zoom": "work",
    "Teams": "work",
    "Skype_Teams": "work",
    "Webex": "work",
    "GoogleDocs": "work",
    "GoogleMeet": "work",
    "Slack": "work",
    "Microsoft365": "work",
    "GitHub": "work",
    "OpenVPN": "work",
    "WireGuard": "work",
    "TeamViewer": "work",
    "AnyDesk": "work",
    # cloud
    "AppleiCloud": "cloud",
    "Dropbox": "cloud",
    "AmazonAWS": "cloud",
    "GoogleCloud": "cloud",
    "GoogleDrive": "cloud",
    "YandexCloud": "cloud",
    "YandexDisk": "cloud",
    "MS_OneDrive": "cloud",
    "Azure": "cloud",
    "AliCloud": "cloud",
    "TencentCloud": "cloud",
    # general web and platform services
    "Google": "web",
    "GoogleServices": "web",
    "DataSaver": "web",
    "ADS_Analytic_Track": "web",
    "Cloudflare": "web",
    "ntop": "web",
    "Yandex": "web",
    "YandexMetrika": "web",
    "YandexDirect": "web",
    "Apple": "web",
    "AppleSiri": "web",
    "Microsoft": "web",
    "Bing": "web",
    "Mozilla": "web",
    "Yahoo": "web",
    "Baidu": "web",
    "Xiaomi": "web",
    "Huawei": "web",
    "Samsung": "web",
    "GoogleMaps": "web",
    "AppleMaps": "web",
    # network plumbing
    "ApplePush": "other",
    "DoH_DoT": "other",
    # --- added with the dpi-more captures (issue 21); a comment on every choice that is not obvious ---
    "iQIYI": "video",
    "FbookReelStory": "social",  # reels and stories are watched inside Facebook's app
    "AmongUs": "game",
    "CryNetwork": "game",
    "GaijinEntertainment": "game",
    "Heroes_of_the_Storm": "game",
    "LoLWildRift": "game",
    "PathofExile": "game",
    "Source_Engine": "game",
    "Starcraft": "game",
    "WorldOfWarcraft": "game",
    "TES_Online": "game",
    "TocaBoca": "game",
    "TencentGames": "game",
    "Yojimbo": "game",  # a game netcode library: only games speak it
    # nDPI's i3D rule matches Discord voice's documented IP Discovery packet (type 1/2, length 70) on
    # i3D.net-hosted voice servers (its own IP column says Discord): what users do there is a voice chat.
    "i3D": "messaging",
    # Calls are messaging in our taxonomy (chat, calls, e-mail), whatever app places them; Teams calls
    # stay work like Teams itself.
    "OICQ": "messaging",  # QQ's own UDP protocol
    "IMO": "messaging",
    "SignalVoip": "messaging",
    "SnapchatCall": "messaging",
    "FacebookVoip": "messaging",
    "ViberVoip": "messaging",
    "Threema": "messaging",
    "GoogleChat": "messaging",
    "GoogleCall": "messaging",  # Google's calls (Meet/Duo/Chat) over its TURN relays: a call, not a meeting
    "Mumble": "messaging",
    "TeamSpeak": "messaging",  # voice chat (mostly among gamers), still calls
    "DingTalk": "work",  # Alibaba's workplace messenger, as in our table
    "Skype_TeamsCall": "work",
    "Syncthing": "cloud",  # file synchronisation between a home's own devices
    "Sonos": "music",
    "Waze": "web",  # navigation, like GoogleMaps/AppleMaps
    "WindowsUpdate": "background",
}


# nDPI's vendor buckets (Apple, Google, GoogleServices, Microsoft) hold both the vendor's interactive services
# and its devices' background endpoints: connectivity checks (captive.apple.com, connectivitycheck.gstatic.com),
# update catalogues (mesu.apple.com, update.googleapis.com), telemetry. We file the latter under
# ``background`` (nobody is using the device), so for these buckets either category is the reviewed one.
NDPI_ALSO_ACCEPTED: dict[str, str] = {
    "Apple": "background",
    "Google": "background",
    "GoogleServices": "background",
    "Microsoft": "background",
}


def repo_root() -> Path:
    """The repository root, found from this file (tests/agent/dpi/ndpi_reference.py)."""
    return Path(__file__).resolve().parents[3]


def shared_dpi_dir() -> Path:
    """``$HOMESCOPE_SHARED/testdata/dpi``, by default ``<repo>/../shared/testdata/dpi``."""
    shared = Path(os.environ.get("HOMESCOPE_SHARED", str(repo_root().parent / "shared")))
    return shared / "testdata" / "dpi"


def load_expected(directory: Path) -> list[dict[str, Any]]:
    """nDPI's parsed flow lines."""
    with open(directory / "expected_flows.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def is_ip_literal(host: str) -> bool:
    """An IPv4 or IPv6 address (optionally bracketed) rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _endpoint_key(text: str) -> str:
    """Normalise ``ip:port`` / ``[ip6]:port`` (nDPI misprints a few IPv6 endpoints) for matching."""
    text = text.strip()
    if text.startswith("["):
        addr, _, port = text[1:].partition("]:")
    else:
        addr, _, port = text.rpartition(":")
    with contextlib.suppress(ValueError):  # nDPI misprints a few IPv6 endpoints: keep their text
        addr = str(ipaddress.ip_address(addr))
    return f"{addr}|{port}"


def flow_match_key(pcap: str, l4: str, src: str, dst: str) -> tuple[str, str, frozenset[str]]:
    """Direction-independent identity of a flow within a capture."""
    return (Path(pcap).name, l4.upper(), frozenset((_endpoint_key(src), _endpoint_key(dst))))


def _loose_endpoint(text: str) -> str:
    """An endpoint reduced to its non-zero address groups and port, to match nDPI's misprinted IPv6
    (``[2600:1901::7a0b::]:443`` for ``[2600:1901:0:7a0b::]:443``)."""
    addr, _, port = _endpoint_key(text).partition("|")
    if ":" in addr:
        addr = ":".join(g.lstrip("0") for g in addr.split(":") if g.strip("0"))
    return f"{addr}|{port}"


def loose_match_key(pcap: str, l4: str, src: str, dst: str) -> tuple[str, str, frozenset[str]]:
    """Like :func:`flow_match_key` but tolerant of nDPI's IPv6 misprints."""
    return (Path(pcap).name, l4.upper(), frozenset((_loose_endpoint(src), _loose_endpoint(dst))))


@dataclass
class Agreement:
    """Counts and the disagreeing flows, for the report."""

    host_total: int = 0
    host_agree: int = 0
    category_total: int = 0
    category_agree: int = 0
    missing: int = 0
    host_misses: list[str] = field(default_factory=list)
    category_misses: list[str] = field(default_factory=list)
    unmapped_apps: Counter[str] = field(default_factory=Counter)
    not_found: list[str] = field(default_factory=list)

    @property
    def host_rate(self) -> float:
        """Share of hostname-bearing nDPI flows where our host matches."""
        return self.host_agree / self.host_total if self.host_total else 0.0

    @property
    def category_rate(self) -> float:
        """Share of application-named nDPI flows where our category is the mapped one."""
        return self.category_agree / self.category_total if self.category_total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Figures for JSON output."""
        return {
            "host_agreement": round(self.host_rate, 4),
            "host_flows": self.host_total,
            "host_agree": self.host_agree,
            "category_agreement": round(self.category_rate, 4),
            "category_flows": self.category_total,
            "category_agree": self.category_agree,
            "flows_not_found": self.missing,
        }


def compare(expected: Iterable[dict[str, Any]], ours: Iterable[dict[str, Any]]) -> Agreement:
    """Score our records against nDPI's for the same captures."""
    index: dict[tuple[str, str, frozenset[str]], list[dict[str, Any]]] = {}
    loose: dict[tuple[str, str, frozenset[str]], list[dict[str, Any]]] = {}
    for record in ours:
        key = flow_match_key(record["pcap"], record["l4"], record["src"], record["dst"])
        index.setdefault(key, []).append(record)
        key = loose_match_key(record["pcap"], record["l4"], record["src"], record["dst"])
        loose.setdefault(key, []).append(record)
    result = Agreement()
    for row in expected:
        if row["l4"] not in ("TCP", "UDP"):
            continue
        found = index.get(flow_match_key(row["pcap"], row["l4"], row["src"], row["dst"]))
        if not found:
            found = loose.get(loose_match_key(row["pcap"], row["l4"], row["src"], row["dst"]))
        mine = found[0] if found else None
        where = f"{Path(row['pcap']).name} {row['l4']} {row['src']} -> {row['dst']} [{row['proto']}]"
        if mine is None:
            result.missing += 1
            result.not_found.append(where)
        host = row.get("host") or ""
        if row["confidence"] == "DPI" and host and not is_ip_literal(host):
            result.host_total += 1
            wanted = host.replace("_", "*").lower()
            got = ((mine or {}).get("host") or "").lower()
            # nDPI writes '*' as '_': compare with '_' mapped back, and accept a literal '_' too.
            if got in (wanted, host.lower()):
                result.host_agree += 1
            else:
                result.host_misses.append(f"{where}: nDPI {host!r}, ours {got or None!r}")
        app = row["app"]
        if app in NDPI_GENERIC:
            continue
        if app not in NDPI_APP_CATEGORY:
            result.unmapped_apps[app] += 1
            continue
        result.category_total += 1
        wanted_category = NDPI_APP_CATEGORY[app]
        got_category = (mine or {}).get("category")
        if got_category == wanted_category or got_category == NDPI_ALSO_ACCEPTED.get(app):
            result.category_agree += 1
        else:
            result.category_misses.append(
                f"{where}: nDPI {app} -> {wanted_category}, ours {got_category} "
                f"(app {(mine or {}).get('app')}, host {(mine or {}).get('host')})"
            )
    return result


def importer_map() -> dict[str, str]:
    """nDPI application -> our category from the importer's reviewed map (``scripts/ndpi_map.tsv``)."""
    out: dict[str, str] = {}
    for raw in (repo_root() / "scripts" / "ndpi_map.tsv").read_text(encoding="utf-8").splitlines():
        fields = [f.strip() for f in raw.split("#", 1)[0].split("\t") if f.strip()]
        if len(fields) == 3:
            out[fields[0]] = fields[2]
    return out


# Every application the importer maps has the same reviewed category here (a test checks they agree), so the
# scoring knows the several hundred applications nDPI's host table names, not only those the captures show.
for _app, _category in importer_map().items():
    NDPI_APP_CATEGORY.setdefault(_app, _category)
