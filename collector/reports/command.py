"""``homescope-collector report``: one report into a directory (and optionally the archive)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from collector.reports.build import Built, build
from collector.reports.period import Period, PeriodError, date_range, parse_date, period_of


def period_from_args(args: argparse.Namespace) -> Period:
    """``--period`` with ``--as-of``, or ``--from`` with ``--to``; a :class:`PeriodError` otherwise."""
    if args.first or args.last:
        if args.period:
            raise PeriodError("give --period or --from/--to, not both")
        if not (args.first and args.last):
            raise PeriodError("--from and --to go together")
        return date_range(parse_date(args.first, "--from"), parse_date(args.last, "--to"))
    if not args.period:
        raise PeriodError("give --period week|month (with --as-of) or --from/--to")
    as_of = parse_date(args.as_of, "--as-of") if args.as_of else datetime.now(UTC).date()
    return period_of(args.period, as_of)


def run_report(args: argparse.Namespace) -> int:
    from collector.marketing import MarketingError
    from collector.marketing.reporting import register
    from collector.profiles.config import ConfigError, load_config
    from collector.profiles.rules import plugin_defaults
    from collector.reports.archive import save
    from collector.reports.pdf import PdfError
    from collector.settings import Settings
    from collector.store import StoreError, opened

    try:
        period = period_from_args(args)
        config = load_config(args.config, plugin_defaults())
        register()  # the campaigns section (the offer catalogue: HOMESCOPE_OFFERS or the shipped one)
    except (PeriodError, ConfigError, MarketingError) as exc:
        print(f"homescope-collector report: {exc}", file=sys.stderr)
        return 2

    async def run() -> Built:
        async with opened(args.db or Settings().db) as store:
            built = await build(store, period, config, pdf=not args.no_pdf)
            if args.archive:
                await save(store.db, built, owner="cli")
            return built

    try:
        built = asyncio.run(run())
    except (StoreError, PdfError) as exc:
        print(f"homescope-collector report: {exc}", file=sys.stderr)
        return 2
    paths = built.write(Path(args.out))
    print(f"{period.name}: {len(paths)} files in {args.out} ({built.seconds['total']:.1f} s)")
    return 0
