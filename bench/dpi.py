"""DPI benchmark: parse rates, memory per flow, the domain tables' cost, nDPI agreement on both shared capture
sets (dpi/, dpi-more/) with the share of bytes named by each method, and the kernel filter's pass rate.

    python bench/dpi.py --json

Prints one JSON object. Rates are medians of a few repetitions on this machine and are figures to compare
between runs of the same machine, never pass/fail criteria. Uses the shared nDPI captures
(``$HOMESCOPE_SHARED/testdata/dpi``, default ``../shared`` beside the repository).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.dpi import bpf, dns, quic, tls  # noqa: E402
from agent.dpi.classifier import Classifier  # noqa: E402
from agent.dpi.flows import FLOW_BYTES, FlowTable  # noqa: E402
from agent.dpi.inspector import Inspector  # noqa: E402
from agent.dpi.offline import ethernet_view, iter_records  # noqa: E402
from agent.dpi.packet import TCP, UDP, Packet, decode  # noqa: E402
from agent.dpi.pcapfile import read_frames  # noqa: E402
from tests.agent.dpi import ndpi_reference as ref  # noqa: E402


def _rate(work: Callable[[], int], repeat: int = 5, min_seconds: float = 0.25) -> float:
    """Items per second: median over ``repeat`` runs, each repeating ``work`` (which returns how many items
    it did) for at least ``min_seconds`` so that timer noise and a busy neighbour weigh less."""
    rates = []
    for _ in range(repeat):
        done = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_seconds:
            done += work()
        rates.append(done / elapsed)
    return statistics.median(rates)


def _packets(captures: list[str]) -> list[Packet]:
    out = []
    for path in captures:
        for frame in read_frames(path):
            try:
                packet = decode(frame.linktype, frame.data, frame.ts)
            except Exception:
                continue
            if packet is not None:
                out.append(packet)
    return out


def handshake_samples(packets: list[Packet]) -> dict[str, list[bytes]]:
    """Complete single-segment TLS ClientHellos, client QUIC Initials/gQUIC CHLOs, DNS messages."""
    samples: dict[str, list[bytes]] = {"tls": [], "quic": [], "dns": []}
    for p in packets:
        if p.proto == TCP and tls.looks_like_client_hello(p.payload):
            try:
                tls.parse_client_hello(tls.handshake_from_records(p.payload))
            except Exception:
                continue
            samples["tls"].append(p.payload)
        elif p.proto == UDP and p.dport == 443 and len(p.payload) >= 1200 and p.payload[0] & 0x80:
            samples["quic"].append(p.payload)
        elif p.proto == UDP and 53 in (p.sport, p.dport) and dns.try_parse(p.payload) is not None:
            samples["dns"].append(p.payload)
    return samples


def parse_rates(samples: dict[str, list[bytes]]) -> dict[str, Any]:
    def run_tls() -> int:
        for payload in samples["tls"]:
            tls.TlsReassembler(isn=0).add(1, payload)
        return len(samples["tls"])

    def run_quic() -> int:
        for payload in samples["quic"]:
            quic.QuicReassembler().add(payload)  # key derivation, header protection, AES-GCM, frames
        return len(samples["quic"])

    def run_dns() -> int:
        for payload in samples["dns"]:
            dns.parse(payload)
        return len(samples["dns"])

    quic.crypto_available()
    return {
        "tls_client_hello_per_s": round(_rate(run_tls)),
        "quic_initial_per_s": round(_rate(run_quic)),
        "dns_message_per_s": round(_rate(run_dns)),
        "samples": {k: len(v) for k, v in samples.items()},
    }


def inspector_rate(packets: list[Packet], classifier: Classifier) -> float:
    def run() -> int:
        inspector = Inspector(classifier, max_flows=1 << 20, max_bytes=1 << 34)
        for packet in packets:
            inspector.feed(packet)
        inspector.finish()
        return len(packets)

    return _rate(run, repeat=3, min_seconds=0.5)


def memory_per_flow(count: int = 20_000) -> dict[str, Any]:
    """tracemalloc's view of what ``count`` tracked TCP flows cost, per flow."""
    mac = bytes.fromhex("020000000001")
    packets = [
        Packet(
            0.0,
            mac,
            mac,
            bytes([192, 168, 1 + i // 60000, 2]),
            bytes([203, 0, 113, 9]),
            TCP,
            1024 + i % 60000,
            443,
            0x02,
            1000,
            b"",
            60,
        )
        for i in range(count)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table = FlowTable(max_flows=count + 1, max_bytes=1 << 34)
    for p in packets:
        table.lookup(p)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {
        "flows": len(table),
        "bytes_per_flow_measured": round((after - before) / count),
        "bytes_per_flow_estimate_used_for_the_cap": FLOW_BYTES,
    }


def filter_pass_share(directory: Path) -> dict[str, Any]:
    """What the kernel filter passes of one capture set (every link type shown as the LAN bridge carries it):
    frames and bytes, and the instructions it runs per frame (mean and most: its cost in the kernel)."""
    program = bpf.program()
    frames = passed = byte_total = byte_passed = 0
    steps = [0]
    most = 0
    for path in sorted((directory / "pcap").iterdir()):
        for frame in read_frames(str(path)):
            view = ethernet_view(frame.linktype, frame.data)
            if view is None:
                continue
            frames += 1
            byte_total += len(view)
            before = steps[0]
            kept = bpf.run(program, view, steps)
            most = max(most, steps[0] - before)
            if kept:
                passed += 1
                byte_passed += kept
    return {
        "frames": frames,
        "frames_passed": passed,
        "frame_share": round(passed / frames, 4),
        "byte_share": round(byte_passed / byte_total, 4),
        "instructions": len(program),
        "executed_per_frame_mean": round(steps[0] / frames, 1),
        "executed_per_frame_max": most,
    }


def table_cost(repeat: int = 5) -> dict[str, Any]:
    """What the packaged domain tables cost the agent: load time (median) and memory held (tracemalloc)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        Classifier()
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    classifier = Classifier()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    hosts = [
        "r3---sn-4g5e6nzz.googlevideo.com",
        "www.example.org",
        "v16m-tiktokcdn-com.akamaized.net",
        "api.io.mi.com",
        "unknown-host.cdn.example.net",
    ]

    def lookups() -> int:
        for host in hosts:
            classifier.by_host(host)
        return len(hosts)

    return {
        "load_ms_median": round(statistics.median(times) * 1000, 1),
        "held_bytes": held,
        "apps": len(classifier.categories),
        "suffixes": len(classifier._suffixes),
        "patterns": len(classifier._patterns),
        "address_rules": len(classifier._nets),
        "port_rules": len(classifier._ports),
        "host_lookups_per_s": round(_rate(lookups)),
    }


def by_method(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of flows' bytes (both directions) by how they were named (``app_source``; ``default`` if none)."""
    totals: dict[str, int] = {}
    for record in records:
        method = record.get("app_source") or "default"
        totals[method] = totals.get(method, 0) + record["bytes_up"] + record["bytes_down"]
    grand = sum(totals.values()) or 1
    return {m: round(b / grand, 4) for m, b in sorted(totals.items(), key=lambda kv: -kv[1])}


def set_figures(directory: Path, classifier: Classifier) -> dict[str, Any]:
    """nDPI agreement (full inspection and through the kernel filter) and bytes by method, for one set."""
    captures = sorted(str(p) for p in (directory / "pcap").iterdir())
    expected = ref.load_expected(directory)
    out: dict[str, Any] = {"captures": len(captures)}
    for mode, kernel_filter in (("full", False), ("kernel_filter", True)):
        records = list(iter_records(captures, classifier, kernel_filter=kernel_filter))
        out[mode] = ref.compare(expected, records).as_dict()
        out[mode]["bytes_by_method"] = by_method(records)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    parser.parse_args(argv)
    shared = ref.shared_dpi_dir()
    if not (shared / "expected_flows.jsonl").exists():
        print(f"shared DPI captures not found at {shared}; set HOMESCOPE_SHARED", file=sys.stderr)
        return 2
    captures = sorted(str(p) for p in (shared / "pcap").iterdir())
    classifier = Classifier()
    packets = _packets(captures)
    expected = ref.load_expected(shared)
    del expected
    agreement = {"dpi": set_figures(shared, classifier)}
    more = shared.parent / "dpi-more"
    if (more / "expected_flows.jsonl").exists():
        agreement["dpi_more"] = set_figures(more, classifier)
    report = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine(), "cores": os.cpu_count()},
        "parse_rates": parse_rates(handshake_samples(packets)),
        "inspector_packets_per_s": round(inspector_rate(packets, classifier)),
        "capture_packets": len(packets),
        "memory": memory_per_flow(),
        "domain_table": table_cost(),
        "agreement_with_ndpi": agreement,
        "kernel_filter": {
            "dpi": filter_pass_share(shared),
            **({"dpi_more": filter_pass_share(more)} if (more / "pcap").is_dir() else {}),
        },
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
