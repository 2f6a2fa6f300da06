"""The agent's footprint for a home with 12 Wi-Fi stations on 3 radios: report size, RSS, CPU, executions.

Two parts, one JSON object on the last line. Figures, never a verdict.

1. In this process: the real samplers over the bench home (``bench/footprint/home.py``: the
   constructed Archer C6 fixture set grown to a third radio and twelve stations) for
   ``--cycles`` windows, each report encoded with :func:`protocol.codec.encode`: report size
   plain and compressed (the form before protocol 1.2), and as the agent sends it now, compact
   (``report_bytes_compressed``: a report naming its static view; ``..._carrying_view``: the
   first, and every 16th, which carry it; ``..._mean`` over the run), Python CPU per
   sampling cycle (compaction included).
2. The daemon path (``bench/footprint/daemon.py``) in child processes against a real Mosquitto
   started here: runner, every sampler, the SQLite outbox on a file, the publisher, paho over
   TLS with the collector's CA as the package's configuration ships it (``mqtts://``; a private
   CA made by packaging/mosquitto/make-ca.sh), on this machine's Python and on a real 32-bit
   CPython (Debian's i386 packages, unpacked by ``scripts/python32.sh`` on first use), without
   DPI and with the DPI monitor accounting 4,000 and 16,000 conntrack entries: RSS (steady and
   peak), Python CPU per window, process executions per window. As on a router, the code is
   byte-compiled before the runs (the package ships .pyc) and the 32-bit run lacks the stdlib
   modules no declared OpenWrt package ships (``bench/footprint/absent.py``: no ``unicodedata``,
   so no ``idna`` codec). ``rss_mib_32bit_plain_mqtt`` is the 32-bit run against a broker
   reached without TLS (OpenSSL is then never loaded). ``rss_mib_32bit_single_arena`` is the
   32-bit run without DPI with ``MALLOC_ARENA_MAX=1``: glibc gives each thread a malloc arena,
   musl (OpenWrt's libc) has a single heap. ``--no-daemon`` skips this part.

    python bench/agent.py --json [--cycles 30] [--windows 6] [--no-daemon]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config import AgentConfig  # noqa: E402
from agent.publisher.compaction import Compactor  # noqa: E402
from agent.reporter import Reporter  # noqa: E402
from agent.samplers import SampleContext, build_samplers  # noqa: E402
from bench.footprint.home import WINDOW, home  # noqa: E402
from protocol.codec import encode, envelope  # noqa: E402
from protocol.compact import compact_body, take_statics, view_id  # noqa: E402
from protocol.dictionaries import CURRENT  # noqa: E402
from protocol.topics import Kind  # noqa: E402


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(cycles: int) -> dict[str, Any]:
    """Run ``cycles`` windows after a priming read and return the figures."""
    config = AgentConfig(
        gateway_id="gw-bench", ping_target="", competitor_ssid_patterns=("Orange=Livebox-*",)
    )
    reporter = Reporter(build_samplers())
    start = 1_795_437_000
    priming = home(0)
    began = time.process_time()
    reporter.collect(SampleContext(priming, config, start, start, monotonic=0.0))  # also loads the OUI table
    priming_s = time.process_time() - began
    cpu_s: list[float] = []
    sizes: dict[str, tuple[int, int]] = {}
    commands = calls = 0
    compactor = Compactor()  # protocol 1.2: what the agent sends (carriers: reports carrying the static view)
    compact_sizes: dict[str, int] = {}
    compact_all: list[int] = []
    for step in range(1, cycles + 1):
        system = home(step)  # built outside the timed part: generating the home is not the agent's cost
        window = (start + (step - 1) * WINDOW, start + step * WINDOW)
        ctx = SampleContext(system, config, window[0], window[1], monotonic=float(step * WINDOW))
        began = time.process_time()
        body = reporter.collect(ctx)
        message = envelope(
            Kind.REPORT,
            "gw-bench",
            epoch=1,
            seq=step,
            window_start=window[0],
            window_end=window[1],
            uptime_s=86_400 + step * WINDOW,
            sent_at=window[1],
            body=body,
        )
        plain, packed = encode(message, compress=False), encode(message, compress=True)
        small = compactor.frame("gw-bench", 1, step, window, 86_400 + step * WINDOW, body, window[1])
        cpu_s.append(time.process_time() - began)
        compactor.acked(1, [(step, step)])  # the collector acknowledges each report at once
        compact_all.append(len(small))
        scanned = "neighbours" in body
        sizes.setdefault("with_scan" if scanned else "without_scan", (len(plain), len(packed)))
        # both forms of this very report, whichever the agent chose: naming its view, carrying it
        rest, statics = take_statics(body)
        for carrying, view in (
            (False, {"id": view_id(statics)}),
            (True, {"id": view_id(statics), **statics}),
        ):
            named = dict(message, body=compact_body({**rest, "view": view}))
            key = ("carrying_" if carrying else "") + ("with_scan" if scanned else "without_scan")
            compact_sizes.setdefault(key, len(encode(named, compact=True, dictionary_id=CURRENT)))
        if not scanned:
            calls = len(system.calls)
            commands = sum(1 for c in system.calls if c.split(" ", 1)[0] in _COMMANDS)
        assert len(body["stations"]) == 13 and len(body["radios"]) == 3, (
            len(body["stations"]),
            len(body["radios"]),
        )
    return {
        "stations": 12,
        "wired_terminals": 1,
        "radios": 3,
        "cycles": cycles,
        "report_bytes": sizes["without_scan"][0],
        "report_zlib_bytes": sizes["without_scan"][1],
        "report_bytes_with_scan": sizes["with_scan"][0],
        "report_zlib_bytes_with_scan": sizes["with_scan"][1],
        # the compact form (protocol 1.2): a report naming its static view, one carrying it, the mean
        "report_compact_bytes": compact_sizes["without_scan"],
        "report_compact_bytes_with_scan": compact_sizes["with_scan"],
        "report_compact_bytes_carrying_view": compact_sizes["carrying_without_scan"],
        "report_compact_bytes_mean": round(statistics.mean(compact_all)),
        "cpu_ms_priming_read": round(1000 * priming_s, 2),
        "cpu_ms_per_cycle_median": round(1000 * statistics.median(cpu_s), 2),
        "cpu_ms_per_cycle_max": round(1000 * max(cpu_s), 2),
        "rss_kib": _rss_kib(),
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "device_accesses_per_cycle": calls,
        "commands_per_cycle": commands,
        "python": sys.version.split()[0],
    }


_COMMANDS = ("ubus", "iw", "ping", "bridge", "brctl", "batctl", "ip", "curl", "iperf3")


def python32() -> str | None:
    """The 32-bit CPython's path, unpacked by scripts/python32.sh if it is not there yet."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "python32.sh"), str(ROOT / ".python32")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        print(f"no 32-bit CPython: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return done.stdout.strip().splitlines()[-1]


