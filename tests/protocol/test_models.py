from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import models
from protocol.codec import decode, encode
from protocol.errors import ProtocolError, Reason
from tests.protocol.messages import ALL, report


@pytest.mark.parametrize("kind", sorted(ALL))
def test_every_kind_validates_into_its_model(kind: str) -> None:
    message = models.validate(decode(encode(ALL[kind]())))
    assert message.kind == kind


@pytest.mark.parametrize(
    "patch",
    [
        {"seq": -1},
        {"seq": 2**64},
        {"gateway_id": "bad id/with slash"},
        {"kind": "nonsense"},
        {"window_end": "soon"},
        {"body": {"system": {"cpu_usage_pct": math.nan}}},
        {"body": {"system": {"cpu_usage_pct": 101}}},
        {"body": {"stations": [{"mac": "not-a-mac"}]}},
        {"body": {"interfaces": [{"name": "x", "bytes_sent": -5}]}},
        {"body": {"stations": [{"mac": "a4:83:e7:00:00:01"}] * 513}},
    ],
)
def test_invalid_reports_are_refused_with_a_reason(patch: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as info:
        models.validate({**report(), **patch})
    assert info.value.reason == Reason.INVALID
    assert info.value.detail


def test_unknown_fields_from_a_newer_minor_version_are_ignored() -> None:
    message = report(future_section={"x": 1})
    message["future_field"] = 3
    parsed = models.validate(message)
    assert isinstance(parsed, models.Report)
    assert parsed.body.system is not None and parsed.body.system.cpu_usage_pct == 12.5


@settings(max_examples=100, deadline=None)
@given(
    seq=st.integers(0, 2**64 - 1),
    epoch=st.integers(0, 2**32 - 1),
    cpu=st.floats(0, 100),
    rx=st.integers(0, 2**64 - 1),
)
def test_reports_round_trip_through_codec_and_model(seq: int, epoch: int, cpu: float, rx: int) -> None:
    message = report(seq=seq, epoch=epoch)
    message["body"]["system"]["cpu_usage_pct"] = cpu
    message["body"]["interfaces"][0]["bytes_received"] = rx
    parsed = models.validate(decode(encode(message)))
    assert isinstance(parsed, models.Report)
    assert (parsed.seq, parsed.epoch, parsed.body.interfaces[0].bytes_received) == (seq, epoch, rx)
