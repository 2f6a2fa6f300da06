"""The capacity test hook: iperf3 or an HTTP download against an operator-configured server.

Off by default (it loads the customer's line): the quality sampler runs it every
``capacity_test_windows`` windows when that is set, and :func:`run_capacity_test` can be called
on demand. Nothing here picks a server: without ``capacity_test_server`` (iperf3) or
``capacity_test_url`` (HTTP) the test does not run.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from agent.parsers.device import Tools
from agent.system import System, SystemAccessError

#: Seconds of traffic per test: long enough for TCP to open its window on a fast line.
TEST_SECONDS = 5


def parse_iperf3_json(text: str) -> int | None:
    """Received kbps from ``iperf3 -J`` (``end.sum_received.bits_per_second``)."""
    try:
        data = json.loads(text)
        bits = data["end"]["sum_received"]["bits_per_second"]
    except (ValueError, KeyError, TypeError):
        return None
    return int(bits / 1000) if isinstance(bits, int | float) and bits >= 0 else None


def parse_curl_speed(text: str) -> int | None:
    """kbps from ``curl -w '%{speed_download}'`` (bytes per second, sometimes with decimals)."""
    try:
        value = float(text.strip().split()[-1])
    except (ValueError, IndexError):
        return None
    return int(value * 8 / 1000) if value >= 0 else None


def capacity_argv(tools: Tools, server: str, url: str) -> list[str] | None:
    """The command that measures download capacity with what is installed, or ``None``."""
    if server and tools.has("iperf3"):
        return ["iperf3", "-c", server, "-R", "-t", str(TEST_SECONDS), "-J"]
    if url and tools.has("curl"):
        return [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            str(3 * TEST_SECONDS),
            "-w",
            "%{speed_download}",
            url,
        ]
    return None


def run_capacity_test(system: System, tools: Tools, server: str, url: str) -> dict[str, Any] | None:
    """One capacity test; a LinkQuality fragment with ``bandwidth_kbps``, or ``None`` if it could not run."""
    argv = capacity_argv(tools, server, url)
    if argv is None:
        return None
    try:
        output = system.run(argv, timeout=4.0 * TEST_SECONDS)
    except SystemAccessError:
        return None
    kbps = parse_iperf3_json(output) if argv[0] == "iperf3" else parse_curl_speed(output)
    if kbps is None:
        return None
    address = server if argv[0] == "iperf3" else (urlsplit(url).hostname or url)
    return {"target": "internet", "address": address, "bandwidth_kbps": kbps}
