"""Pseudonyms and minimisation at ingest (collector/privacy/scrub.py)."""

from __future__ import annotations

import time

import pytest

from collector.ingest import Incoming, classify
from collector.privacy.scrub import Scrubber, hostname_class
from collector.profiles.terminals import HOSTNAME_TYPES, terminal_type
from collector.store import SpooledMessage
from protocol.codec import decode_stored, encode
from protocol.topics import topic_for
from tests.protocol.messages import report

HOSTNAMES = [
    "Johns-iPhone", "Living-Room-TV", "michael", "Marys-MacBook-Pro", "DESKTOP-8F2K1", "android-5f3a9c",
    "Galaxy-S23", "Kitchen-Echo", "ring-doorbell", "HP-LaserJet-4250", "Synology-NAS", "PS5-Console",
    "kobo-clara", "anna", "", "x", "Fitbit-Versa", "iPad-of-Emma", "roborock-s7", "yealink-t46",
]  # fmt: skip


@pytest.mark.parametrize("hostname", HOSTNAMES + [p for _, ps in HOSTNAME_TYPES for p in ps])
@pytest.mark.parametrize("vendor", ["", "Apple", "Espressif Inc."])
def test_a_minimised_hostname_classifies_the_terminal_as_the_full_one(hostname: str, vendor: str) -> None:
    assert terminal_type(hostname_class(hostname), vendor) == terminal_type(hostname, vendor)


def test_minimised_hostnames_drop_names() -> None:
    assert hostname_class("Johns-iPhone") == "iphone"
    assert hostname_class("anna") == "" and "michael" not in hostname_class("michael")


def test_mac_pseudonyms_keep_the_vendor_prefix_and_depend_on_the_key() -> None:
    one, two = Scrubber(b"k" * 32), Scrubber(b"j" * 32)
    mac = "A4:83:E7:12:34:56"
    assert one.mac(mac) == one.mac(mac.lower()) == one.mac("a4-83-e7-12-34-56")
    assert one.mac(mac).startswith("a4:83:e7:") and one.mac(mac) != mac.lower()
    assert one.mac(mac) != two.mac(mac)
    assert one.mac("wan_gateway") == "wan_gateway"  # not a MAC: left alone


def test_a_scrubbed_report_is_a_valid_frame_with_the_same_key() -> None:
    msg = classify(Incoming(topic_for("gw-s", "report"), encode(report("gw-s", seq=3)), 1, 1, time.time()))
    assert isinstance(msg, SpooledMessage)
    out = Scrubber(b"k" * 32).message(msg)
    assert (out.gateway_id, out.epoch, out.seq, out.kind) == (msg.gateway_id, msg.epoch, msg.seq, msg.kind)
    stored = decode_stored(out.payload)["body"]
    assert stored == out.body and stored["stations"][0]["mac"] != msg.body["stations"][0]["mac"]
    assert Scrubber(b"k" * 32).message(msg).payload == out.payload  # a resend is stored as the same bytes
