"""Compact reports (protocol 1.2): lossless round trips, the frame's dictionary, refusals that
name their field, the agent's rules for carrying the static view, and golden frames."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest

from agent.publisher.compaction import Compactor
from agent.runner import report_frame
from emulator.home import VirtualHome
from protocol import models
from protocol.codec import FLAG_COMPACT, FLAG_DICTIONARY, FLAG_ZLIB, MAGIC, decode, encode, envelope
from protocol.compact import columns, compact_body, merge, resolve_carried, take_statics, view_id
from protocol.dictionaries import DICTIONARIES
from protocol.errors import ProtocolError
from protocol.inbound import Accepted, Refused, accept
from protocol.topics import Kind

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "protocol" / "v1"


def body_of(seed: int, windows: int = 3) -> dict[str, Any]:
    home = VirtualHome(f"gw-{seed}", seed)
    body: dict[str, Any] = {}
    for i in range(windows):
        body = home.report_body(900, 1_795_437_000 + 900 * (i + 1))
    return body


def frame(c: Compactor, seq: int, body: dict[str, Any], epoch: int = 3) -> bytes:
    return c.frame("gw-c", epoch, seq, (1_795_437_000, 1_795_437_900), 86_400, body, 1_795_437_901)


@pytest.mark.parametrize("seed", [1, 2, 3, 40])
def test_a_compact_report_expands_to_the_body_the_agent_built(seed: int) -> None:
    body = body_of(seed)
    c = Compactor()
    carried = decode(frame(c, 1, body))
    models.validate(carried)  # the expanded form, view included, is a valid 1.2 report
    view = carried["body"]["view"]
    assert merge(carried["body"], view) is None and carried["body"] == body
    c.acked(3, [(1, 1)])
    named = decode(frame(c, 2, body))
    assert set(named["body"]["view"]) == {"id"}
    assert merge(named["body"], view) is None and named["body"] == body


def test_the_compact_frame_and_the_plain_one_carry_the_same_report() -> None:
    """Both forms are framed around one envelope (``compaction.window_envelope``): same head, same body."""
    body = body_of(4)
    head = ("gw-c", 3, 7, (1_795_437_000, 1_795_437_900), 86_400)
    plain = decode(report_frame(*head, body, 1_795_437_901))
    compact = decode(Compactor().frame(*head, body, 1_795_437_901))
    assert merge(compact["body"], compact["body"]["view"]) is None
    assert compact == plain
    assert plain["window_start"] == 1_795_437_000 and plain["sent_at"] == 1_795_437_901


def test_floats_survive_exactly_and_derived_fields_are_left_out_only_when_derivable() -> None:
    rows = [
        {
            "mac": "f0:b4:79:10:00:01",
            "delay_ms": 0.1 + 0.2,
            "loss_pct": 1.5,
            "vendor": "Apple",
            "randomized_mac": False,
        },
        {
            "mac": "f0:b4:79:10:00:02",
            "delay_ms": 1e-7,
            "loss_pct": 2.25,
            "vendor": "Apple",
            "randomized_mac": False,
        },
        {"mac": "5a:21:4c:10:00:03", "delay_ms": 123.4567891, "loss_pct": 0.0, "randomized_mac": True},
    ]
    cols = columns("stations", rows)
    assert isinstance(cols, dict) and cols["f"] == {"loss_pct": 2} and "delay_ms" not in cols["f"]
    assert sorted(cols["d"]) == ["randomized_mac", "vendor"] and cols["m"] == ["mac"]
    message = {**envelope(Kind.REPORT, "gw-c", epoch=1, seq=1, window_start=0, window_end=900, uptime_s=1,
                          sent_at=900), "body": compact_body({"stations": rows})}  # fmt: skip
    assert decode(encode(message, compact=True))["body"]["stations"] == rows
    rows[0]["vendor"] = "Not the OUI table's"  # not derivable: sent as it is
    cols = columns("stations", rows)
    assert isinstance(cols, dict) and cols["d"] == ["randomized_mac"] and "vendor" in cols["c"]


def _compact_frame(body: dict[str, Any]) -> bytes:
    message = envelope(Kind.REPORT, "gw-c", epoch=1, seq=1, window_start=0, window_end=900, uptime_s=1,
                       sent_at=900, body=body)  # fmt: skip
    return encode(message, compact=True, dictionary_id=1)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (
            {"stations": {"c": {"mac": [b"\x01" * 6], "signal_dbm": [-50, -60]}, "m": ["mac"]}},
            "body.stations.signal_dbm",
        ),
        ({"stations": {"c": {"mac": [b"\x01" * 4]}, "m": ["mac"]}}, "body.stations.mac"),
        (
            {"radios": {"c": {"name": ["phy0"], "idle_pct": [1.5]}, "f": {"idle_pct": 1}}},
            "body.radios.idle_pct",
        ),
        ({"radios": {"c": {"name": ["phy0"]}, "d": ["vendor"]}}, "body.radios"),
        ({"interfaces": {"rows": []}}, "body.interfaces"),
    ],
)
def test_a_malformed_compact_body_is_refused_naming_the_column(body: dict[str, Any], names: str) -> None:
    got = accept(_compact_frame(body), "homescope/v1/gw-c/report")
    assert isinstance(got, Refused) and got.reason == "invalid" and names in got.detail


def test_an_unknown_dictionary_is_refused_with_its_own_reason() -> None:
    f = frame(Compactor(), 1, body_of(1))
    assert f[2] == FLAG_ZLIB | FLAG_DICTIONARY | FLAG_COMPACT and f[3] == 1
    got = accept(f[:3] + b"\x09" + f[4:], "homescope/v1/gw-c/report")
    assert isinstance(got, Refused) and got.reason == "unknown_dictionary" and "9" in got.detail
    got = accept(MAGIC + bytes([FLAG_DICTIONARY]) + f[3:], "homescope/v1/gw-c/report")
    assert isinstance(got, Refused) and got.reason == "bad_frame"
    assert isinstance(accept(f, "homescope/v1/gw-c/report"), Accepted)


def test_released_dictionaries_never_change() -> None:
    digests = {i: hashlib.sha256(d).hexdigest() for i, d in DICTIONARIES.items()}
    assert digests == {1: "99d4ed9e12212e91d845439c0af618365620728898c55d605acd86914fe517aa"}


def test_the_agent_carries_the_view_until_acknowledged_on_change_on_a_new_epoch_and_every_kth() -> None:
    body = body_of(2)
    c = Compactor(refresh_every=4)

    def carries(seq: int, b: dict[str, Any] = body, epoch: int = 3) -> bool:
        return len(decode(frame(c, seq, b, epoch))["body"]["view"]) > 1

    assert carries(1) and carries(2)  # nothing acknowledged yet
    c.acked(3, [(2, 2)])
    assert not carries(3) and not carries(4) and not carries(5)
    assert carries(6)  # every 4th report carries it anyway
    c.acked(3, [(6, 6)])
    assert not carries(7) and not carries(8)
    changed = json.loads(json.dumps(body))
    changed["stations"][0]["ip"] = "192.168.1.250"
    assert carries(9, changed)
    c.acked(3, [(9, 9)])
    assert not carries(10, changed)
    assert carries(1, changed, epoch=4)  # a new outbox: nothing known
    c.acked(3, [(1, 1)])  # an ack of the old epoch proves nothing in the new one
    assert carries(2, changed, epoch=4)


def test_a_station_that_left_stays_in_the_view_for_a_day() -> None:
    body = body_of(2)
    c = Compactor()
    frame(c, 1, body)
    c.acked(3, [(1, 1)])
    fewer = {**body, "stations": body["stations"][1:]}
    named = decode(frame(c, 2, fewer))["body"]
    assert set(named["view"]) == {"id"}  # the same view: no carrier needed


def test_static_fields_move_to_the_view_and_the_view_id_is_its_content() -> None:
    body = body_of(1)
    rest, statics = take_statics(body)
    assert all("hostname" not in s for s in rest["stations"]) and "board" not in rest["system"]
    assert any("hostname" in s for s in statics["stations"]) and statics["board"]
    assert view_id(statics) == view_id(take_statics(body_of(1))[1]) != view_id(take_statics(body_of(2))[1])
    assert body == body_of(1)  # the agent's body is not changed


def test_a_carried_view_resolves_for_tools_and_a_named_one_stays_named() -> None:
    c = Compactor()
    body = body_of(3)
    assert resolve_carried(decode(frame(c, 1, body)))["body"] == body
    c.acked(3, [(1, 1)])
    assert "view" in resolve_carried(decode(frame(c, 2, body)))["body"]


@pytest.mark.parametrize("name", ["report-compact-carrying", "report-compact"])
def test_golden_compact_frames_decode(name: str) -> None:
    raw = (GOLDEN / f"{name}.bin").read_bytes()
    message = decode(raw)
    models.validate(message)
    assert message["v"] == "1.2" and message["gateway_id"] == "gw-test-0001"
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    assert json.loads(json.dumps(message)) == expected


def test_the_old_form_is_still_what_encode_makes_by_default() -> None:
    raw = encode(envelope(Kind.REPORT, "gw-c", epoch=1, seq=1, window_start=0, window_end=900, uptime_s=1,
                          sent_at=900, body=body_of(1)))  # fmt: skip
    assert raw[2] == FLAG_ZLIB
    with pytest.raises(ProtocolError):
        decode(raw[:2] + b"\x08" + raw[3:])  # an unknown flag: refused, never guessed
    assert msgpack.unpackb(b"\x80") == {}


def test_the_view_stays_within_its_bound_when_macs_keep_changing() -> None:
    from agent.publisher.compaction import MAX_VIEW_STATIONS

    c = Compactor()
    body = body_of(1)
    for step in range(3):
        rows = [
            {"mac": f"02:00:{step:02x}:00:{i // 256:02x}:{i % 256:02x}", "hostname": "x"} for i in range(400)
        ]
        message = decode(frame(c, step + 1, {**body, "stations": rows}))
        models.validate(message)
        assert len(message["body"]["view"]["stations"]) <= MAX_VIEW_STATIONS
        assert merge(message["body"], message["body"]["view"]) is None
