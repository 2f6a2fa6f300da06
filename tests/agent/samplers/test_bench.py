"""bench/agent.py runs and reports the figures it promises (never judged on time)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "agent.py"


def test_bench_figures() -> None:
    spec = importlib.util.spec_from_file_location("bench_agent", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.measure(4)
    assert (figures["stations"], figures["radios"], figures["cycles"]) == (12, 3, 4)
    assert figures["report_zlib_bytes"] < figures["report_bytes"] < figures["report_bytes_with_scan"]
    assert (
        figures["report_compact_bytes"]
        < figures["report_compact_bytes_carrying_view"]
        < figures["report_zlib_bytes"]
    )
    assert figures["rss_kib"] > 0 and figures["commands_per_cycle"] > 0
    assert {"cpu_ms_per_cycle_median", "cpu_ms_per_cycle_max", "cpu_ms_priming_read", "max_rss_kib"} <= set(
        figures
    )
