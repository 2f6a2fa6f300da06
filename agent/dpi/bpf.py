"""The classic BPF program the kernel runs on every LAN frame, so that only handshakes reach Python.

Written as a list of instructions with labels (assembled by :func:`assemble`), not as tcpdump output, so
that each rule is readable and reviewed here. :func:`run` is a small interpreter of the same instructions,
used by tests and ``bench/dpi.py`` to measure on captures which share of packets the filter passes.

What passes whole (return :data:`SNAP_ALL`):
- UDP to or from the DNS, DHCP, NetBIOS, SSDP, mDNS and LLMNR ports (names and the DNS cache);
- UDP datagrams of 1,024 bytes or more that start a QUIC long header (both top bits set) or a Google
  QUIC packet carrying its version: client Initials are padded to 1,200 bytes (RFC 9000 section 14.1) and
  gQUIC CHLOs to 1,024, so short-header data packets and server handshake packets stay in the kernel;
- UDP datagrams and TCP segments that match a lead of a payload signature (STUN, RakNet, Discord, the
  games' and messengers' own protocols): that code is generated from :mod:`agent.dpi.signatures`, whose
  rules only ever test a payload one of their leads matches, so the filter and the rules cannot drift;
- TCP segments whose payload starts a TLS handshake record (0x16) or an HTTP request method;
- TCP segments to port 443 of at most 1,200 payload bytes that do not start a TLS record of another type:
  the continuation of a ClientHello split over segments (post-quantum key shares), never full-size bulk.
What passes as headers only (return :data:`SNAP_HEADERS`): TCP SYN, FIN and RST, which open and close
flows. Everything else returns :data:`SNAP_DROP`, 0 by default; in counting mode (no conntrack on the
device) it is the header length too, so that Python sees every packet's size but copies no payload.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from agent.dpi import DpiError, signatures
from agent.dpi.signatures import Lead

SNAP_ALL = 0x40000
SNAP_HEADERS = 128

# Classic BPF opcode parts (linux/filter.h, linux/bpf_common.h).
_LD, _LDX, _ST, _STX, _ALU, _JMP, _RET, _MISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
_W, _H, _B = 0x00, 0x08, 0x10
_IMM, _ABS, _IND, _MEM, _MSH = 0x00, 0x20, 0x40, 0x60, 0xA0
_ADD, _SUB, _AND, _RSH = 0x00, 0x10, 0x50, 0x70
_JA, _JEQ, _JGT, _JGE, _JSET = 0x00, 0x10, 0x20, 0x30, 0x40
_K, _X = 0x00, 0x08
_TAX, _TXA = 0x00, 0x80

_OPCODES: dict[str, int] = {
    "ldw": _LD | _W | _ABS,
    "ldh": _LD | _H | _ABS,
    "ldb": _LD | _B | _ABS,
    "ldw_x": _LD | _W | _IND,
    "ldh_x": _LD | _H | _IND,
    "ldb_x": _LD | _B | _IND,
    "ld_mem": _LD | _MEM,
    "ld_imm": _LD | _IMM,
    "ldx_imm": _LDX | _W | _IMM,
    "ldx_mem": _LDX | _MEM,
    "ldx_msh": _LDX | _B | _MSH,
    "st": _ST,
    "stx": _STX,
    "add": _ALU | _ADD | _K,
    "sub": _ALU | _SUB | _K,
    "and": _ALU | _AND | _K,
    "rsh": _ALU | _RSH | _K,
    "add_x": _ALU | _ADD | _X,
    "sub_x": _ALU | _SUB | _X,
    "ja": _JMP | _JA,
    "jeq": _JMP | _JEQ | _K,
    "jgt": _JMP | _JGT | _K,
    "jge": _JMP | _JGE | _K,
    "jset": _JMP | _JSET | _K,
    "ret": _RET | _K,
    "tax": _MISC | _TAX,
    "txa": _MISC | _TXA,
}

Instruction = tuple[int, int, int, int]  # code, jt, jf, k: struct sock_filter
Source = Sequence[str | tuple[object, ...]]


def assemble(source: Source) -> list[Instruction]:
    """Turn ``("op", k[, jump_true, jump_false])`` tuples and ``"label:"`` strings into instructions.

    Jump targets are label names or None for "the next instruction"; ``("ja", "label")`` jumps always.
    """
    labels: dict[str, int] = {}
    body: list[tuple[object, ...]] = []
    for item in source:
        if isinstance(item, str):
            labels[item.rstrip(":")] = len(body)
        else:
            body.append(item)
    out: list[Instruction] = []
    for index, (op, *args) in enumerate(body):
        code = _OPCODES[str(op)]

        def offset(target: object, index: int = index, limit: int = 255) -> int:
            if target is None:
                return 0
            distance = labels[str(target)] - index - 1
            if not 0 <= distance <= limit:
                raise DpiError(f"BPF jump to {target} out of range ({distance})")
            return distance

        if op == "ja":
            out.append((code, 0, 0, offset(args[0], limit=0xFFFFFFFF)))
        elif str(op).startswith("j"):
            k = int(str(args[0]))
            out.append(
                (
                    code,
                    offset(args[1] if len(args) > 1 else None),
                    offset(args[2] if len(args) > 2 else None),
                    k,
                )
            )
        else:
            out.append((code, 0, 0, int(str(args[0])) if args else 0))
    return out


def _method_word(text: bytes) -> int:
    return int(struct.unpack("!I", text[:4])[0])


_HTTP_METHODS = (b"GET ", b"POST", b"HEAD", b"PUT ", b"OPTI", b"DELE", b"CONN", b"PATC")
_NAME_PORTS = (53, 67, 68, 137, 138, 1900, 5353, 5355)


def lead_source(leads: Sequence[Lead], prefix: str, fail: str) -> list[str | tuple[object, ...]]:
    """Code that returns :data:`SNAP_ALL` when the payload matches one of ``leads`` and goes to ``fail``
    otherwise. Expects M[4] = payload length and M[5] = payload offset - 14 (from the IP header on)."""
    src: list[str | tuple[object, ...]] = []
    from_end = True  # X is not yet the payload offset
    for index, lead in enumerate(leads):
        skip = f"{prefix}{index + 1}" if index + 1 < len(leads) else fail
        src.append(f"{prefix}{index}:")
        if from_end:  # X was moved by the previous lead (or never set); a lead without a test from the end
            src.append(("ldx_mem", 5))  # leaves X at the payload offset for the next, whichever way it exits
        from_end = False
        # Size first: every load below is then inside the payload (a load past the frame would end the program).
        src.append(("ld_mem", 4))
        src.append(
            ("jeq", lead.size, None, skip) if lead.size is not None else ("jge", lead.reach, None, skip)
        )
        for offset, value, mask in sorted(lead.fixed, key=lambda check: check[0] < 0):
            if offset < 0 and not from_end:
                src += [("ld_mem", 5), ("ldx_mem", 4), ("add_x", 0), ("tax", 0)]  # X = payload end - 14
                from_end = True
            position = 0
            while position < len(value):
                width = 4 if len(value) - position >= 4 else 2 if len(value) - position >= 2 else 1
                part = int.from_bytes(value[position : position + width], "big")
                src.append((_LOADS[width], 14 + offset + position))
                if (
                    mask is not None
                    and (bits := int.from_bytes(mask[position : position + width], "big"))
                    != (1 << 8 * width) - 1
                ):
                    src.append(("and", bits))
                src.append(("jeq", part, None, skip))
                position += width
        src.append(("ret", SNAP_ALL))
    return src


_LOADS = {4: "ldw_x", 2: "ldh_x", 1: "ldb_x"}


def program_source(count_all: bool = False) -> list[str | tuple[object, ...]]:
    """The filter for Ethernet frames, as assembler source (see the module docstring for the rules).

    Memory: M[0] TCP header length, M[1] IP header length, M[2] transport length (header + payload),
    M[4] payload length, M[5] offset of the payload from the IP header. Conditional jumps reach 255
    instructions at most, so each section ends in its own returns and crosses the generated signature
    code with ``ja`` (32-bit offsets).
    """
    other = SNAP_HEADERS if count_all else 0
    src: list[str | tuple[object, ...]] = [
        ("ldh", 12),  # EtherType (VLAN tags are already stripped by the NIC)
        ("jeq", 0x86DD, "ipv6"),
        ("jeq", 0x0800, None, "l3_other"),
        # IPv4: M[1] = header length, M[2] = transport length, A = protocol.
        ("ldh", 20),
        ("jset", 0x1FFF, "l3_other"),  # a non-first fragment has no ports
        ("ldx_msh", 14),
        ("stx", 1),
        ("ldh", 16),
        ("sub_x", 0),
        ("st", 2),
        ("ldb", 23),
        ("ja", "l4"),
        "l3_other:",
        ("ret", other),
        # IPv6 without extension headers (they are rare on a LAN; such packets are just not inspected).
        "ipv6:",
        ("ldx_imm", 40),
        ("stx", 1),
        ("ldh", 18),
        ("st", 2),
        ("ldb", 20),
        "l4:",
        ("jeq", 6, None, "not_tcp"),
        ("ja", "tcp"),
        "not_tcp:",
        ("jeq", 17, None, "l4_other"),
        ("ja", "udp"),
        "l4_other:",
        ("ret", other),
        # ---- TCP: X = IP header length
        "tcp:",
        ("ldb_x", 27),
        ("jset", 0x07, None, "tcp_data"),
        ("ret", SNAP_HEADERS),  # SYN, FIN or RST
        "tcp_data:",
        ("ldb_x", 26),
        ("rsh", 2),
        ("and", 0x3C),
        ("st", 0),  # M[0] = TCP header length
        ("ldx_mem", 0),
        ("ld_mem", 2),
        ("sub_x", 0),  # A = payload length
        ("jeq", 0, None, "tcp_payload"),
        ("ret", other),  # pure ACK: nothing to read
        "tcp_payload:",
        ("st", 4),
        ("ld_mem", 1),
        ("add_x", 0),
        ("st", 5),
        ("tax", 0),  # X = IP + TCP header length
        ("ldb_x", 14),
        ("jeq", 0x16, None, "tcp_not_tls"),
        ("ret", SNAP_ALL),  # TLS handshake record
        "tcp_not_tls:",
        ("ld_mem", 4),
        ("jgt", 3, None, "tcp_lead0"),
        ("ldw_x", 14),
    ]
    for method in _HTTP_METHODS:
        src.append(("jeq", _method_word(method), "tcp_all"))
    src += [("ja", "tcp_lead0"), "tcp_all:", ("ret", SNAP_ALL)]
    # Payload signatures of TCP protocols (any segment: a relay's STUN answer names its realm).
    src += lead_source(signatures.tcp_leads(), "tcp_lead", "continuation")
    src += [
        "continuation:",
        ("ldx_mem", 1),
        ("ldh_x", 16),
        ("jeq", 443, None, "tcp_other"),  # to port 443 only
        ("ld_mem", 4),
        ("jgt", 1200, "tcp_other"),  # never a full-size segment
        ("ldx_mem", 5),
        ("ldb_x", 14),
        ("jge", 0x14, None, "tcp_all2"),
        ("jgt", 0x17, "tcp_all2", "tcp_other"),  # not a record
        "tcp_all2:",
        ("ret", SNAP_ALL),
        "tcp_other:",
        ("ret", other),
        # ---- UDP: X = IP header length
        # (The payload's length and offset are stored first: the kernel's checker carries the stored words
        # straight on past a return, so the word must be stored before ``udp_all`` for the leads after it.)
        "udp:",
        ("ld_mem", 2),
        ("sub", 8),
        ("st", 4),
        ("ld_mem", 1),
        ("add", 8),
        ("st", 5),
        ("ldh_x", 14),
    ]
    for port in _NAME_PORTS:
        src.append(("jeq", port, "udp_all"))
    src.append(("ldh_x", 16))
    for port in _NAME_PORTS:
        src.append(("jeq", port, "udp_all"))
    src += [
        ("ld_mem", 4),
        ("jge", 1024, None, "udp_lead0"),  # client Initials and CHLOs are padded
        ("ldb_x", 22),
        ("and", 0xC0),
        ("jeq", 0xC0, "udp_all"),  # QUIC long header
        ("ldb_x", 22),
        ("and", 0x09),
        ("jeq", 0x09, None, "udp_lead0"),  # gQUIC: version + 8-byte CID flags
        ("ldb_x", 31),
        ("jeq", ord("Q"), "udp_all", "udp_lead0"),  # version tag "Q0xx" at payload + 9
        "udp_all:",
        ("ret", SNAP_ALL),
    ]
    # Payload signatures of games, calls and messengers (STUN, RakNet, Discord...): generated from the
    # signature table, so the kernel passes exactly what the rules can name.
    src += lead_source(signatures.udp_leads(), "udp_lead", "udp_other")
    src += ["udp_other:", ("ret", other)]
    return src


def program(count_all: bool = False) -> list[Instruction]:
    """The assembled filter."""
    return assemble(program_source(count_all))


MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS
_MEMWORDS = 16


def check(instructions: Sequence[Instruction]) -> None:
    """Reject a program the kernel's classic BPF checker would refuse (``bpf_check_classic`` and
    ``check_load_and_stores`` in net/core/filter.c): length, jump targets inside the program, a return last,
    scratch memory read only after every path to the read stored it. Raises :class:`DpiError`."""
    size = len(instructions)
    if not 0 < size <= MAX_INSTRUCTIONS:
        raise DpiError(f"BPF program of {size} instructions (1-{MAX_INSTRUCTIONS})")
    if instructions[-1][0] & 0x07 != _RET:
        raise DpiError("BPF program does not end with a return")
    everything = (1 << _MEMWORDS) - 1
    masks = [everything] * size
    valid = 0  # the kernel starts with no scratch word stored
    for pc, (code, jt, jf, k) in enumerate(instructions):
        valid &= masks[pc]
        cls = code & 0x07
        if code in (_ST, _STX):
            if k >= _MEMWORDS:
                raise DpiError(f"instruction {pc}: scratch word {k} out of range")
            valid |= 1 << k
        elif code in (_LD | _MEM, _LDX | _MEM):
            if k >= _MEMWORDS or not valid & (1 << k):
                raise DpiError(f"instruction {pc}: reads scratch word {k} before every path stored it")
        elif cls == _JMP:
            targets = [pc + 1 + k] if code == _JMP | _JA else [pc + 1 + jt, pc + 1 + jf]
            for target in targets:
                if target >= size:
                    raise DpiError(f"instruction {pc}: jump past the end")
                masks[target] &= valid
            valid = everything


def pack(instructions: Sequence[Instruction]) -> bytes:
    """The array of ``struct sock_filter`` the kernel takes."""
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in instructions)


class _OutOfBounds(Exception):
    pass


def run(instructions: Sequence[Instruction], frame: bytes, steps: list[int] | None = None) -> int:
    """Interpret the program on a frame as the kernel would: bytes kept, 0 if dropped.

    Loads past the end of the frame end the program with 0, like the kernel. With ``steps`` (a one-item
    list), the number of instructions executed is added to ``steps[0]``: the filter's cost per frame.
    """
    a = x = 0
    mem = [0] * 16
    pc = 0
    size = len(frame)

    def load(offset: int, width: int) -> int:
        if offset < 0 or offset + width > size:
            raise _OutOfBounds
        return int.from_bytes(frame[offset : offset + width], "big")

    try:
        while pc < len(instructions):
            code, jt, jf, k = instructions[pc]
            pc += 1
            if steps is not None:
                steps[0] += 1
            cls = code & 0x07
            if cls == _RET:
                return min(k, size)
            if cls == _LD:
                mode, width = code & 0xE0, {_W: 4, _H: 2, _B: 1}[code & 0x18]
                if mode == _ABS:
                    a = load(k, width)
                elif mode == _IND:
                    a = load(x + k, width)
                elif mode == _MEM:
                    a = mem[k]
                else:
                    a = k
            elif cls == _LDX:
                mode = code & 0xE0
                x = 4 * (load(k, 1) & 0x0F) if mode == _MSH else mem[k] if mode == _MEM else k
            elif cls == _ST:
                mem[k] = a
            elif cls == _STX:
                mem[k] = x
            elif cls == _ALU:
                operand = x if code & _X else k
                op = code & 0xF0
                a = (
                    a + operand
                    if op == _ADD
                    else a - operand
                    if op == _SUB
                    else a & operand
                    if op == _AND
                    else a >> operand
                ) & 0xFFFFFFFF
            elif cls == _JMP:
                op = code & 0xF0
                if op == _JA:
                    pc += k
                    continue
                taken = (
                    a == k if op == _JEQ else a > k if op == _JGT else a >= k if op == _JGE else bool(a & k)
                )
                pc += jt if taken else jf
            elif cls == _MISC:
                if code & 0xF8 == _TXA:
                    a = x
                else:
                    x = a
    except _OutOfBounds:
        return 0
    raise DpiError("BPF program fell off its end")
