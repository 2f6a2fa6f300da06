"""Protocol 1.1: the apps entries' optional ``methods`` (bytes by how the DPI named them)."""

from __future__ import annotations

import msgpack
import pytest

from protocol.errors import ProtocolError
from protocol.models import check, closed_message, validate
from tests.protocol.messages import report

ENTRY = {
    "station": "a4:83:e7:00:00:01",
    "category": "game",
    "bytes_up": 10,
    "bytes_down": 90,
    "flows": 2,
    "active_minutes": 1,
    "top_apps": ["steam"],
}


def test_methods_are_optional_and_validated() -> None:
    old = report(apps=[ENTRY])  # a 1.0 agent: no methods
    new = report(apps=[{**ENTRY, "methods": {"payload": 60, "port": 40}}])
    for message in (old, new):
        assert check(message) == "report"
        assert closed_message(msgpack.packb(message)) is not None  # the fast closed path knows the field
    parsed = validate(new)
    assert parsed.body.apps[0].methods == {"payload": 60, "port": 40}  # type: ignore[union-attr]
    assert validate(old).body.apps[0].methods == {}  # type: ignore[union-attr]


def test_methods_refuse_negative_bytes() -> None:
    with pytest.raises(ProtocolError, match="methods"):
        check(report(apps=[{**ENTRY, "methods": {"sni": -1}}]))
