"""``homescope-agent``: run the agent, print one report, or classify captures."""

from __future__ import annotations

# The daemon's entry point (/usr/bin/homescope-agent, the console script, ``-m agent.cli``) and no
# other process: before the imports below pull them in, stand-ins for ipaddress and datetime.py
# (~0.3 MiB on a 32-bit gateway). A library user of ``agent`` (the emulator, tests) keeps the real ones.
# ruff: noqa: E402 (the imports below must come after start_light)
from agent.publisher.deferred import start_light

start_light()

import argparse
import json
import random
import signal
import sys
import threading
import time
from typing import Any

from agent import __version__, logger
from agent.commands import CommandDesk, measure
from agent.config import AgentConfig, ConfigError, load_config
from agent.logger import Logger
from agent.publisher.outbox import Outbox
from agent.publisher.paho_transport import PahoTransport
from agent.publisher.publisher import Publisher, status_frame
from agent.reporter import Reporter
from agent.runner import Runner
from agent.samplers import build_samplers
from agent.system import LocalSystem, System, SystemAccessError
from protocol.topics import Kind, topic_for

log = Logger("agent")


def default_gateway_id(system: System) -> str:
    """``gw-`` plus the first real interface's MAC, for a gateway nobody named."""
    try:
        names = system.listdir("/sys/class/net")
    except SystemAccessError:
        names = []
    for name in names:
        if name == "lo":
            continue
        try:
            mac = system.read(f"/sys/class/net/{name}/address").strip().lower()
        except SystemAccessError:
            continue
        if mac and mac != "00:00:00:00:00:00":
            return "gw-" + mac.replace(":", "")
    return "gw-unknown"


def _config(args: argparse.Namespace, system: System) -> AgentConfig:
    overrides: dict[str, Any] = {
        "gateway_id": getattr(args, "gateway_id", None),
        "mqtt_url": getattr(args, "mqtt", None),
        "interval_s": getattr(args, "interval", None),
        "spool_path": getattr(args, "spool", None),
    }
    config = load_config(args.config, overrides)
    if not config.gateway_id:
        from agent.record import replace

        config = replace(config, gateway_id=default_gateway_id(system))
    return config


def cmd_sample(args: argparse.Namespace) -> int:
    system = LocalSystem()
    config = _config(args, system)
    reporter = Reporter(build_samplers(config.disabled_samplers))
    outbox = Outbox(":memory:", config.spool_quota_bytes)
    runner = Runner(config, system, reporter, outbox, None)
    runner.prime()
    time.sleep(args.wait)
    seq = runner.cycle(int(time.time()))
    record = next(r for r in outbox.pending() if r.seq == seq)
    from protocol.codec import decode

    message = decode(record.frame)
    if args.json:
        json.dump(message, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        for name, status in message["body"]["samplers"].items():
            print(f"{name:12} {status['state']:12} {status.get('reason', '')}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    system = LocalSystem()
    config = _config(args, system)
    if not getattr(args, "verbose", False):  # -v (debug) wins over the configured level
        try:
            logger.configure(config.log_level)
        except ValueError as exc:
            raise ConfigError(f"log_level: {exc}") from None
    outbox = Outbox(config.spool_path, config.spool_quota_bytes)
    will = (
        topic_for(config.gateway_id, Kind.STATUS),
        status_frame(config.gateway_id, "offline", outbox.epoch, __version__, 0),
    )
    stop = threading.Event()
    failures: list[str] = []  # the MQTT network thread died: stop, and exit non-zero

    def fatal(reason: str) -> None:
        failures.append(reason)
        stop.set()

    transport = PahoTransport(
        config.mqtt_url,
        config.gateway_id,
        username=config.mqtt_username or config.gateway_id,
        password=config.mqtt_password,
        ca_file=config.mqtt_ca_file,
        cert_file=config.mqtt_cert_file,
        key_file=config.mqtt_key_file,
        will=will,
        on_fatal=fatal,
    )
    publisher = Publisher(
        config.gateway_id,
        outbox,
        transport,
        max_inflight=config.max_inflight,
        resend_after_s=config.resend_after_s,
        version=__version__,
    )
    if config.commands:
        desk = CommandDesk(
            config.gateway_id,
            lambda: measure(system, config),
            lambda topic, frame: transport.publish(topic, frame, qos=1),
            key=config.command_key.encode() or None,
        )
        publisher.handlers[desk.topic] = desk.receive
    runner = Runner(config, system, Reporter(build_samplers(config.disabled_samplers)), outbox, publisher)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    delay = random.uniform(0, min(config.startup_jitter_s, config.interval_s))
    if delay and not args.no_jitter:
        log.info("waiting %.1f s before connecting (fleet start-up jitter)", delay)
        if stop.wait(delay):
            return 0
    runner.run(stop, max_windows=args.windows)
    outbox.close()
    if failures:
        print(f"homescope-agent: the MQTT connection cannot work: {failures[0]}", file=sys.stderr)
        return 1
    return 0


def cmd_classify_pcap(args: argparse.Namespace) -> int:
    from agent.dpi.offline import main as classify_main

    return classify_main(list(args.args))


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter at a fixed width: its default asks ``shutil`` for the terminal's, and
    ``shutil`` (with ``bz2``, ``lzma`` and ``fnmatch``) costs ~0.35 MiB of RSS on a 32-bit gateway
    for a daemon that never prints help (bench/agent.py)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="homescope-agent", description=__doc__, formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"homescope-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-c", "--config", help="TOML or UCI configuration file")
        p.add_argument("--gateway-id", help="this gateway's id (default: from config, else gw-<mac>)")

    run = sub.add_parser(
        "run", help="sample every interval and publish to the collector", formatter_class=_HelpFormatter
    )
    common(run)
    run.add_argument("--mqtt", help="broker URL, e.g. mqtt://127.0.0.1:1883")
    run.add_argument("--interval", type=int, help="window length in seconds (default 900)")
    run.add_argument("--spool", help="outbox file (default /var/lib/homescope/outbox.db)")
    run.add_argument("--windows", type=int, help="stop after this many reports (for tests)")
    run.add_argument("--no-jitter", action="store_true", help="connect at once (no start-up delay)")
    run.set_defaults(func=cmd_run)

    sample = sub.add_parser(
        "sample", help="print one report to stdout; needs no broker", formatter_class=_HelpFormatter
    )
    common(sample)
    sample.add_argument("--json", action="store_true", help="the whole report as JSON")
    sample.add_argument("--wait", type=float, default=1.0, help="seconds between the two CPU readings")
    sample.set_defaults(func=cmd_sample)

    pcap = sub.add_parser(
        "classify-pcap",
        help="classify the flows of pcap/pcapng files, one JSON line each",
        formatter_class=_HelpFormatter,
    )
    pcap.add_argument(
        "args", nargs=argparse.REMAINDER, help="FILE... [--kernel-filter] [--operator-domain D]"
    )
    pcap.set_defaults(func=cmd_classify_pcap)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger.configure(logger.DEBUG if args.verbose else logger.INFO)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"homescope-agent: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
