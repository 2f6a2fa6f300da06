"""Parse the kernel's connection table text (``/proc/net/nf_conntrack``, or ``conntrack -L`` output).

Byte and packet counters appear only with accounting on (``net.netfilter.nf_conntrack_acct=1``, which
OpenWrt's firewall enables). Entries handled by flow offloading carry ``[OFFLOAD]`` or ``[HW_OFFLOAD]``:
with hardware offload the counters stop while the hardware forwards the flow, so such entries are counted
separately and reported as a known undercount. This module is pure: the text comes from the caller
(``agent.system`` reads it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

PROC_PATH = "/proc/net/nf_conntrack"
_PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "udplite": 136, "sctp": 132, "dccp": 33, "gre": 47}


@dataclass(frozen=True, slots=True)
class Tuple:
    """One direction of a connection, with its counters (0 when accounting is off)."""

    src: bytes
    dst: bytes
    sport: int
    dport: int
    packets: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A conntrack entry: the original (initiator's) direction and the reply direction."""

    family: int
    proto: int
    timeout: int | None
    state: str | None
    original: Tuple
    reply: Tuple
    flags: frozenset[str]
    zone: int
    accounted: bool

    @property
    def offloaded(self) -> bool:
        """Whether software or hardware flow offload handles the entry."""
        return bool(self.flags & {"OFFLOAD", "HW_OFFLOAD"})

    @property
    def key(self) -> tuple[int, bytes, int, bytes, int, int]:
        """Identity across snapshots: protocol, original tuple, zone."""
        o = self.original
        return (self.proto, o.src, o.sport, o.dst, o.dport, self.zone)


def _address(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def _tuple(fields: dict[str, str]) -> Tuple:
    return Tuple(
        _address(fields["src"]),
        _address(fields["dst"]),
        int(fields.get("sport", 0)),
        int(fields.get("dport", 0)),
        int(fields.get("packets", 0)),
        int(fields.get("bytes", 0)),
    )


def parse_line(line: str) -> Entry | None:
    """Parse one entry; None for a line that is not a well-formed IPv4/IPv6 entry."""
    tokens = line.split()
    if len(tokens) < 4:
        return None
    # /proc/net/nf_conntrack starts with "ipv4 2"; conntrack(8) starts directly with the protocol.
    family = 4
    if tokens[0] in ("ipv4", "ipv6"):
        family = 4 if tokens[0] == "ipv4" else 6
        tokens = tokens[2:]
    if len(tokens) < 2 or tokens[0] not in _PROTOS:
        return None
    proto = _PROTOS[tokens[0]]
    rest = tokens[2:]
    timeout: int | None = None
    state: str | None = None
    if rest and rest[0].isdigit():
        timeout = int(rest[0])
        rest = rest[1:]
    if rest and "=" not in rest[0] and not rest[0].startswith("["):
        state = rest[0]
        rest = rest[1:]
    directions: list[dict[str, str]] = []
    flags: set[str] = set()
    zone = 0
    for token in rest:
        if token.startswith("["):
            flags.add(token.strip("[]"))
            continue
        name, sep, value = token.partition("=")
        if not sep:
            continue
        if name == "src":
            directions.append({})
        if name == "zone":
            zone = int(value) if value.isdigit() else 0
        elif directions and name in ("src", "dst", "sport", "dport", "packets", "bytes"):
            directions[-1].setdefault(name, value)
    if len(directions) < 2:
        return None
    try:
        original, reply = _tuple(directions[0]), _tuple(directions[1])
    except (KeyError, ValueError):
        return None  # masked addresses in bug reports ("x.x.x.x"), truncated lines
    accounted = "bytes" in directions[0]
    return Entry(family, proto, timeout, state, original, reply, frozenset(flags), zone, accounted)


def parse(text: str) -> list[Entry]:
    """Every well-formed entry of the table text."""
    entries = []
    for line in text.splitlines():
        entry = parse_line(line)
        if entry is not None:
            entries.append(entry)
    return entries


def lines(text: str) -> Iterator[str]:
    """The lines of a text, one at a time (``splitlines`` would make a list of them all)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            end = size
        yield text[start:end]
        start = end + 1


def entries(lines: Iterable[str]) -> Iterator[Entry]:
    """Every well-formed entry of the table's lines, one at a time.

    A busy table is tens of thousands of lines: a list of its entries would stay in the
    agent's RSS as a high-water mark (CPython keeps the freed arenas).
    """
    for line in lines:
        entry = parse_line(line)
        if entry is not None:
            yield entry


def read(read_text: Callable[[str], str], path: str = PROC_PATH) -> list[Entry]:
    """Read and parse the table through the agent's system reader."""
    return parse(read_text(path))
