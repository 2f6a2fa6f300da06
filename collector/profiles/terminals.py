"""What a terminal is, from its DHCP hostname, its vendor (OUI) and its DHCP client: data, plus one lookup.

Hostnames are split into tokens (``"Living-Room-TV"`` -> ``living``, ``room``, ``tv``) and a
type matches when a token starts with one of its prefixes; the first type in table order
wins, so specific kinds come before general ones. When no token matches, the vendor
decides; then the DHCP client the terminal runs (its vendor class, option 60, and the options
it requests, option 55: see :data:`DHCP_VENDOR_TYPES`, :data:`DHCP_OPTION_TYPES`). Unknown stays
unknown: a guess would make labels less explainable.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: (type, hostname token prefixes), most specific first.
HOSTNAME_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("nas", ("nas", "synology", "diskstation", "qnap", "truenas")),
    ("printer", ("printer", "laserjet", "officejet", "deskjet", "epson", "brother", "canon", "mfc")),
    ("voip", ("voip", "yealink", "polycom", "grandstream", "sipphone", "ipphone")),
    ("workstation", ("workstation", "corp", "vpn", "thinkcentre", "optiplex")),
    ("console", ("ps4", "ps5", "playstation", "xbox", "switch", "nintendo", "steamdeck", "steam", "quest",
                 "oculus", "wii")),
    ("ereader", ("kindle", "kobo", "ereader", "boox")),
    ("tv", ("tv", "smarttv", "firetv", "appletv", "chromecast", "roku", "bravia", "shield", "mibox")),
    ("speaker", ("echo", "homepod", "sonos", "speaker", "nestaudio", "googlehome", "xiaoai", "alexa")),
    ("camera", ("camera", "cam", "ipcam", "doorbell", "arlo", "ezviz", "wyze", "hikvision", "imou", "reolink",
                "blink", "ring")),
    ("plug", ("plug", "socket", "outlet", "kasa", "smartplug")),
    ("iot", ("bulb", "light", "thermostat", "vacuum", "roborock", "robot", "sensor", "lock",
             "fridge", "washer", "aircon", "tuya", "shelly", "hue", "esp", "esp32", "esp8266", "nest")),
    ("wearable", ("watch", "band", "fitbit", "amazfit", "garmin", "forerunner", "fenix", "vivoactive",
                  "whoop", "oura")),
    ("tablet", ("ipad", "tablet", "tab", "matepad", "mipad")),
    ("computer", ("macbook", "imac", "laptop", "desktop", "notebook", "thinkpad", "surface", "pc",
                  "mac", "ubuntu", "chromebook")),
    ("phone", ("iphone", "galaxy", "pixel", "redmi", "xiaomi", "huawei", "oppo", "vivo", "oneplus",
               "honor", "android", "phone", "mi")),
)  # fmt: skip

#: (vendor substring, type) when the hostname says nothing.
VENDOR_TYPES: tuple[tuple[str, str], ...] = (
    ("synology", "nas"),
    ("qnap", "nas"),
    ("yealink", "voip"),
    ("polycom", "voip"),
    ("grandstream", "voip"),
    ("brother", "printer"),
    ("epson", "printer"),
    ("canon", "printer"),
    ("sonos", "speaker"),
    ("roku", "tv"),
    ("nintendo", "console"),
    ("sony interactive", "console"),
    ("hikvision", "camera"),
    ("ring", "camera"),
    ("espressif", "iot"),
    ("tuya", "iot"),
    ("tp-link kasa", "plug"),
    ("garmin", "wearable"),
    ("fitbit", "wearable"),
    ("oculus", "console"),
    ("valve", "console"),
    ("philips lighting", "iot"),
    ("irobot", "iot"),
)

#: (vendor class prefix, type): DHCP clients whose makers document the string they send and that
#: run on one kind of terminal. Compared lower-case. Sources: Android's DhcpClient (AOSP
#: ``DhcpPacket``, "android-dhcp-" + release: phones and tablets; Android TVs and watches name
#: themselves or their vendor first), Microsoft's DHCP client ("MSFT 5.0" since Windows 2000, "MSFT 98"),
#: dhcpcd's ``vendorclassid`` default ("dhcpcd-<version>:<os>...": desktop Linux, Raspberry Pi OS,
#: the BSDs). BusyBox's "udhcp <version>" is left out on purpose: it runs on cameras and plugs but
#: also on operators' set-top boxes, whose viewing must never be taken for a device's background.
DHCP_VENDOR_TYPES: tuple[tuple[str, str], ...] = (
    ("android-dhcp-", "phone"),
    ("msft 5.0", "computer"),
    ("msft 98", "computer"),
    ("dhcpcd-", "computer"),
)
#: (option code, type): options in the request list (55) that only one kind of client asks for,
#: from the option's own documentation (IANA's BOOTP/DHCP parameters registry names the owners):
#: 150, the TFTP server of Cisco IP phones (Cisco's IP phone provisioning guides); 160, Polycom
#: phones' provisioning server (Polycom UC software admin guide); 242, Avaya IP phones (Avaya's
#: IP phone installation guides); 249, Microsoft's classless static routes option (Microsoft's
#: DHCP options reference), requested by Windows' DHCP client and by ISC dhclient's default
#: configuration on desktop Linux, both computers. Fingerbank's database (ODbL 1.0: share-alike
#: for a derived database) was read for nothing here and not used.
DHCP_OPTION_TYPES: tuple[tuple[int, str], ...] = (
    (150, "voip"),
    (160, "voip"),
    (242, "voip"),
    (249, "computer"),
)

#: Terminals that make a home "smart" (the mesh/FTTR offer counts these).
SMART_TYPES = frozenset({"tv", "speaker", "camera", "iot", "plug"})
#: Terminals whose traffic is the device's own, never a person's use: it is counted apart
#: and never makes a home active (a TV, a speaker or a console is somebody watching,
#: listening or playing; a plug or a camera is not).
BACKGROUND_TYPES = frozenset({"iot", "plug", "camera", "printer", "nas"})
#: Enterprise/work terminals (the SOHO label counts these).
WORK_TYPES = frozenset({"printer", "nas", "voip", "workstation"})
TYPES = (*(t for t, _ in HOSTNAME_TYPES), "unknown")

_TOKEN = re.compile(r"[^a-z0-9]+")
#: Prefixes shorter than this match whole tokens only.
MIN_PREFIX = 4


def hostname_match(hostname: str) -> tuple[str, str] | None:
    """(type, the table word that matched) for ``hostname``, or ``None`` when no token matches.

    A short word must be a whole token ("cam" is a camera, "camila-iphone" is not); the first
    type in table order wins. The privacy scrubber keeps only the matched word.
    """
    tokens = [t for t in _TOKEN.split(hostname.lower()) if t]
    for kind, prefixes in HOSTNAME_TYPES:
        for token in tokens:
            for p in prefixes:
                if token == p or (len(p) >= MIN_PREFIX and token.startswith(p)):
                    return kind, p
    return None


def dhcp_type(vendor_class: str, parameters: str) -> str | None:
    """The type a DHCP client implies (vendor class first, then the options it requests), or None."""
    low = vendor_class.lower()
    for prefix, kind in DHCP_VENDOR_TYPES:
        if low.startswith(prefix):
            return kind
    if parameters:
        requested = set(parameters.split(","))
        for code, kind in DHCP_OPTION_TYPES:
            if str(code) in requested:
                return kind
    return None


@lru_cache(maxsize=65536)
def terminal_type(hostname: str, vendor: str, dhcp_vc: str = "", dhcp_prl: str = "") -> str:
    """The terminal's type (one of :data:`TYPES`): its name, its vendor, then its DHCP client."""
    found = hostname_match(hostname)
    if found is not None:
        return found[0]
    low = vendor.lower()
    for needle, kind in VENDOR_TYPES:
        if needle in low:
            return kind
    return dhcp_type(dhcp_vc, dhcp_prl) or "unknown"
