"""An AF_PACKET socket on the LAN bridge with the BPF program of :mod:`agent.dpi.bpf` attached.

The socket is opened with protocol 0 (it receives nothing), the filter is attached, and only then is it
bound to the interface for all protocols, so no unfiltered packet is ever queued. Reading is plain
``recv`` on a non-blocking socket; the kernel's counters of packets seen and dropped (``PACKET_STATISTICS``)
are exposed so the agent can report its own cost and losses.

Linux only, and needs CAP_NET_RAW. The kernel is handed the filter's address from an ``array`` buffer, not
through ``ctypes``: OpenWrt ships ctypes apart (python3-ctypes + libffi), and the agent must run without it.
"""

from __future__ import annotations

import array
import select
import socket
import struct
import time
from dataclasses import dataclass

from agent.dpi import DpiError, bpf
from agent.dpi.packet import Packet, decode
from agent.dpi.pcapfile import LINKTYPE_ETHERNET
from agent.logger import Logger

log = Logger(__name__)

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_STATISTICS = 6
_MAX_FRAME = 65536


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """Kernel counters since the previous call: frames that passed the filter, and those dropped."""

    packets: int
    drops: int


class CaptureSocket:
    """Filtered frames from one interface, decoded to :class:`Packet`."""

    def __init__(self, interface: str, count_all: bool = False, rcvbuf: int = 2 * 1024 * 1024) -> None:
        self.interface = interface
        self.instructions = bpf.program(count_all)
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except (OSError, AttributeError) as exc:
            raise DpiError(f"cannot open a packet socket (root and Linux needed): {exc}") from exc
        try:
            # struct sock_fprog {unsigned short len; struct sock_filter *filter;}: the kernel copies the
            # program during setsockopt, so the buffer only has to live until then.
            code = array.array("B", bpf.pack(self.instructions))
            fprog = struct.pack("HP", len(self.instructions), code.buffer_info()[0])
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.bind((interface, ETH_P_ALL))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise DpiError(f"cannot capture on {interface}: {exc}") from exc
        self._sock = sock
        self.undecodable = 0

    def fileno(self) -> int:
        """The socket's descriptor, for the agent's poll loop."""
        return self._sock.fileno()

    def read(self, timeout: float = 0.0, limit: int = 10_000) -> list[Packet]:
        """Every frame waiting (waiting up to ``timeout`` seconds for the first), decoded."""
        packets: list[Packet] = []
        if timeout > 0:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return packets
        while len(packets) < limit:
            try:
                frame = self._sock.recv(_MAX_FRAME)
            except BlockingIOError:
                break
            try:
                packet = decode(LINKTYPE_ETHERNET, frame, time.time())
            except DpiError:
                self.undecodable += 1
                continue
            if packet is not None:
                packets.append(packet)
        return packets

    def stats(self) -> CaptureStats:
        """Kernel counters (reset by reading): frames that passed the filter and frames dropped."""
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        return CaptureStats(packets, drops)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def __enter__(self) -> CaptureSocket:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