def _pki(folder: Path) -> Path | None:
    """A private CA and a broker certificate for localhost (packaging/mosquitto/make-ca.sh); None without openssl."""
    if shutil.which("openssl") is None:
        return None
    for step in (["ca"], ["server", "localhost", "127.0.0.1"]):
        subprocess.run(
            ["sh", str(ROOT / "packaging" / "mosquitto" / "make-ca.sh"), str(folder), *step],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return folder / "ca.crt"


def _absent_for(python: str) -> str:
    """HOMESCOPE_BENCH_ABSENT for ``python``: its stdlib modules no declared OpenWrt package ships."""
    from bench.footprint.absent import absent_modules, declared_depends

    probe = "import sys, sysconfig; print(sysconfig.get_paths()['stdlib']); print(*sys.builtin_module_names)"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    stdlib, builtins = out.stdout.splitlines()[:2]
    return ",".join(absent_modules(Path(stdlib), builtins.split(), declared_depends()))


def _byte_compile(python: str, paho_dir: Path) -> None:
    """Compile what the daemon run imports with ``python``, as the package ships it (.pyc, Python3/CompileAll).

    With PYTHONDONTWRITEBYTECODE (set on the reference machine) every run would compile the agent
    from source at import, and the compiler's leftovers would be counted as the agent's RSS.
    """
    sources = [ROOT / "agent", ROOT / "protocol", ROOT / "bench", ROOT / "tests" / "__init__.py"]
    sources += [ROOT / "tests" / "agent", paho_dir]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [python, "-m", "compileall", "-q", *map(str, sources)],
        env=env,
        capture_output=True,
        timeout=600,
        check=True,
    )


