from __future__ import annotations

from collector.facts import WRAP32, counter_delta, interface_rates


def test_counter_delta_handles_growth_reboot_wrap_and_reset() -> None:
    assert counter_delta(100, 250, rebooted=False) == 150
    assert counter_delta(10_000, 40, rebooted=True) == 40
    assert counter_delta(WRAP32 - 100, 50, rebooted=False) == 150
    assert counter_delta(5_000_000_000_000, 70, rebooted=False) == 70  # 64-bit counter reset: count from zero


def test_interface_rates_need_a_previous_window_and_positive_time() -> None:
    body = {"interfaces": [{"name": "wan", "bytes_received": 1000, "bytes_sent": 500}]}
    assert interface_rates(None, {"window_end": 900, "uptime_s": 10, "body": body}) == {}
    prev = {"window_end": 900, "uptime_s": 10, "body": body}
    assert interface_rates(prev, {"window_end": 900, "uptime_s": 20, "body": body}) == {}
    later = {"interfaces": [{"name": "wan", "bytes_received": 91_000, "bytes_sent": 500}]}
    rates = interface_rates(prev, {"window_end": 1800, "uptime_s": 910, "body": later})
    assert rates == {"wan": {"rx_bps": 800.0, "tx_bps": 0.0}}
