"""Pseudonyms and minimisation at ingest (collector/privacy/scrub.py)."""

from __future__ import annotations

import time

import pytest

from collector.ingest import Incoming, classify
from collector.privacy.scrub import Scrubber, hostname_class, vendor_class_class
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


VENDOR_CLASSES = ["android-dhcp-14", "MSFT 5.0", "udhcp 1.36.1", "dhcpcd-10.0.6:Linux-6.6.31+rpt-rpi-v8:aarch64:BCM2835",
                  "MSFT 98", "", "Cisco Systems, Inc. IP Phone CP-7960G"]


@pytest.mark.parametrize("vendor_class", VENDOR_CLASSES)
@pytest.mark.parametrize("hostname", ["android-5f3a9c", "Johns-iPhone", "DESKTOP-8F2K1", ""])
def test_a_minimised_vendor_class_classifies_the_terminal_as_the_full_one(vendor_class: str, hostname: str) -> None:
    prl = "1,3,6,15,31,33,43,44,46,47,119,121,249,252"
    reduced = vendor_class_class(vendor_class, hostname)
    assert terminal_type(hostname_class(hostname), "", reduced, prl) == terminal_type(hostname, "", vendor_class, prl)
    assert terminal_type("", "", reduced) == terminal_type("", "", vendor_class)


def test_vendor_classes_lose_what_could_identify_someone() -> None:
    assert vendor_class_class("dhcpcd-10.0.6:Linux-6.6.31+rpt-rpi-v8:aarch64:Raspberry Pi 4") == "dhcpcd-10.0.6"
    assert vendor_class_class("android-dhcp-14", "android-5f3a9c") == "android-dhcp-14"  # device words stay
    assert vendor_class_class("annas-cam", "Annas-Camera") == ""  # repeats a word someone gave the device
    assert vendor_class_class("VENDOR CAM 20240611883 v2") == "VENDOR CAM v2"  # serial-like runs go
    assert vendor_class_class("<script>" + "x" * 60) == "script" + "x" * 26


def test_the_scrubber_applies_it_to_stations() -> None:
    body = {"stations": [
        {"mac": "a4:83:e7:12:34:56", "hostname": "Annas-Camera", "dhcp_vc": "annas-cam", "dhcp_prl": "1,3,6"},
        {"mac": "a4:83:e7:12:34:57", "hostname": "Johns-iPhone", "dhcp_vc": "dhcpcd-9.4.1:Linux:x86_64"},
    ]}
    Scrubber(b"k" * 32).body("report", body)
    first, second = body["stations"]
    assert "dhcp_vc" not in first and first["dhcp_prl"] == "1,3,6" and first["hostname"] == "camera"
    assert second["dhcp_vc"] == "dhcpcd-9.4.1" and second["hostname"] == "iphone"
