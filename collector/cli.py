"""``homescope-collector``: serve, and the operator's maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from pydantic import ValidationError

from collector import __version__
from collector.service import Service
from collector.settings import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in {"db": args.db, "mqtt": args.mqtt, "http": args.http}.items() if v}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"homescope-collector: bad settings: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Service(settings).run_forever(stop)

    asyncio.run(main())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homescope-collector", description=__doc__)
    parser.add_argument("--version", action="version", version=f"homescope-collector {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="ingest over MQTT and serve the operator UI and API")
    serve.add_argument("--db", help="store URL: sqlite:///path.db (default) or postgresql://...")
    serve.add_argument("--mqtt", help="broker URL, e.g. mqtt://127.0.0.1:1883")
    serve.add_argument("--http", help="HOST:PORT to serve on (default 127.0.0.1:8080)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
