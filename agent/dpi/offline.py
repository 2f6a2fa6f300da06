"""``homescope-agent classify-pcap FILE [FILE...]``: run the DPI over capture files, one JSON line per flow.

Reads pcap and pcapng (Ethernet, raw IP, Linux cooked), whatever the file extension. Each TCP or UDP flow
is printed once, in order of its first packet, with the client (initiator) as ``src``. This is an offline
evaluation tool: unlike the agent's report it prints hostnames and addresses.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.dpi import DpiError, bpf
from agent.dpi.classifier import Classifier
from agent.dpi.flows import Flow
from agent.dpi.inspector import Inspector
from agent.dpi.packet import TCP, decode, format_endpoint, format_mac
from agent.dpi.pcapfile import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    read_frames,
)
from agent.logger import Logger

log = Logger(__name__)


def flow_record(flow: Flow, source: str | None = None) -> dict[str, Any]:
    """The JSON object printed for one flow."""
    record: dict[str, Any] = {
        "l4": "TCP" if flow.proto == TCP else "UDP",
        "src": format_endpoint(flow.client, flow.cport),
        "dst": format_endpoint(flow.server, flow.sport),
        "host": flow.host,
        "app": flow.app,
        "category": flow.category,
        "l7": flow.l7,
        "host_source": flow.host_source,
        "app_source": flow.app_source,
        "client_mac": format_mac(flow.client_mac) if flow.client_mac else None,
        "packets_up": flow.pkts_up,
        "packets_down": flow.pkts_down,
        "bytes_up": flow.bytes_up,
        "bytes_down": flow.bytes_down,
    }
    if source is not None:
        record = {"pcap": source, **record}
    return record


_VLAN_TAGS = (b"\x81\x00", b"\x88\xa8", b"\x91\x00")
_NULL_FAMILIES = {2: b"\x08\x00", 10: b"\x86\xdd", 24: b"\x86\xdd", 28: b"\x86\xdd", 30: b"\x86\xdd"}


def ethernet_view(linktype: int, frame: bytes) -> bytes | None:
    """The frame as the agent's packet socket on the LAN bridge receives it (Ethernet, VLAN tags already
    removed by the driver), so that the kernel filter can be evaluated on captures of any link type; None
    for a link type or frame that has no such view. The MAC addresses of a rebuilt header are zeros (the
    filter does not read them)."""
    if linktype == LINKTYPE_ETHERNET:
        while len(frame) >= 18 and frame[12:14] in _VLAN_TAGS:
            frame = frame[:12] + frame[16:]
        return frame
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6) and frame:
        ethertype = {4: b"\x08\x00", 6: b"\x86\xdd"}.get(frame[0] >> 4)
        return bytes(12) + ethertype + frame if ethertype else None
    if linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        return bytes(12) + frame[14:]
    if linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        return bytes(12) + frame[0:2] + frame[20:]
    if linktype == LINKTYPE_NULL and len(frame) >= 4:
        family = int.from_bytes(frame[:4], "little")
        family = family if family <= 0xFFFF else int.from_bytes(frame[:4], "big")
        ethertype = _NULL_FAMILIES.get(family)
        return bytes(12) + ethertype + frame[4:] if ethertype else None
    return None


def filter_passes(program: list[bpf.Instruction], linktype: int, frame: bytes) -> int:
    """Bytes of the frame the agent's kernel filter keeps (0: dropped; frames with no Ethernet view: 0)."""
    view = ethernet_view(linktype, frame)
    return bpf.run(program, view) if view is not None else 0


def classify_file(path: str, classifier: Classifier, kernel_filter: bool = False) -> tuple[list[Flow], int]:
    """All flows of one capture, named; and the number of frames that could not be decoded.

    With ``kernel_filter`` only the payload of frames the agent's BPF program passes is inspected (frames of
    other link types are shown to the filter as the LAN bridge would carry them, see :func:`ethernet_view`);
    the other frames are still counted, as conntrack counts them on the gateway. This shows what the agent
    would name.
    """
    program = bpf.program() if kernel_filter else None
    closed: list[Flow] = []
    inspector = Inspector(
        classifier,
        max_flows=1 << 20,
        max_bytes=1 << 34,
        on_flow_end=lambda flow, _reason: closed.append(flow),
    )
    bad = 0
    for frame in read_frames(path):
        try:
            packet = decode(frame.linktype, frame.data, frame.ts)
        except DpiError as exc:
            bad += 1
            log.debug("%s: frame skipped: %s", path, exc)
            continue
        if packet is None:
            continue
        if program is not None and not filter_passes(program, frame.linktype, frame.data):
            packet.payload = b""
        inspector.feed(packet)
    inspector.finish()
    closed.sort(key=lambda f: f.first_ts)
    return closed, bad


def iter_records(
    paths: list[str], classifier: Classifier, kernel_filter: bool = False
) -> Iterator[dict[str, Any]]:
    """Records of every flow of every file (raises :class:`DpiError` or OSError on an unreadable file)."""
    for path in paths:
        flows, _bad = classify_file(path, classifier, kernel_filter)
        for flow in flows:
            yield flow_record(flow, Path(path).name)


def main(argv: list[str]) -> int:
    """Entry point; returns the process exit code (1 if any file could not be read)."""
    parser = argparse.ArgumentParser(prog="homescope-agent classify-pcap", description=__doc__)
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap or pcapng capture")
    parser.add_argument(
        "--kernel-filter",
        action="store_true",
        help="inspect only the frames the agent's BPF filter passes (as on the gateway)",
    )
    parser.add_argument(
        "--operator-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="a domain of the operator's own apps (repeatable)",
    )
    parser.add_argument(
        "--extra-domains",
        action="append",
        default=[],
        metavar="FILE",
        help="an operator's domain table (domains.tsv format) over the packaged ones",
    )
    args = parser.parse_args(argv)
    tables = [(path, Path(path).read_text(encoding="utf-8")) for path in args.extra_domains]
    classifier = Classifier(operator_domains=args.operator_domain, extra_tables=tables)
    status = 0
    out = sys.stdout
    for path in args.files:
        try:
            flows, bad = classify_file(path, classifier, args.kernel_filter)
        except (OSError, DpiError) as exc:
            print(f"classify-pcap: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        if bad:
            print(f"classify-pcap: {path}: {bad} undecodable frames skipped", file=sys.stderr)
        name = Path(path).name
        for flow in flows:
            out.write(json.dumps(flow_record(flow, name), ensure_ascii=False) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
