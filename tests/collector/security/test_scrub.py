"""Pseudonyms and minimisation at ingest (collector/privacy/scrub.py)."""

from __future__ import annotations

import copy
import time
from typing import Any

import msgspec
import pytest

from collector.ingest import Incoming, classify
from collector.ingest.triage import OVERSIZE_HEAD
from collector.privacy.scrub import Scrubber, hostname_class, vendor_class_class
from collector.profiles.terminals import HOSTNAME_TYPES, terminal_type
from collector.store import QuarantinedMessage, SpooledMessage
from protocol.codec import decode_stored, decode_unframed, encode, unframe
from protocol.topics import topic_for
from tests.protocol.messages import event, report

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


def _spooled(message: dict[str, Any]) -> SpooledMessage:
    kind = str(message["kind"])
    out = classify(Incoming(topic_for(str(message["gateway_id"]), kind), encode(message), 1, 1, time.time()))
    assert isinstance(out, SpooledMessage)
    return out


PERSONAL = {
    "stations": [
        {"mac": "a4:83:e7:00:00:01", "hostname": "Johns-iPhone", "medium": "5GHz", "signal_dbm": -55},
        {"mac": "b8:27:eb:00:00:02", "hostname": "Living-Room-TV", "medium": "2.4GHz"},
    ],
    "apps": [
        {"station": "a4:83:e7:00:00:01", "category": "video", "bytes_down": 10, "top_apps": ["YouTube"]}
    ],
    "quality": [
        {"target": "b8:27:eb:00:00:02", "delay_ms": 3.5},
        {"target": "internet", "delay_ms": 20.0},
    ],
    "neighbours": [
        {"bssid": "00:11:22:33:44:55", "ssid": "Smith family", "signal_dbm": -70, "band": "2.4GHz"}
    ],
}


@pytest.mark.parametrize("keep_names", [False, True])
def test_the_rewrite_decodes_only_personal_parts_and_writes_what_a_whole_rewrite_writes(
    keep_names: bool,
) -> None:
    msg = _spooled(report("gw-parts", seq=4, **PERSONAL))
    scrubber = Scrubber(b"k" * 32, keep_neighbour_names=keep_names)
    out = scrubber.message(msg)
    whole = decode_unframed(msg.packed)  # the reference: every part decoded and rewritten
    scrubber.body("report", whole["body"])
    assert decode_stored(out.payload) == decode_unframed(out.packed) == whole
    assert out.packed == msgspec.msgpack.encode(whole)  # byte for byte what the whole rewrite writes
    stations = whole["body"]["stations"]
    assert stations[0]["mac"].startswith("a4:83:e7:") and stations[0]["mac"] != "a4:83:e7:00:00:01"
    assert [s["hostname"] for s in stations] == ["iphone", "tv"]
    assert whole["body"]["apps"][0]["station"] == stations[0]["mac"]
    assert whole["body"]["quality"][0]["target"] == stations[1]["mac"]
    nb = whole["body"]["neighbours"][0]
    assert ("ssid" in nb, nb["bssid"] == "00:11:22:33:44:55") == (keep_names, keep_names)
    # parts without personal data are copied as the bytes they came in
    raw = msgspec.msgpack.Decoder(dict[str, msgspec.Raw])
    before, after = raw.decode(raw.decode(msg.packed)["body"]), raw.decode(raw.decode(out.packed)["body"])
    for part in ("samplers", "system", "interfaces"):
        assert bytes(after[part]) == bytes(before[part])


def test_an_event_batch_is_rewritten_and_flow_events_dropped() -> None:
    batch = event("gw-ev")
    batch["body"]["events"] += [
        {"type": "flow", "ts": 1_700_000_055, "mac": "a4:83:e7:00:00:09", "hostname": "Marys-MacBook-Pro"},
        {"type": "station_join", "ts": 1_700_000_056, "mac": "a4:83:e7:00:00:03", "hostname": "anna"},
    ]
    out = Scrubber(b"k" * 32).message(_spooled(batch))
    events = decode_stored(out.payload)["body"]["events"]
    assert [e["type"] for e in events] == ["station_join", "station_join"]
    assert all(
        e["mac"].startswith("a4:83:e7:") and e["mac"] not in ("a4:83:e7:00:00:02", "a4:83:e7:00:00:03")
        for e in events
    )
    assert events[1]["hostname"] == ""
    assert (
        Scrubber(b"k" * 32, store_dpi_debug=True).message(_spooled(batch)).body["events"][1]["type"] == "flow"
    )


