"""``protocol.inbound.accept``: the one way in, its records, and the log when a report leaves the fast way."""

from __future__ import annotations

import logging
import time

import msgpack
import pytest

from protocol import inbound
from protocol.codec import encode
from protocol.errors import Reason
from protocol.inbound import Accepted, Refused, _FastPathWatch, accept
from protocol.topics import topic_for
from tests.protocol.messages import event, report, status

GW = "gw-in"


def test_a_report_is_accepted_with_its_key_window_and_unframed_body() -> None:
    message = report(GW, seq=7)
    got = accept(encode(message, compress=True), topic_for(GW, "report"))
    assert type(got) is Accepted and got.spooled
    assert got.key == (GW, message["epoch"], 7)
    assert (got.window_start, got.window_end, got.uptime_s, got.sent_at) == (
        message["window_start"], message["window_end"], message["uptime_s"], message["sent_at"]
    )  # fmt: skip
    assert msgpack.unpackb(got.packed) == message  # inflated once, kept for the store writer


def test_an_event_batch_and_a_status_are_accepted_as_their_kinds() -> None:
    got = accept(encode(event(GW)), topic_for(GW, "event"))
    assert type(got) is Accepted and got.kind == "event" and got.spooled
    got = accept(encode(status(GW, "offline")), topic_for(GW, "status"))
    assert type(got) is Accepted and (got.kind, got.state, got.spooled) == ("status", "offline", False)


def test_an_invalid_record_on_its_own_topic_is_refused_with_its_own_key() -> None:
    bad = report(GW, seq=9)
    bad["body"]["system"] = {"cpu_usage_pct": 400.0}
    got = accept(encode(bad), topic_for(GW, "report"))
    assert type(got) is Refused and got.reason == Reason.INVALID.value
    assert got.own_key == (GW, bad["epoch"], 9) and "cpu_usage_pct" in got.detail


def test_another_gateways_record_is_refused_without_a_key() -> None:
    got = accept(encode(report("gw-other", seq=1)), topic_for(GW, "report"))
    assert type(got) is Refused and (got.reason, got.gateway_id, got.own_key) == (
        Reason.IDENTITY_MISMATCH.value, GW, None
    )  # fmt: skip


def test_a_bad_topic_and_an_oversize_payload_are_named() -> None:
    got = accept(encode(report(GW)), "elsewhere/x")
    assert type(got) is Refused and (got.reason, got.gateway_id) == (Reason.BAD_TOPIC.value, None)
    got = accept(b"hs\x00", topic_for(GW, "report"), wire_size=10_000_000)
    assert type(got) is Refused and got.reason == Reason.OVERSIZE.value


def test_a_decoder_bug_costs_one_message_not_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(body: bytes) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(inbound, "closed_message", broken)
    got = accept(encode(report(GW)), topic_for(GW, "report"))
    assert type(got) is Refused and got.reason == Reason.INTERNAL.value and "KeyError" in got.detail


# -- leaving the fast way is logged on state changes ----------------------------------------
def with_unknown_field(seq: int) -> bytes:
    message = report(GW, seq=seq)
    message["body"]["stations"] = [{"mac": "aa:bb:cc:dd:ee:01", "flash_free_kib": 5}]
    return encode(message)


def test_valid_reports_off_the_fast_way_are_logged_once_per_spell_with_the_unknown_field(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    watch = _FastPathWatch(every_s=1.0)  # long beside one accept(), even on a loaded machine
    monkeypatch.setattr(inbound, "_FAST_PATH", watch)
    topic = topic_for(GW, "report")
    with caplog.at_level(logging.INFO, logger="protocol.inbound"):
        for seq in range(1, 6):
            assert type(accept(with_unknown_field(seq), topic)) is Accepted  # still accepted
        assert [r.levelname for r in caplog.records] == ["WARNING"]  # one line, not five
        assert "body.stations.flash_free_kib" in caplog.records[0].getMessage()
        assert watch.off and watch.count == 5
        time.sleep(1.05)
        accept(with_unknown_field(6), topic)  # still off a while later: one line with the count
        assert "6 valid messages off the fast path" in caplog.records[-1].getMessage()
        caplog.clear()
        accept(encode(report(GW, seq=7)), topic)  # fast again, but not for long enough yet
        assert watch.off and not caplog.records
        time.sleep(1.05)
        accept(encode(report(GW, seq=8)), topic)
        assert not watch.off
        assert [r.getMessage() for r in caplog.records] == [
            "valid messages are back on the fast path (6 left it)"
        ]


def test_canonical_reports_without_the_c_extension_are_logged_as_off_the_fast_way(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(inbound, "_FAST_PATH", _FastPathWatch())
    monkeypatch.setattr(inbound, "_unique_keys", None)
    with caplog.at_level(logging.WARNING, logger="protocol.inbound"):
        assert type(accept(encode(report(GW)), topic_for(GW, "report"))) is Accepted
    assert "protocol._keys is not built" in caplog.text
