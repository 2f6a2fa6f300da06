"""Terminal types from names people and vendors really give devices (DHCP hostname, OUI vendor) and from
the DHCP clients they run (vendor class, request list)."""

from __future__ import annotations

import pytest

from collector.profiles.config import load_config
from collector.profiles.quality import terminals_of
from collector.profiles.terminals import BACKGROUND_TYPES, TYPES, terminal_type

NAMED = [
    # consoles, named plainly
    ("PS5-123", "", "console"), ("PlayStation-4", "", "console"), ("Xbox-Series-X", "", "console"),
    ("Nintendo-Switch", "", "console"), ("steamdeck", "", "console"), ("Steam-Deck", "", "console"),
    ("Meta-Quest-3", "", "console"), ("Oculus-Quest", "", "console"), ("", "Sony Interactive Entertainment", "console"),
    # wearables
    ("Apple-Watch", "", "wearable"), ("Galaxy-Watch5", "", "wearable"), ("Mi-Smart-Band-7", "", "wearable"),
    ("Forerunner-265", "", "wearable"), ("Amazfit-GTR-4", "", "wearable"), ("", "Garmin International", "wearable"),
    # devices that are nobody's use
    ("Kasa-Smart-Plug", "", "plug"), ("smart-plug-hall", "", "plug"), ("shelly-plug-s", "", "plug"),
    ("Front-Door-Cam", "", "camera"), ("ezviz-c6n", "", "camera"), ("Reolink-E1", "", "camera"),
    ("", "Hangzhou Hikvision Digital", "camera"), ("Hue-Bridge", "", "iot"), ("", "Espressif Inc.", "iot"),
    # screens and speakers are people's
    ("Living-Room-TV", "", "tv"), ("LG-webOS-TV", "", "tv"), ("Echo-Dot", "", "speaker"), ("Sonos-Move", "", "speaker"),
    ("iPhone-de-Lucas", "", "phone"), ("MacBook-Air", "", "computer"), ("", "", "unknown"),
    # short words are whole words: not a camera, a TV or a NAS
    ("Camila-iPhone", "", "phone"), ("tvrtko-laptop", "", "computer"), ("Nastya-Galaxy-S23", "", "phone"),
    ("esp32-a1b2c3", "", "iot"),
]  # fmt: skip


@pytest.mark.parametrize(("hostname", "vendor", "kind"), NAMED)
def test_realistic_names(hostname: str, vendor: str, kind: str) -> None:
    assert terminal_type(hostname, vendor) == kind


def test_background_types_are_devices_not_people() -> None:
    assert set(TYPES) >= BACKGROUND_TYPES
    assert not BACKGROUND_TYPES & {"tv", "speaker", "console", "phone", "computer", "tablet", "unknown"}


# What the DHCP client says (protocol 1.2), for terminals whose name and vendor say nothing: vendor classes
# as their clients document them, request lists with an option only one kind of client asks for.
WINDOWS_PRL = "1,3,6,15,31,33,43,44,46,47,119,121,249,252"
DHCP = [
    ("", "", "android-dhcp-14", "1,3,6,15,26,28,51,58,59,43,114", "phone"),
    ("", "", "MSFT 5.0", WINDOWS_PRL, "computer"), ("", "", "", WINDOWS_PRL, "computer"),
    ("", "", "dhcpcd-10.0.6", "1,121,33,3,6,28,51,58,59", "computer"),
    ("", "", "", "1,66,6,3,15,150,35", "voip"), ("", "", "", "1,28,66,3,4,42,2,6,15,160", "voip"),
    # BusyBox runs on cameras and on set-top boxes alike: it says nothing
    ("", "", "udhcp 1.36.1", "1,3,6,12,15,28,42", "unknown"), ("", "", "", "1,3,6,15", "unknown"),
    # the name, then the vendor, come first: an Android TV, a Wear OS watch, a console on Windows' stack
    ("MiBOX4", "", "android-dhcp-9", "", "tv"), ("", "Garmin International", "android-dhcp-13", "", "wearable"),
    ("XboxOne", "", "MSFT 5.0", WINDOWS_PRL, "console"),
]  # fmt: skip


@pytest.mark.parametrize(("hostname", "vendor", "vendor_class", "prl", "kind"), DHCP)
def test_dhcp_fingerprints(hostname: str, vendor: str, vendor_class: str, prl: str, kind: str) -> None:
    assert terminal_type(hostname, vendor, vendor_class, prl) == kind


def test_the_profile_types_an_unnamed_terminal_by_its_dhcp_client() -> None:
    tm = {
        "a": [900, "", "", "5GHz", 96, "MSFT 5.0", WINDOWS_PRL, 900],
        "b": [900, "", "", "5GHz", 96],
        "c": [900, "", "", "wired", 96, "", "1,66,6,3,15,150,35", 900],
    }
    found = terminals_of({"tm": tm}, 1.0, load_config())
    assert {t.mac: t.type for t in found.items} == {"a": "computer", "b": "unknown", "c": "voip"}
    assert found.work == 1
