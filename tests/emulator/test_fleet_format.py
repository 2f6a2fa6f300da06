"""The emulator sends what agents send: compact reports (protocol 1.2), or with ``compact=False``
(``--old-format``) the form of agents before 1.2, which collectors keep accepting."""

from __future__ import annotations

import pytest

from emulator.cli import build_parser
from emulator.fleet import Fleet
from protocol.codec import FLAG_COMPACT, FLAG_DICTIONARY, FLAG_ZLIB, decode
from protocol.inbound import Accepted, accept
from protocol.topics import topic_for


@pytest.mark.parametrize(
    ("compact", "flags"), [(True, FLAG_ZLIB | FLAG_DICTIONARY | FLAG_COMPACT), (False, FLAG_ZLIB)]
)
def test_the_fleet_frames_reports_in_the_form_asked(compact: bool, flags: int) -> None:
    fleet = Fleet(1, "mqtt://127.0.0.1:1", compact=compact)  # never started: nothing connects
    gw = fleet.gateways[0]
    seq = fleet.spool(gw, 1_795_437_900, 900, 1_795_437_901)
    record = next(r for r in gw.outbox.pending() if r.seq == seq)
    assert record.frame[2] == flags
    body = decode(record.frame)["body"]
    assert ("view" in body) is compact and body["stations"]
    assert isinstance(accept(record.frame, topic_for(gw.home.gateway_id, "report")), Accepted)


def test_the_cli_switch_sends_the_old_form() -> None:
    assert build_parser().parse_args(["run", "--old-format"]).old_format
    assert not build_parser().parse_args(["run"]).old_format