def _refused(message: dict[str, Any] | bytes) -> QuarantinedMessage:
    payload = message if isinstance(message, bytes) else encode(message)
    out = classify(Incoming(topic_for("gw-q", "report"), payload, 1, 1, time.time()))
    assert isinstance(out, QuarantinedMessage)
    return out


def test_a_refused_report_is_quarantined_with_pseudonyms_wherever_its_fields_sit() -> None:
    bad = report("gw-q", seq=5, **copy.deepcopy(PERSONAL))
    bad["body"]["stations"][0]["signal_dbm"] = "strong"  # refused: the rest must still be rewritten
    bad["body"]["odd"] = {"a4:83:e7:00:00:01": "seen by b8:27:eb:00:00:02", "ssid": "Smith family"}
    q = _refused(bad)
    scrubber = Scrubber(b"k" * 32)
    kept = scrubber.quarantined(q)
    text = decode_stored(kept.payload)
    flat = repr(text).lower()
    for clear in (
        "a4:83:e7:00:00:01",
        "b8:27:eb:00:00:02",
        "00:11:22:33:44:55",
        "johns",
        "living-room",
        "smith",
    ):
        assert clear not in flat, clear
    stations = text["body"]["stations"]
    assert stations[0]["mac"] == scrubber.mac("a4:83:e7:00:00:01") and stations[1]["hostname"] == "tv"
    assert text["body"]["system"] == bad["body"]["system"]  # what holds no personal data is kept as it came
    assert (kept.reason, kept.gateway_id, kept.topic) == (q.reason, q.gateway_id, q.topic)


def test_a_payload_that_does_not_decode_keeps_only_its_frame_header() -> None:
    junk = b"hs\x00" + b"\xc1 a4:83:e7:00:00:01 Johns-iPhone"  # 0xc1 is never used in msgpack
    kept = Scrubber(b"k" * 32).quarantined(_refused(junk))
    assert kept.payload == b"hs\x00" and f"{len(junk)} bytes not kept" in kept.detail


def test_a_flood_quarantined_over_quota_keeps_pseudonyms_only() -> None:
    # collector/ingest/client.py keeps the head of the rewritten frame, not of the one received
    msg = _spooled(report("gw-quota", seq=6, **PERSONAL))
    head = Scrubber(b"k" * 32).message(msg).payload[:OVERSIZE_HEAD]
    assert b"a4:83:e7:00:00:01" not in head and b"a4:83:e7:00:00:01" not in unframe(head)


VENDOR_CLASSES = [
    "android-dhcp-14",
    "MSFT 5.0",
    "udhcp 1.36.1",
    "dhcpcd-10.0.6:Linux-6.6.31+rpt-rpi-v8:aarch64:BCM2835",
    "MSFT 98",
    "",
    "Cisco Systems, Inc. IP Phone CP-7960G",
]


@pytest.mark.parametrize("vendor_class", VENDOR_CLASSES)
@pytest.mark.parametrize("hostname", ["android-5f3a9c", "Johns-iPhone", "DESKTOP-8F2K1", ""])
def test_a_minimised_vendor_class_classifies_the_terminal_as_the_full_one(
    vendor_class: str, hostname: str
) -> None:
    prl = "1,3,6,15,31,33,43,44,46,47,119,121,249,252"
    reduced = vendor_class_class(vendor_class, hostname)
    assert terminal_type(hostname_class(hostname), "", reduced, prl) == terminal_type(
        hostname, "", vendor_class, prl
    )
    assert terminal_type("", "", reduced) == terminal_type("", "", vendor_class)


