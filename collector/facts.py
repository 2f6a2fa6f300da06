"""Counter deltas and rates from two consecutive reports of one gateway.

Counters arrive cumulative. Between two windows a counter may have been reset (the
gateway rebooted: its uptime went down; or a driver reloaded) or wrapped at 32 bits
(some Wi-Fi drivers). Deltas are never negative and never invented.
"""

from __future__ import annotations

from typing import Any

WRAP32 = 2**32


def counter_delta(previous: int, current: int, rebooted: bool) -> int:
    """The amount counted between two readings of a cumulative counter."""
    if rebooted:
        return current  # counted since the reboot
    if current >= previous:
        return current - previous
    if previous < WRAP32 and previous - current > WRAP32 // 2:
        return current + WRAP32 - previous  # a 32-bit counter wrapped
    return current  # reset without a reboot (driver reload): count from zero


def window_facts(body: dict[str, Any], rates: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The handful of per-window figures the operator page charts."""
    system = body.get("system") or {}
    total = system.get("memory_total_kib") or 0
    available = system.get("memory_available_kib", system.get("memory_free_kib"))
    wan = (body.get("wan") or {}).get("interface")
    if wan is None:
        wan = next((i["name"] for i in body.get("interfaces", []) if i.get("role") == "wan"), None)
    wan_rate = rates.get(wan or "", {})
    return {
        "cpu_pct": system.get("cpu_usage_pct"),
        "mem_used_pct": round(100.0 * (total - available) / total, 1)
        if total and available is not None
        else None,
        "wan_rx_bps": wan_rate.get("rx_bps"),
        "wan_tx_bps": wan_rate.get("tx_bps"),
        "stations": len(body.get("stations", [])),
    }
