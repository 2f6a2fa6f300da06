"""``homescope-emulator``: run a fleet of virtual gateways against a broker."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from emulator import __version__
from emulator.fleet import Fleet


def cmd_run(args: argparse.Namespace) -> int:
    fleet = Fleet(args.homes, args.mqtt, interval_s=args.interval, prefix=args.prefix, seed=args.seed)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.info("emulating %d homes against %s, a report every %.1f s", args.homes, args.mqtt, args.interval)
    count = fleet.run(stop, args.duration)
    left = fleet.drain(timeout=10.0)
    fleet.stop()
    logging.info("spooled %d reports; %d not acknowledged at exit", count, left)
    return 0 if left == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homescope-emulator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"homescope-emulator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="publish reports for N virtual gateways")
    run.add_argument("--homes", type=int, default=20)
    run.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    run.add_argument("--interval", type=float, default=5.0, help="real seconds between reports")
    run.add_argument(
        "--duration", type=float, help="stop after this many seconds (default: run until stopped)"
    )
    run.add_argument("--prefix", default="emu", help="gateway id prefix")
    run.add_argument("--seed", type=int, default=1)
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