def test_vendor_classes_lose_what_could_identify_someone() -> None:
    assert (
        vendor_class_class("dhcpcd-10.0.6:Linux-6.6.31+rpt-rpi-v8:aarch64:Raspberry Pi 4") == "dhcpcd-10.0.6"
    )
    assert vendor_class_class("android-dhcp-14", "android-5f3a9c") == "android-dhcp-14"  # device words stay
    assert vendor_class_class("annas-cam", "Annas-Camera") == ""  # repeats a word someone gave the device
    assert vendor_class_class("VENDOR CAM 20240611883 v2") == "VENDOR CAM v2"  # serial-like runs go
    assert vendor_class_class("<script>" + "x" * 60) == "script" + "x" * 26


def test_the_scrubber_applies_it_to_stations() -> None:
    body = {
        "stations": [
            {
                "mac": "a4:83:e7:12:34:56",
                "hostname": "Annas-Camera",
                "dhcp_vc": "annas-cam",
                "dhcp_prl": "1,3,6",
            },
            {"mac": "a4:83:e7:12:34:57", "hostname": "Johns-iPhone", "dhcp_vc": "dhcpcd-9.4.1:Linux:x86_64"},
        ]
    }
    Scrubber(b"k" * 32).body("report", body)
    first, second = body["stations"]
    assert "dhcp_vc" not in first and first["dhcp_prl"] == "1,3,6" and first["hostname"] == "camera"
    assert second["dhcp_vc"] == "dhcpcd-9.4.1" and second["hostname"] == "iphone"


def test_a_report_naming_a_static_view_is_rewritten_whole_view_included() -> None:
    # protocol 1.2: the view holds names too, and ingest merges it into every section afterwards
    envelope = report("gw-view", seq=9, **copy.deepcopy(PERSONAL))
    envelope["body"]["view"] = {
        "id": 7,
        "stations": [{"mac": "a4:83:e7:00:00:01", "hostname": "Johns-iPhone"}],
    }
    packed = msgspec.msgpack.encode(envelope)
    msg = SpooledMessage("gw-view", 7, 9, "report", 0, 900, 1, 1, 1.0, None, b"", packed)
    seen: list[dict[str, Any]] = []
    scrubber = Scrubber(b"k" * 32)
    out = scrubber.message(msg, lambda gateway_id, body: seen.append(body))
    whole = decode_unframed(packed)
    scrubber.body("report", whole["body"])
    assert out.decoded == seen[0] == whole["body"] == decode_unframed(out.packed)["body"]
    assert whole["body"]["view"]["stations"][0] == {
        "mac": scrubber.mac("a4:83:e7:00:00:01"),
        "hostname": "iphone",
    }


def test_a_stored_frame_uses_the_preset_dictionary_and_is_smaller_than_plain_deflate() -> None:
    # level 0 with protocol 1.2's dictionary is both faster and smaller than level 1 without it;
    # anyone holding the published dictionary reads the frame with plain zlib
    import zlib

    from agent.runner import report_frame
    from emulator.home import VirtualHome
    from protocol.codec import FLAG_DICTIONARY, FLAG_ZLIB, HEADER_LEN
    from protocol.dictionaries import dictionary

    scrubber, stored, plain = Scrubber(b"k" * 32), 0, 0
    for i in range(40):
        home = VirtualHome(f"gw-dict-{i}", 900 + i)
        end = 1_700_000_000 + 900 * (i + 1)
        frame = report_frame(home.gateway_id, 1, 1, (end - 900, end), 9, home.report_body(900, end), end)
        message = classify(Incoming(topic_for(home.gateway_id, "report"), frame, 1, 1, time.time()))
        assert isinstance(message, SpooledMessage)
        out = scrubber.message(message)
        assert out.payload[HEADER_LEN - 1] == FLAG_ZLIB | FLAG_DICTIONARY
        inflater = zlib.decompressobj(zdict=dictionary(out.payload[HEADER_LEN]))
        assert inflater.decompress(out.payload[HEADER_LEN + 1 :]) + inflater.flush() == out.packed
        assert unframe(out.payload) == out.packed
        stored += len(out.payload)
        plain += HEADER_LEN + len(zlib.compress(out.packed, 1))
    assert stored < 0.9 * plain, (stored, plain)
