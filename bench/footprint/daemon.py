"""The agent's daemon path in a process of its own: RSS, Python CPU and executions per window.

Run by ``bench/agent.py`` once per interpreter (this machine's, and Debian's i386 CPython for
a 32-bit gateway) and per DPI load. What runs is what ``homescope-agent run`` runs: the real
:class:`Runner` with every sampler, the SQLite outbox on a file, the publisher and paho
over a real socket to a real Mosquitto (ssl imported as the transport does); only the
device is the recorded bench home (12 stations, 3 radios) instead of /proc and ubus, and
time is driven: each window is 15 station-watch minutes, the DPI's 30 conntrack ticks,
then the report. With ``--connections N`` the DPI monitor accounts N conntrack entries whose
handshakes were seen (N SYNs fed to its flow table), as a busy home's would be.

CPU per window counts every thread of the process (sampling, framing, spooling, paho),
not the idle loop between windows. Executions are the ``System.run`` calls: each is a
fork/exec (``ubus``, ``ping``, ``iw``, ``brctl``) on a gateway; the station watch's one
long-running ``ubus subscribe`` is not counted, and no station joins or leaves in the
bench's windows (each notification costs one read of the association lists, 7 executions,
and two follow-up reads).

With ``--ca-file`` the broker is an ``mqtts://`` one, as the package's configuration ships
(TLS with the collector's CA). ``HOMESCOPE_BENCH_ABSENT`` (comma-separated module names, set by
``bench/agent.py`` from ``bench/footprint/absent.py``) lists the standard-library modules a
router with only the package's declared OpenWrt dependencies lacks; they are refused here
before anything else is imported, as they would be there.

The home is read from ``--home`` (``bench/footprint/served.py``, written by the parent): building it
here would count the bench harness (``pathlib``, the fixture loaders: ~0.2 MiB on 32-bit) as the
daemon's memory.

    python -c 'from bench.footprint.served import write_homes; write_homes("HOMES", 6)'
    python -m bench.footprint.daemon --broker mqtts://localhost:8883 --ca-file CA --spool DIR --home HOMES [--windows 6]

(``-m`` from the repository's root runs the byte-compiled module, as the agent runs on a router; a
script would be compiled from source in the measured process, ~0.3 MiB of compiler leftovers.)
"""

from __future__ import annotations

import os
import sys


class _Absent:
    """A meta-path finder that says a module is not installed (first on ``sys.meta_path``)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(
                f"No module named {name!r} (not in the declared OpenWrt packages)", name=name
            )


_ABSENT = {n for n in os.environ.get("HOMESCOPE_BENCH_ABSENT", "").split(",") if n}
if _ABSENT:
    sys.meta_path.insert(0, _Absent(_ABSENT))  # type: ignore[arg-type]

import argparse  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


#: a served file's text meaning "this machine's file, read when the agent reads it" (/proc/self/status)
LIVE = "\x00live"
#: a window's length in seconds (bench/footprint/home.py's WINDOW, not imported: it is harness)
WINDOW = 900


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        lines = status.read().splitlines()
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Quiet:
    """A long-running command that prints nothing until closed."""

    def __init__(self) -> None:
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[str]:
        self._closed.wait()
        return iter(())

    def close(self) -> None:
        self._closed.set()


class SwitchingSystem:
    """The device as the agent sees it: one recorded home per window, runs counted."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.runs = 0
        self.connections = 0
        self.step = 0

    def stream(self, argv: list[str]) -> Quiet:
        """``ubus subscribe``: a home where no station joins or leaves within the window."""
        return Quiet()

    def lines(self, path: str) -> Iterator[str]:
        if path == "/proc/net/nf_conntrack" and self.connections:
            return conntrack_lines(self.connections, self.step)
        return iter(self.read(path).splitlines())

    def read(self, path: str) -> str:
        text = str(self.target.read(path))
        if text == LIVE:
            with open(path) as live:
                return live.read()
        return text

    def run(self, argv: list[str], timeout: float = 10.0) -> str:
        self.runs += 1
        return str(self.target.run(argv, timeout))

    def listdir(self, path: str) -> list[str]:
        return list(self.target.listdir(path))

    def exists(self, path: str) -> bool:
        return bool(self.target.exists(path))


def conntrack_lines(n: int, step: int) -> Iterator[str]:
    """``n`` established TCP entries from the home's stations, counters growing each window.

    Made as they are read, as LocalSystem.lines reads /proc (the bench holds no copy).
    """
    for i in range(n):
        station = f"192.168.1.{101 + i % 12}"
        remote = f"198.{18 + i // 60000}.{(i // 250) % 240}.{1 + i % 250}"
        sport, up, down = 30000 + i % 30000, 2000 * step * (1 + i % 7), 50000 * step * (1 + i % 5)
        yield (
            f"ipv4     2 tcp      6 7440 ESTABLISHED src={station} dst={remote} sport={sport} dport=443"
            f" packets={step * 10} bytes={up} src={remote} dst=203.0.113.7 sport=443 dport={sport}"
            f" packets={step * 20} bytes={down} [ASSURED] mark=0 zone=0 use=2"
        )


