"""Golden v1 frames must decode and validate forever."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol import models
from protocol.codec import decode

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "protocol" / "v1"


@pytest.mark.parametrize("name", ["report", "report-zlib", "event", "status", "ack", "cmd"])
def test_golden_frame_decodes(name: str) -> None:
    message = models.validate(decode((GOLDEN / f"{name}.bin").read_bytes()))
    assert message.v == "1.0"
    assert message.gateway_id == "gw-test-0001"


def test_golden_report_fields() -> None:
    for name in ("report", "report-zlib"):
        message = models.validate(decode((GOLDEN / f"{name}.bin").read_bytes()))
        assert isinstance(message, models.Report)
        assert (message.epoch, message.seq, message.window_start, message.window_end) == (
            7,
            1,
            1_699_999_200,
            1_700_000_100,
        )
        assert message.body.system is not None and message.body.system.cpu_usage_pct == 12.5
        assert message.body.stations[0].tx_rate_kbps == 866700
        assert message.body.samplers["radios"].state == "unavailable"


def test_golden_ack_ranges() -> None:
    message = models.validate(decode((GOLDEN / "ack.bin").read_bytes()))
    assert isinstance(message, models.Ack)
    assert message.ranges == [[1, 5], [8, 8]]


def test_golden_1_3_report_names_unclassified_domains() -> None:
    message = models.validate(decode((GOLDEN / "report-1.3.bin").read_bytes()))
    assert isinstance(message, models.Report) and message.v == "1.3"
    (row,) = message.body.unclassified
    assert (row.domain, row.category, row.bytes_down, row.active_minutes) == (
        "example.co.uk",
        "web",
        880000,
        4,
    )
