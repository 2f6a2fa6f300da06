"""``homescope-emulator``: run a fleet of virtual gateways against a broker.

Live: ``run --homes N --mqtt URL --interval S [--duration S]`` reports every S real seconds.
Back-fill: ``run --personas mix --homes N --days 7 --truth truth.json [--crm subscribers.csv]``
sends N days of simulated 15-minute windows as fast as the collector acknowledges them,
after writing the ground truth (and the CRM export the collector imports).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from emulator import __version__
from emulator.clock import SimClock
from emulator.fleet import Fleet
from emulator.personas import PERSONAS, parse_mix
from emulator.truth import fleet_specs, write_crm, write_truth

log = logging.getLogger("emulator")


def _backfill(args: argparse.Namespace) -> int:
    clock = SimClock.for_days(args.days, args.end)
    specs = fleet_specs(parse_mix(args.personas or "mix"), args.homes, args.prefix, args.seed, args.areas)
    if args.truth:
        write_truth(args.truth, specs, clock.span)
    if args.crm:
        write_crm(args.crm, specs, clock.end)
    fleet = Fleet(len(specs), args.mqtt, prefix=args.prefix, seed=args.seed, specs=specs, span=clock.span,
                  resend_after_s=60.0, compact=not args.old_format, unclassified=args.unclassified)  # fmt: skip
    fleet.start()
    if not fleet.wait_connected(max(15.0, len(specs) / 50)):
        log.warning("not every gateway connected; spooling anyway (they deliver once connected)")
    started = time.monotonic()
    step = max(1, clock.windows // 20)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            rate = done * len(specs) / max(0.001, time.monotonic() - started)
            log.info("back-fill: %d/%d windows (%.0f reports/s)", done, total, rate)

    count = fleet.backfill(clock.first_end, clock.windows, clock.window_s, progress=progress)
    left = fleet.drain(timeout=120.0)
    fleet.stop()
    seconds = time.monotonic() - started
    log.info("back-filled %d reports for %d homes in %.1f s (%.0f/s); %d not acknowledged",
             count, len(specs), seconds, count / max(seconds, 0.001), left)  # fmt: skip
    return 0 if left == 0 else 1


def cmd_run(args: argparse.Namespace) -> int:
    if args.days is not None:
        return _backfill(args)
    specs = (
        fleet_specs(parse_mix(args.personas), args.homes, args.prefix, args.seed, args.areas)
        if args.personas
        else None
    )
    fleet = Fleet(
        args.homes,
        args.mqtt,
        interval_s=args.interval,
        prefix=args.prefix,
        seed=args.seed,
        specs=specs,
        compact=not args.old_format,
        unclassified=args.unclassified,
    )
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    log.info("emulating %d homes against %s, a report every %.1f s", args.homes, args.mqtt, args.interval)
    count = fleet.run(stop, args.duration)
    left = fleet.drain(timeout=10.0)
    fleet.stop()
    log.info("spooled %d reports; %d not acknowledged at exit", count, left)
    return 0 if left == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homescope-emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"homescope-emulator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="publish reports for N virtual gateways")
    run.add_argument("--homes", type=int, default=20)
    run.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    run.add_argument("--interval", type=float, default=5.0, help="live: real seconds between reports")
    run.add_argument(
        "--duration", type=float, help="live: stop after this many seconds (default: until stopped)"
    )
    run.add_argument("--prefix", default="emu", help="gateway id prefix")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument(
        "--personas",
        help=f"'mix' (the default fleet) or name[:weight],a+b[:weight],... from: {', '.join(PERSONAS)}",
    )
    run.add_argument("--days", type=float, help="back-fill this many simulated days (15-minute windows)")
    run.add_argument(
        "--end", type=int, help="back-fill: end of the last window, epoch seconds (default: now)"
    )
    run.add_argument("--truth", help="back-fill: write the ground truth (JSON) here")
    run.add_argument("--crm", help="back-fill: write the CRM export (CSV) here")
    run.add_argument("--areas", type=int, default=25, help="CRM areas the homes spread over (default 25)")
    run.add_argument(
        "--old-format",
        action="store_true",
        help="send reports as agents before protocol 1.2 do (not compact), as an old fleet would",
    )
    run.add_argument("--unclassified", type=int, default=0, choices=range(0, 51), metavar="N",
                     help="like the agent's dpi_unclassified_domains: name up to N unclassified domains "
                          "per window (0, the default: none)")  # fmt: skip
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ValueError as exc:  # a bad --personas
        print(f"homescope-emulator: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