def start_dpi(reporter: Any, system: SwitchingSystem, connections: int) -> tuple[Any, Any]:
    """Give the apps sampler a monitor over ``system`` (no capture socket) with the flows' handshakes."""
    from agent.dpi.classifier import Classifier
    from agent.dpi.monitor import DpiMonitor
    from agent.dpi.packet import TCP, Packet

    class NoPackets:
        def read(self, timeout: float = 0.0, limit: int = 10_000) -> list[Packet]:
            return []

        def close(self) -> None:
            pass

    apps = next(s for s in reporter.samplers if s.name == "apps")
    monitor = DpiMonitor(
        Classifier(), source=NoPackets(), read=system.read, read_lines=system.lines, volumes="conntrack"
    )
    mac = bytes.fromhex("f0b479100001")
    for i in range(connections):
        src = bytes([192, 168, 1, 101 + i % 12])
        dst = bytes([198, 18 + i // 60000, (i // 250) % 240, 1 + i % 250])
        monitor.feed([Packet(0.0, mac, None, src, dst, TCP, 30000 + i % 30000, 443, 0x02, 0, b"", 60)])
    apps._monitor = monitor
    apps._thread = threading.Thread()  # never started: ticks are driven below, not by the timer
    return monitor, apps


def main(argv: list[str] | None = None) -> int:
    from agent.cli import _HelpFormatter, build_parser

    # what `homescope-agent run` does first: its own parser (argparse) and the modules of agent.cli
    build_parser().parse_args(["run", "--no-jitter"])
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None, formatter_class=_HelpFormatter
    )
    parser.add_argument("--broker", required=True, help="mqtt://127.0.0.1:PORT")
    parser.add_argument("--spool", required=True, help="folder for the outbox file")
    parser.add_argument(
        "--home", required=True, help="folder of the served homes (bench/footprint/served.py: write_homes)"
    )
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--connections", type=int, default=0, help="conntrack entries for DPI (0: DPI off)")
    parser.add_argument(
        "--ca-file", default="", help="the broker's CA, for an mqtts:// broker (as the package ships)"
    )
    args = parser.parse_args(argv)
    baseline_kib = _status("VmRSS")

    from agent import __version__
    from agent.config import AgentConfig
    from agent.publisher.outbox import Outbox
    from agent.publisher.paho_transport import PahoTransport
    from agent.publisher.publisher import Publisher, status_frame
    from agent.reporter import Reporter
    from agent.runner import Runner
    from agent.samplers import build_samplers
    from bench.footprint.served import ServedSystem
    from protocol.topics import Kind, topic_for

    dpi = args.connections > 0
    gid = "gw-bench"
    config = AgentConfig(
        gateway_id=gid,
        mqtt_url=args.broker,
        mqtt_ca_file=args.ca_file,
        spool_path=f"{args.spool}/outbox.db",
        ping_target="",
        dpi_interface="br-lan" if dpi else "",
        competitor_ssid_patterns=("Orange=Livebox-*",),
    )
    start = 1_795_437_000
    clock = [float(start)]
    mono = [1000.0]

    def step_home(step: int) -> Any:
        target = ServedSystem.load(args.home, step)
        target.add_file("/proc/self/status", LIVE)  # read when the sampler reads it (SwitchingSystem.read)
        if dpi:
            target.add_file("/sys/class/net/br-lan", "")  # exists: the sampler's capture interface
            target.add_file("/proc/net/nf_conntrack", "")  # served by SwitchingSystem.lines
        return target

    system = SwitchingSystem(step_home(0))
    system.connections = args.connections
    outbox = Outbox(config.spool_path, config.spool_quota_bytes)
    will = (topic_for(gid, Kind.STATUS), status_frame(gid, "offline", outbox.epoch, __version__, 0))
    transport = PahoTransport(config.mqtt_url, gid, username=gid, ca_file=config.mqtt_ca_file, will=will)
    publisher = Publisher(gid, outbox, transport, version=__version__, wall=lambda: clock[0])
    reporter = Reporter(build_samplers(config.disabled_samplers))
    monitor, apps = start_dpi(reporter, system, args.connections) if dpi else (None, None)
    runner = Runner(
        config, system, reporter, outbox, publisher, wall=lambda: clock[0], monotonic=lambda: mono[0]
    )
    runner.window_start = start
    runner.prime()
    publisher.start()
    deadline = time.monotonic() + 10
    while not transport.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    cpu: list[float] = []
    execs: list[int] = []
    rss: list[int] = []
    for step in range(1, args.windows + 1):
        system.target, system.step = step_home(step), step
        began, runs = time.process_time(), system.runs
        for minute in range(WINDOW // 60):
            clock[0] += 60
            mono[0] += 60
            runner.watch_tick()
            if monitor is not None:
                for half in (1, 0):  # a conntrack tick every 30 s, under the sampler's lock
                    with apps._lock:
                        monitor.tick(clock[0] - 30 * half)
            if minute % 5 == 0:
                publisher.pump()
        runner.cycle(start + step * WINDOW)
        publisher.release_at = 0.0
        publisher.pump()
        cpu.append(time.process_time() - began)
        execs.append(system.runs - runs)
        rss.append(_status("VmRSS"))
    deadline = time.monotonic() + 5
    while publisher.inflight and time.monotonic() < deadline:
        time.sleep(0.05)
    published = publisher.sent
    publisher.stop()
    outbox.close()
    steady = rss[len(rss) // 2 :]
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "bits": struct.calcsize("P") * 8,
                "connections": args.connections,
                "windows": args.windows,
                "rss_mib_interpreter": round(baseline_kib / 1024, 1),
                "rss_mib_steady": round(max(steady) / 1024, 1),
                "rss_mib_peak": round(_status("VmHWM") / 1024, 1),
                "cpu_ms_per_window_median": round(1000 * _median(cpu[1:] or cpu), 1),
                "execs_per_window": int(_median(execs[1:] or execs)),
                "published": published,
                "connected": transport.connected or published > 0,
                "modules_loaded": len(sys.modules),
                # the bench's own modules, which must not be counted in the daemon's memory (served.py)
                "harness_modules": sorted(m for m in sys.modules if m == "pathlib" or m.startswith("tests")),
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
