"""The operator's categories for domains the packaged tables do not know (``dpi_domain_rules``).

Two ways in, one table: the unclassified-domains page (``source = "ui"``) and a TOML file for
operators who deploy by file (``HOMESCOPE_DPI_DOMAINS_FILE``, loaded at start and by
``homescope-collector dpi-domains FILE``; ``source = "file"``)::

    # domains the fleet showed unclassified, and what they are
    [domains]
    "example-tv.example" = "video"
    "plug-cloud.example" = "iot"

The file is the truth for the rules it loaded: loading it again replaces them (a domain taken
out of the file loses its rule; one the page set is left alone unless the file names it too).

The fold reads the table through :class:`RuleSnapshot`: one cheap version query per fold pass,
the whole table again only when it changed, so a rule counts from the next report folded on.
"""

from __future__ import annotations

import logging
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.store.sql import Database, Statement
from protocol.categories import CATEGORIES

log = logging.getLogger(__name__)

#: What a rule's domain may be: a registrable domain as agents report it (lower-case labels).
DOMAIN = re.compile(r"^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})+$")
SOURCES = ("ui", "file")
VERSION = "SELECT count(*) AS n, coalesce(max(updated_at), 0) AS at FROM dpi_domain_rules"
UPSERT = (
    "INSERT INTO dpi_domain_rules (domain, category, source, actor, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (domain) DO UPDATE SET category = excluded.category, source = excluded.source,"
    " actor = excluded.actor, updated_at = excluded.updated_at"
)


class RuleError(ValueError):
    """A rule or rules file that cannot be used; the message names the domain, field or line."""


@dataclass(frozen=True)
class DomainRule:
    domain: str
    category: str
    source: str
    actor: str
    updated_at: float


def checked(domain: str, category: str) -> tuple[str, str]:
    """A rule's (domain, category), normalised; :class:`RuleError` naming what is wrong."""
    name = domain.strip().lower().rstrip(".")
    if len(name) > 253 or not DOMAIN.match(name):
        raise RuleError(f"domain {domain[:80]!r} is not a domain name like example.org")
    if category not in CATEGORIES:
        raise RuleError(f"category {category[:40]!r} for {name} is not one of {', '.join(CATEGORIES)}")
    return name, category


async def assign(db: Database, domain: str, category: str, actor: str, source: str = "ui") -> DomainRule:
    """Give ``domain`` the ``category`` (replacing its rule, if any)."""
    name, cat = checked(domain, category)
    if source not in SOURCES:
        raise RuleError(f"source must be one of {SOURCES}")
    now = time.time()
    await db.execute(Statement(UPSERT, (name, cat, source, actor[:100], now)))
    return DomainRule(name, cat, source, actor[:100], now)


async def remove(db: Database, domain: str) -> bool:
    """Drop ``domain``'s rule; whether it had one."""
    done = await db.execute(
        Statement("DELETE FROM dpi_domain_rules WHERE domain = ?", (domain.strip().lower(),))
    )
    return done.rowcount > 0


async def listing(db: Database) -> list[DomainRule]:
    """Every rule, by domain."""
    rows = await db.fetch(
        "SELECT domain, category, source, actor, updated_at FROM dpi_domain_rules ORDER BY domain"
    )
    return [DomainRule(str(r["domain"]), str(r["category"]), str(r["source"]), str(r["actor"]),
                       float(r["updated_at"])) for r in rows]  # fmt: skip


def parse_file(text: str, name: str = "domains file") -> dict[str, str]:
    """The ``[domains]`` table of a rules file; :class:`RuleError` naming the file and the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{name}: {exc}") from exc
    unknown = sorted(set(data) - {"domains"})
    if unknown:
        raise RuleError(f"{name}: unknown table {unknown[0]!r} (only [domains])")
    table = data.get("domains", {})
    if not isinstance(table, dict):
        raise RuleError(f'{name}: domains must be a table of "domain" = "category"')
    out: dict[str, str] = {}
    for domain, category in table.items():
        if not isinstance(category, str):
            raise RuleError(f"{name}: {domain}: the category must be a string")
        try:
            key, cat = checked(domain, category)
        except RuleError as exc:
            raise RuleError(f"{name}: {exc}") from exc
        out[key] = cat
    return out


async def load_file(db: Database, text: str, name: str = "domains file") -> tuple[int, int]:
    """Make the file's rules the table's ``file`` rules, in one transaction: (set, removed)."""
    rules = parse_file(text, name)
    now = time.time()
    current = {
        str(r["domain"]) for r in await db.fetch("SELECT domain FROM dpi_domain_rules WHERE source = 'file'")
    }
    gone = sorted(current - set(rules))
    statements = [
        Statement(UPSERT, [(d, c, "file", name[:100], now) for d, c in sorted(rules.items())], many=True)
    ]
    statements += [
        Statement("DELETE FROM dpi_domain_rules WHERE domain = ? AND source = 'file'", (d,)) for d in gone
    ]
    if rules or gone:
        await db.transaction(statements if rules else statements[1:])
    return len(rules), len(gone)


async def load_path(db: Database, path: str) -> tuple[int, int]:
    """:func:`load_file` of the file at ``path`` (logged); :class:`RuleError` naming it if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read the domains file: {exc}") from exc
    done = await load_file(db, text, path)
    log.info("domain rules from %s: %d set, %d removed", path, *done)
    return done


@dataclass
class RuleSnapshot:
    """The rules as the fold uses them: ``domain -> category``, reloaded when the table changed."""

    categories: dict[str, str] = field(default_factory=dict)
    version: tuple[Any, ...] | None = None

    async def refresh(self, db: Database) -> bool:
        """Reload if the table changed since the last look (one small query when it did not)."""
        row = await db.fetch_one(VERSION)
        version = (int(row["n"]), float(row["at"])) if row else (0, 0.0)
        if version == self.version:
            return False
        rows = await db.fetch("SELECT domain, category FROM dpi_domain_rules")
        self.categories = {str(r["domain"]): str(r["category"]) for r in rows}
        self.version = version
        return True
