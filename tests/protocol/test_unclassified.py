"""Protocol 1.3: the report's optional ``unclassified`` section (domains the DPI could not name)."""

from __future__ import annotations

import msgpack
import pytest

from protocol.errors import ProtocolError
from protocol.models import check, closed_message, validate
from tests.protocol.messages import report

ROW = {
    "domain": "example.org",
    "category": "web",
    "bytes_up": 1200,
    "bytes_down": 880_000,
    "active_minutes": 4,
}


def test_unclassified_is_optional_and_on_the_fast_way() -> None:
    old = report()  # a 1.1 agent, or an agent that did not opt in: no section
    new = report(unclassified=[ROW, {**ROW, "domain": "example.co.uk", "category": "other"}])
    for message in (old, new):
        assert check(message) == "report"
        assert closed_message(msgpack.packb(message)) is not None  # the closed fast path knows the field
    assert [u.domain for u in validate(new).body.unclassified] == ["example.org", "example.co.uk"]  # type: ignore[union-attr]
    assert validate(old).body.unclassified == []  # type: ignore[union-attr]


@pytest.mark.parametrize("domain", ["Example.org", "example", "192.0.2.1:443", "a b.example", "x" * 254])
def test_only_registrable_looking_names_pass(domain: str) -> None:
    with pytest.raises(ProtocolError, match="unclassified"):
        check(report(unclassified=[{**ROW, "domain": domain}]))


def test_negative_bytes_are_refused() -> None:
    with pytest.raises(ProtocolError, match="unclassified"):
        check(report(unclassified=[{**ROW, "bytes_down": -1}]))
