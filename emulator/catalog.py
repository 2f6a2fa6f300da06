"""What virtual homes are made of: kinds of terminals (names, vendors, bands) and applications.

Data only. Hostnames and vendors look like what DHCP and the OUI table give on real
gateways, so the collector's terminal classifier sees realistic input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceKind:
    """A kind of terminal a virtual home can hold."""

    kind: str
    hostnames: tuple[str, ...]
    vendors: tuple[tuple[str, str], ...]  # (OUI prefix, vendor)
    media: tuple[str, ...]  # drawn from, per terminal
    mobile: bool = False  # leaves the home on weekdays (phones, laptops)


DEVICES: dict[str, DeviceKind] = {
    d.kind: d
    for d in (
        DeviceKind(
            "phone",
            ("iphone", "galaxy-s23", "redmi-note", "pixel-8", "huawei-p60"),
            (("a4:83:e7", "Apple"), ("8c:f5:a3", "Samsung"), ("28:6c:07", "Xiaomi"), ("3c:5a:b4", "Google")),
            ("5GHz", "5GHz", "2.4GHz"),
            mobile=True,
        ),
        DeviceKind(
            "tablet",
            ("ipad", "galaxy-tab", "matepad"),
            (("f0:18:98", "Apple"), ("8c:f5:a3", "Samsung")),
            ("5GHz", "2.4GHz"),
        ),
        DeviceKind(
            "laptop",
            ("macbook-air", "laptop", "thinkpad-x1"),
            (("3c:22:fb", "Apple"), ("54:e1:ad", "Lenovo"), ("00:e0:4c", "Realtek")),
            ("5GHz", "5GHz", "2.4GHz"),
            mobile=True,
        ),
        DeviceKind(
            "desktop", ("desktop", "imac", "gaming-pc"), (("00:e0:4c", "Realtek"), ("3c:22:fb", "Apple")), ("wired",)
        ),
        DeviceKind(
            "tv",
            ("living-room-tv", "bravia-tv", "firetv-stick", "bedroom-tv"),
            (("44:65:0d", "Amazon"), ("f8:4e:17", "Sony"), ("8c:f5:a3", "Samsung")),
            ("5GHz", "2.4GHz", "wired"),
        ),
        DeviceKind(
            "console", ("ps5", "xbox-series", "switch"), (("00:d9:d1", "Sony Interactive"), ("98:b6:e9", "Nintendo")),
            ("5GHz", "wired"),
        ),
        DeviceKind(
            "speaker", ("echo-dot", "homepod-mini", "sonos-one"), (("44:65:0d", "Amazon"), ("f0:18:98", "Apple")),
            ("2.4GHz",),
        ),
        DeviceKind(
            "camera", ("ezviz-cam", "doorbell", "garden-camera"), (("d4:6d:6d", "Hikvision"), ("90:48:6c", "Ring")),
            ("2.4GHz",),
        ),
        DeviceKind(
            "iot",
            ("smart-plug", "hue-bulb", "roborock-vacuum", "thermostat"),
            (("24:0a:c4", "Espressif"), ("d8:1f:12", "Tuya"), ("00:17:88", "Philips Lighting")),
            ("2.4GHz",),
        ),
        DeviceKind("watch", ("apple-watch", "galaxy-watch"), (("a4:83:e7", "Apple"),), ("2.4GHz",), mobile=True),
        DeviceKind("ereader", ("kindle", "kobo-clara"), (("44:65:0d", "Amazon"),), ("2.4GHz",)),
        DeviceKind("printer", ("hp-laserjet", "brother-printer", "epson-printer"), (("00:80:77", "Brother"),), ("2.4GHz", "wired")),
        DeviceKind("nas", ("synology-nas", "diskstation"), (("00:11:32", "Synology"),), ("wired",)),
        DeviceKind("voip", ("yealink-phone", "polycom-desk"), (("80:5e:c0", "Yealink"),), ("wired",)),
        DeviceKind("workstation", ("corp-laptop", "workstation"), (("54:e1:ad", "Lenovo"),), ("5GHz", "wired")),
    )
}  # fmt: skip

#: Applications per DPI category (``agent.dpi.classifier.CATEGORIES``).
APPS: dict[str, tuple[str, ...]] = {
    "video": ("YouTube", "Netflix", "Tencent Video", "iQIYI", "Disney+"),
    "short_video": ("TikTok", "Douyin", "Kuaishou", "Instagram Reels"),
    "live_streaming": ("Twitch", "Douyin Live", "YouTube Live", "Bilibili Live"),
    "game": ("Honor of Kings", "PUBG Mobile", "Steam", "Fortnite", "Genshin Impact"),
    "social": ("Facebook", "Instagram", "Weibo", "Xiaohongshu"),
    "messaging": ("WhatsApp", "WeChat", "Telegram"),
    "shopping": ("Taobao", "Amazon", "JD"),
    "app_store": ("App Store", "Google Play", "Steam Downloads"),
    "operator": ("Operator Portal",),
    "reading": ("Kindle", "WeRead", "Medium", "Pocket"),
    "music": ("Spotify", "QQ Music", "Apple Music"),
    "work": ("Microsoft Teams", "Zoom", "DingTalk", "Slack", "Office 365"),
    "cloud": ("iCloud", "OneDrive", "Baidu Netdisk", "Dropbox"),
    "web": ("Web",),
    "other": ("Unknown",),
}

#: Competitor operators: (operator hint, SSID prefix). Our own operator's SSIDs carry no hint.
COMPETITORS = (("Orange", "Livebox-"), ("Free", "Freebox-"), ("SFR", "SFR_"))
OWN_SSID = "Bbox-"
