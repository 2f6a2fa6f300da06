"""Terminal types from names people and vendors really give devices (DHCP hostname, OUI vendor)."""

from __future__ import annotations

import pytest

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
