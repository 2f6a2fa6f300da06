"""``homescope-collector``: serve, and the operator's maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from collector import __version__
from collector.broker_config import BrokerConfigError, BrokerPlan, read_ids, write_broker_config
from collector.marketing.commands import add_commands as add_marketing_commands
from collector.runtime import tune_gc
from collector.security_cli import add_security_commands
from collector.service import Service
from collector.settings import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in {"db": args.db, "mqtt": args.mqtt, "http": args.http}.items() if v}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"homescope-collector: bad settings: {exc}", file=sys.stderr)
        return 2

    from collector.ingest.tls import BrokerTlsError, broker_address
    from collector.security.errors import SecurityError
    from collector.web.bootstrap import auth_from_settings, web_tls

    try:  # fail fast, naming the setting, before anything starts
        auth_from_settings(settings)
        web_tls(settings)
        broker_address(settings)
    except (SecurityError, BrokerTlsError) as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Service(settings).run_forever(stop)

    tune_gc()
    asyncio.run(main())
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    gateways = list(args.gateway or [])
    try:
        for path in args.gateways or []:
            gateways += read_ids(path)
    except OSError as exc:
        print(f"homescope-collector: cannot read gateway ids: {exc}", file=sys.stderr)
        return 2
    if bool(args.certfile) != bool(args.keyfile) or (args.certfile and not args.cafile):
        print("homescope-collector: TLS needs --cafile, --certfile and --keyfile together", file=sys.stderr)
        return 2
    plan = BrokerPlan(
        out=Path(args.out),
        gateways=gateways,
        collectors=args.collector or ["_collector"],
        listen=args.listen or "",
        collector_listen=args.collector_listen or "",
        cafile=args.cafile or "",
        certfile=args.certfile or "",
        keyfile=args.keyfile or "",
        persistence_dir=args.persistence_dir or "",
        log_file=args.log_file or "",
        run_as=args.run_as or "",
        max_queued_messages=args.max_queued,
        hasher=args.hasher,
        access=args.access,
    )
    try:
        summary = write_broker_config(plan, rotate=args.rotate)
    except BrokerConfigError as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    print(f"run: mosquitto -c {summary['conf']}   (passwords: {plan.out / 'credentials'}, mode 0600)")
    return 0


def _store_url(db: str | None) -> str:
    return db or Settings().db


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Full recompute of every home's profile results (docs/profiles.md)."""
    from collector.profiles.config import ConfigError, load_config
    from collector.profiles.evaluate import EvaluationReport, evaluate
    from collector.profiles.rules import plugin_defaults
    from collector.store import StoreError, opened
    from collector.store.base import drain_folds, insights

    try:
        config = load_config(args.config, plugin_defaults())
    except ConfigError as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2

    async def run() -> EvaluationReport:
        async with opened(_store_url(args.db)) as store:
            await drain_folds(insights(store))
            return await evaluate(insights(store), config, as_of=args.as_of, workers=args.workers)

    try:
        report = asyncio.run(run())
    except StoreError as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"evaluated {report.homes} homes in {report.seconds} s: {report.results} results")
        for rule, n in sorted(report.by_rule.items()):
            print(f"  {rule:22} {n}")
        print("  changes: " + ", ".join(f"{k} {v}" for k, v in report.changes.items()))
    return 0


def cmd_import_subscribers(args: argparse.Namespace) -> int:
    """Import the CRM CSV: report bad rows with their line numbers, keep the good ones."""
    from collector.crm import parse_subscribers
    from collector.store import StoreError, opened
    from collector.store.base import insights

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"homescope-collector: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    result = parse_subscribers(text)
    for line, message in result.warnings:
        print(f"{args.file}:{line}: warning: {message}", file=sys.stderr)
    for line, message in result.errors:
        print(f"{args.file}:{line}: {message}", file=sys.stderr)

    async def run() -> int:
        async with opened(_store_url(args.db)) as store:
            return await insights(store).upsert_subscribers(result.rows)

    try:
        written = asyncio.run(run()) if result.rows else 0
    except StoreError as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2
    print(f"imported {written} subscribers; {len(result.errors)} bad rows skipped")
    return 1 if result.errors else 0


