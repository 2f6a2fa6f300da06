from __future__ import annotations

from collector.facts import WRAP32, counter_delta


def test_counter_delta_handles_growth_reboot_wrap_and_reset() -> None:
    assert counter_delta(100, 250, rebooted=False) == 150
    assert counter_delta(10_000, 40, rebooted=True) == 40
    assert counter_delta(WRAP32 - 100, 50, rebooted=False) == 150
    assert counter_delta(5_000_000_000_000, 70, rebooted=False) == 70  # 64-bit counter reset: count from zero
