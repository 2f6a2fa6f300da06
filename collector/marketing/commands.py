"""``homescope-collector import-outcomes`` and ``import-contacts``: the CRM files of the loop.

Both report bad rows as ``FILE:LINE: message`` on stderr, keep the good rows, and exit 1
when any row was bad (2 when nothing could be read or stored).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from collector.marketing.audiences import upsert_contacts
from collector.marketing.catalogue import CatalogueError, load_catalogue
from collector.marketing.outcomes import parse_outcomes
from collector.marketing.results import import_outcomes
from collector.profiles.rules import rules
from collector.settings import Settings
from collector.store import StoreError, opened
from collector.store.sql import Database

CONTACT_COLUMNS = ("subscriber_id", "name", "phone", "address")
MAX_TEXT = 256


def _kind_of(name: str) -> str | None:
    found = rules().get(name)
    return found.kind if found else None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"homescope-collector: cannot read {path}: {exc}", file=sys.stderr)
        return None


def _store(db: str | None, work: Callable[[Database], Awaitable[int]]) -> int | None:
    async def run() -> int:
        async with opened(db or Settings().db) as store:
            return await work(store.db)

    try:
        return asyncio.run(run())
    except StoreError as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return None


def cmd_import_outcomes(args: argparse.Namespace) -> int:
    """Import orders, plan changes, cancellations, opt-outs and departures from the CRM."""
    try:
        catalogue = load_catalogue(args.offers, _kind_of)
    except CatalogueError as exc:
        print(f"homescope-collector: {exc}", file=sys.stderr)
        return 2
    text = _read(args.file)
    if text is None:
        return 2
    parsed = parse_outcomes(text, catalogue.offers)
    for line, message in parsed.errors:
        print(f"{args.file}:{line}: {message}", file=sys.stderr)
    written = _store(args.db, lambda db: import_outcomes(db, parsed.rows)) if parsed.rows else 0
    if written is None:
        return 2
    print(f"imported {written} outcomes; {len(parsed.errors)} bad rows skipped")
    return 1 if parsed.errors else 0


def parse_contacts(
    text: str,
) -> tuple[list[tuple[str, str | None, str | None, str | None]], list[tuple[int, str]]]:
    """Contact rows (subscriber_id, name, phone, address) and the bad lines."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return [], [(1, "the file is empty")]
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    if "subscriber_id" not in reader.fieldnames:
        return [], [(1, "missing column(s): subscriber_id")]
    rows, errors = [], []
    for raw in reader:
        line = reader.line_num
        if None in raw:
            errors.append((line, f"{len(raw[None])} more field(s) than the header"))
            continue
        v: dict[str, Any] = {k: (raw.get(k) or "").strip() for k in CONTACT_COLUMNS}
        if not v["subscriber_id"]:
            errors.append((line, "subscriber_id is missing"))
            continue
        too_long = [k for k in CONTACT_COLUMNS if len(v[k]) > MAX_TEXT]
        if too_long:
            errors.append((line, f"{too_long[0]} is longer than {MAX_TEXT} characters"))
            continue
        rows.append((v["subscriber_id"], v["name"] or None, v["phone"] or None, v["address"] or None))
    return rows, errors


def cmd_import_contacts(args: argparse.Namespace) -> int:
    """Import the subscribers' contact fields (personal data: shown to admin and marketing only)."""
    text = _read(args.file)
    if text is None:
        return 2
    rows, errors = parse_contacts(text)
    for line, message in errors:
        print(f"{args.file}:{line}: {message}", file=sys.stderr)
    written = _store(args.db, lambda db: upsert_contacts(db, rows)) if rows else 0
    if written is None:
        return 2
    print(f"imported {written} contacts; {len(errors)} bad rows skipped")
    return 1 if errors else 0


def add_commands(sub: Any) -> None:
    """Add the marketing commands to ``homescope-collector``'s subcommands."""
    outcomes = sub.add_parser(
        "import-outcomes", help="import CRM orders, plan changes and opt-outs (docs/marketing.md)"
    )
    outcomes.add_argument("file", metavar="FILE.csv")
    outcomes.add_argument("--db", help="store URL (default: HOMESCOPE_DB or sqlite:///homescope.db)")
    outcomes.add_argument(
        "--offers", help="offer catalogue (TOML; default: HOMESCOPE_OFFERS or the shipped one)"
    )
    outcomes.set_defaults(func=cmd_import_outcomes)
    contacts = sub.add_parser("import-contacts", help="import subscribers' names, phones, addresses (CSV)")
    contacts.add_argument("file", metavar="FILE.csv")
    contacts.add_argument("--db", help="store URL (default: HOMESCOPE_DB or sqlite:///homescope.db)")
    contacts.set_defaults(func=cmd_import_contacts)
