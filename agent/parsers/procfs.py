"""Pure parsers of Linux /proc files shared by several samplers."""

from __future__ import annotations

from typing import NamedTuple


class CpuTimes(NamedTuple):
    """Aggregate jiffies from the ``cpu`` line of /proc/stat."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> tuple[CpuTimes, int]:
    """The aggregate CPU times and the number of CPUs in /proc/stat."""
    total_line: list[int] | None = None
    cpus = 0
    for line in text.splitlines():
        if line.startswith("cpu "):
            total_line = [int(v) for v in line.split()[1:]]
        elif line.startswith("cpu") and line[3:4].isdigit():
            cpus += 1
    if total_line is None:
        raise ValueError("no aggregate cpu line in /proc/stat")
    # user nice system idle iowait irq softirq steal [guest guest_nice are inside user/nice]
    values = (total_line + [0] * 8)[:8]
    idle = values[3] + values[4]
    total = sum(values)
    return CpuTimes(busy=total - idle, total=total), max(cpus, 1)


def cpu_usage_pct(before: CpuTimes, after: CpuTimes) -> float | None:
    """Busy share between two readings, or ``None`` when the counters went backwards."""
    d_total = after.total - before.total
    d_busy = after.busy - before.busy
    if d_total <= 0 or d_busy < 0:
        return None
    return round(100.0 * d_busy / d_total, 2)


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as a name -> KiB map."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name.strip()] = int(parts[0])
    return out


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """The three load averages of /proc/loadavg."""
    parts = text.split()
    return float(parts[0]), float(parts[1]), float(parts[2])


def parse_uptime(text: str) -> int:
    """Whole seconds since boot from /proc/uptime."""
    return int(float(text.split(maxsplit=1)[0]))


class NetDevCounters(NamedTuple):
    """One row of /proc/net/dev (receive and transmit columns we report)."""

    name: str
    bytes_received: int
    packets_received: int
    errors_received: int
    discard_packets_received: int
    bytes_sent: int
    packets_sent: int
    errors_sent: int
    discard_packets_sent: int


def parse_net_dev(text: str) -> list[NetDevCounters]:
    """Every interface in /proc/net/dev, in file order."""
    rows: list[NetDevCounters] = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        v = [int(x) for x in rest.split()]
        if len(v) < 16:
            raise ValueError(f"short /proc/net/dev row for {name.strip()}")
        rows.append(NetDevCounters(name.strip(), v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]))
    return rows


def hex_ipv4(value: str) -> str:
    """A dotted address from the little-endian hex of /proc/net/route (``0101A8C0`` is 192.168.1.1)."""
    raw = int(value, 16)
    return ".".join(str((raw >> shift) & 0xFF) for shift in (0, 8, 16, 24))


def parse_default_gateway(text: str) -> tuple[str, str] | None:
    """``(device, gateway)`` of the IPv4 default route in /proc/net/route, if any.

    The route with the lowest metric wins, as the kernel would pick it.
    """
    best: tuple[int, str, str] | None = None
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 8 or parts[1] != "00000000" or parts[7] != "00000000":
            continue
        flags = int(parts[3], 16)
        if not flags & 0x1:  # RTF_UP
            continue
        metric = int(parts[6])
        if best is None or metric < best[0]:
            best = (metric, parts[0], hex_ipv4(parts[2]))
    return None if best is None else (best[1], best[2])


def parse_millidegrees(text: str) -> float | None:
    """Degrees Celsius from a thermal-zone or hwmon ``temp`` file (millidegrees), if plausible."""
    value = text.strip()
    if not value.lstrip("-").isdigit():
        return None
    celsius = int(value) / 1000.0
    # Unpopulated sensors read 0, -273 or absurd values; those are not temperatures.
    return round(celsius, 1) if -40.0 < celsius < 150.0 and celsius != 0.0 else None


def counter_delta(before: int | None, after: int | None, width_bits: int = 64) -> int | None:
    """How much a cumulative counter grew, across one wrap of a ``width_bits`` counter.

    A counter that went backwards from near the top of its range wrapped; from anywhere else it
    was reset (reboot, driver reload, station re-association), and the growth is unknown: ``None``,
    never a negative number.
    """
    if before is None or after is None or before < 0 or after < 0:
        return None
    if after >= before:
        return after - before
    top = 1 << width_bits
    if before >= top - (top >> 4) and after < (top >> 4):  # within the last 1/16 of the range
        return after + top - before
    return None