def daemon_runs(windows: int) -> dict[str, Any]:
    """RSS, CPU and executions of the daemon path per interpreter and DPI load."""
    from bench.footprint.served import write_homes
    from tests.broker import Broker, free_port

    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    interpreters = [("", sys.executable)]
    py32 = python32()
    if py32:
        interpreters.append(("_32bit", py32))
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        # the 32-bit interpreter gets paho (pure Python) from this one, and nothing else of its
        # site-packages: its C extensions are x86-64 (msgpack comes from Debian's i386 package)
        import paho

        only_paho = Path(tmp, "paho-only")
        only_paho.mkdir()
        (only_paho / "paho").symlink_to(Path(paho.__path__[0]))
        for _, python in interpreters:
            _byte_compile(python, Path(paho.__path__[0]))
        # every window's home written here, served from JSON there: the harness stays out of the figure
        homes = Path(tmp, "homes")
        write_homes(str(homes), windows)
        # TLS as the package ships it (mqtts:// and the collector's CA): ssl is loaded and used
        ca = _pki(Path(tmp, "pki"))
        plain = Broker(binary, Path(tmp, "broker"))
        tls = None
        if ca is not None:
            tls_port = free_port()
            tls = Broker(
                binary,
                Path(tmp, "broker-tls"),
                port=tls_port,
                extra_config=(
                    f"listener {tls_port} 127.0.0.1\nallow_anonymous true\ncafile {ca}\n"
                    f"certfile {ca.parent / 'server.crt'}\nkeyfile {ca.parent / 'server.key'}"
                ),
            )
        else:
            print("no openssl: the daemon runs over plain MQTT, not TLS as shipped", file=sys.stderr)
        figures["transport"] = "mqtts" if tls else "mqtt"
        started: list[Any] = []
        try:
            for broker in (plain, tls):
                if broker is not None:
                    broker.start()
                    started.append(broker)
            shipped = (
                ["--broker", f"mqtts://localhost:{tls.port}", "--ca-file", str(ca)]
                if tls
                else ["--broker", plain.url]
            )

            def run(
                python: str,
                suffix: str,
                connections: int,
                broker: list[str],
                extra_env: dict[str, str],
                count: int,
            ) -> dict[str, Any]:
                spool = Path(tempfile.mkdtemp(prefix="spool-", dir=tmp))
                env = {**os.environ, "PYTHONPATH": str(only_paho) if suffix else str(ROOT), **extra_env}
                done = subprocess.run(
                    [
                        python,
                        # from its .pyc, as the agent runs on a router: a script is compiled from source in
                        # the measured process, and the compiler's leftovers (~0.3 MiB) are not the daemon's
                        "-m",
                        "bench.footprint.daemon",
                        *broker,
                        "--spool",
                        str(spool),
                        "--home",
                        str(homes),
                        "--windows",
                        str(count),
                        "--connections",
                        str(connections),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=True,
                    env=env,
                    cwd=ROOT,  # on sys.path first, for -m
                )
                result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
                if not result["published"]:
                    raise RuntimeError(f"the daemon run published nothing: {result}")
                return result

            for suffix, python in interpreters:
                # the 32-bit run also lacks what the package does not declare, as a router would
                absent = {"HOMESCOPE_BENCH_ABSENT": _absent_for(python)} if suffix else {}
                for connections in (0, 4000, 16000):
                    if connections == 16000 and not suffix:
                        continue  # the 32-bit run shows the cap; 64-bit only adds minutes
                    got = run(python, suffix, connections, shipped, absent, windows if not connections else 3)
                    load = f"_dpi_{connections // 1000}k" if connections else ""
                    figures[f"rss_mib{suffix}{load}"] = got["rss_mib_steady"]
                    figures[f"rss_mib_peak{suffix}{load}"] = got["rss_mib_peak"]
                    figures[f"cpu_ms_per_window{suffix}{load}"] = got["cpu_ms_per_window_median"]
                    figures[f"execs_per_window{suffix}{load}"] = got["execs_per_window"]
                    figures[f"modules{suffix}{load}"] = got["modules_loaded"]
                    if suffix:
                        figures["python_32bit"] = got["python"]
                if suffix:
                    # glibc gives each thread its own malloc arena; musl (OpenWrt's libc) has one heap
                    single = run(python, suffix, 0, shipped, {**absent, "MALLOC_ARENA_MAX": "1"}, windows)
                    figures["rss_mib_32bit_single_arena"] = single["rss_mib_steady"]
                    if tls is not None:  # a broker reached without TLS (a LAN or VPN one): no OpenSSL context
                        figures["rss_mib_32bit_plain_mqtt"] = run(
                            python, suffix, 0, ["--broker", plain.url], absent, windows
                        )["rss_mib_steady"]
        finally:
            for broker in started:
                broker.stop()
    figures["execs_per_window"] = figures.get("execs_per_window_32bit", figures["execs_per_window"])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output too)")
    parser.add_argument(
        "--cycles", type=int, default=30, help="windows to sample in this process (default 30)"
    )
    parser.add_argument(
        "--windows", type=int, default=6, help="windows per daemon run without DPI (default 6)"
    )
    parser.add_argument("--no-daemon", action="store_true", help="only the in-process part")
    args = parser.parse_args(argv)
    figures = measure(max(args.cycles, 4))
    # what a gateway sends per window: the compact form naming its view (docs/gateway.md, "Footprint")
    figures["report_bytes_compressed"] = figures["report_compact_bytes"]
    if not args.no_daemon:
        figures.update(daemon_runs(max(args.windows, 3)))
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
