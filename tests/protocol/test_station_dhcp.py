"""Protocol 1.2: the stations' optional DHCP fields (``dhcp_vc``, ``dhcp_prl``)."""

from __future__ import annotations

import msgpack
import pytest

from protocol.errors import ProtocolError
from protocol.models import check, closed_message, validate
from tests.protocol.messages import report

STATION = {"mac": "a4:83:e7:00:00:01", "hostname": "pixel", "medium": "5GHz"}


def test_dhcp_fields_are_optional_and_travel_the_fast_path() -> None:
    old = report(stations=[STATION])  # a 1.1 agent
    new = report(
        stations=[{**STATION, "dhcp_vc": "android-dhcp-14", "dhcp_prl": "1,3,6,15,26,28,51,58,59,43,114"}]
    )
    for message in (old, new):
        assert check(message) == "report"
        assert closed_message(msgpack.packb(message)) is not None
    station = validate(new).body.stations[0]  # type: ignore[union-attr]
    assert (station.dhcp_vc, station.dhcp_prl) == ("android-dhcp-14", "1,3,6,15,26,28,51,58,59,43,114")
    assert validate(old).body.stations[0].dhcp_vc is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dhcp_prl", "1,3,,6"),
        ("dhcp_prl", "1,3,256"),
        ("dhcp_prl", "1;3"),
        ("dhcp_prl", ",".join(["1"] * 65)),
        ("dhcp_vc", ""),
        ("dhcp_vc", "x" * 65),
        ("dhcp_vc", "MSFT\n5.0"),
    ],
)
def test_dhcp_fields_refuse_what_no_agent_sends(field: str, value: str) -> None:
    with pytest.raises(ProtocolError, match=field):
        check(report(stations=[{**STATION, field: value}]))