def cmd_dpi_domains(args: argparse.Namespace) -> int:
    """Load the operator's domain categories (TOML) into the store, as the collector does at start."""
    from collector.dpi.rules import RuleError, load_path
    from collector.store import StoreError, opened

    async def run() -> tuple[int, int]:
        async with opened(_store_url(args.db)) as store:
            return await load_path(store.db, args.file)

    try:
        done, gone = asyncio.run(run())
    except (RuleError, StoreError) as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2
    print(f"{done} domain rules from {args.file}; {gone} no longer in it removed")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write one report (HTML, PDF, CSVs) into --out; see collector/reports/."""
    from collector.reports.command import run_report

    return run_report(args)


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

    broker = sub.add_parser(
        "broker-config", help="write mosquitto.conf, ACL and per-gateway accounts (docs/broker-tls.md)"
    )
    broker.add_argument("--out", required=True, help="directory to write into")
    broker.add_argument("--gateway", action="append", metavar="ID", help="a gateway id (repeatable)")
    broker.add_argument("--gateways", action="append", metavar="FILE", help="file of gateway ids, one a line")
    broker.add_argument(
        "--collector", action="append", metavar="NAME", help="collector account, e.g. _collector (repeatable)"
    )
    broker.add_argument(
        "--listen", metavar="HOST:PORT", help="gateway listener (default 0.0.0.0:1883, TLS 8883)"
    )
    broker.add_argument(
        "--collector-listen",
        metavar="HOST:PORT",
        help="extra password listener for collectors, e.g. 127.0.0.1:1883",
    )
    broker.add_argument(
        "--cafile", help="private CA certificate (TLS: clients must present a cert it signed)"
    )
    broker.add_argument("--certfile", help="the broker's certificate")
    broker.add_argument("--keyfile", help="the broker's private key")
    broker.add_argument("--persistence-dir", help="where the broker saves sessions (default OUT/data)")
    broker.add_argument("--log-file", help="broker log file (default stderr)")
    broker.add_argument("--run-as", help="user the broker switches to (Mosquitto's default: mosquitto)")
    broker.add_argument("--max-queued", type=int, default=10_000, help="per-client queue (default 10000)")
    broker.add_argument("--hasher", choices=["auto", "mosquitto_passwd", "builtin"], default="auto")
    broker.add_argument(
        "--access",
        choices=["auto", "dynsec", "acl-file"],
        default="auto",
        help="access control: the dynamic security plugin (refuses $share subscriptions; auto where installed)",
    )
    broker.add_argument("--rotate", action="store_true", help="new passwords for every account")
    broker.set_defaults(func=cmd_broker_config)

    evaluate = sub.add_parser("evaluate", help="recompute every home's labels, flags and warnings now")
    evaluate.add_argument("--db", help="store URL (default: HOMESCOPE_DB or sqlite:///homescope.db)")
    evaluate.add_argument("--config", help="profile thresholds (TOML; default: HOMESCOPE_PROFILES_CONFIG)")
    evaluate.add_argument("--as-of", type=int, help="evaluate as of this UTC epoch second (default: now)")
    evaluate.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    evaluate.add_argument("--json", action="store_true", help="print the run's figures as one JSON object")
    evaluate.set_defaults(func=cmd_evaluate)

    crm = sub.add_parser("import-subscribers", help="import the CRM CSV (columns: docs/profiles.md)")
    crm.add_argument("file", metavar="FILE.csv")
    crm.add_argument("--db", help="store URL (default: HOMESCOPE_DB or sqlite:///homescope.db)")
    crm.set_defaults(func=cmd_import_subscribers)
    add_marketing_commands(sub)

    domains = sub.add_parser(
        "dpi-domains", help="load the operator's domain categories (TOML [domains]; docs/dpi.md)"
    )
    domains.add_argument("file", metavar="FILE.toml")
    domains.add_argument("--db", help="store URL (default: HOMESCOPE_DB or sqlite:///homescope.db)")
    domains.set_defaults(func=cmd_dpi_domains)

    report = sub.add_parser("report", help="write a weekly, monthly or date-range report (HTML, PDF, CSV)")
    report.add_argument("--db", help="store URL (default: HOMESCOPE_DB or sqlite:///homescope.db)")
    report.add_argument(
        "--period", choices=["week", "month"], help="the complete week or month before --as-of"
    )
    report.add_argument("--as-of", help="YYYY-MM-DD (default: today, UTC)")
    report.add_argument("--from", dest="first", help="on demand: first day YYYY-MM-DD (with --to)")
    report.add_argument("--to", dest="last", help="on demand: last day YYYY-MM-DD (included)")
    report.add_argument("--out", required=True, help="directory to write into")
    report.add_argument("--config", help="profile thresholds (TOML; default: HOMESCOPE_PROFILES_CONFIG)")
    report.add_argument("--no-pdf", action="store_true", help="skip the PDF (no Chromium here)")
    report.add_argument("--archive", action="store_true", help="also keep it in the store's report archive")
    report.set_defaults(func=cmd_report)
    add_security_commands(sub)
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
